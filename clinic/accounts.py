"""Staff accounts: password reset mail, and what a role holds.

Reset mails go through EMAIL_BACKEND like every other mail (the outbox by default) with the
reference ``account``: the outbox page shows that such a mail was sent but not its link, so
an administrator reading the outbox cannot take over the account it was sent for."""

from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.template import loader

from .messaging import REFERENCE_HEADER

ACCOUNT_REFERENCE = "account"


def group_permission_names(group) -> list[str]:
    """The permissions of a role as "app_label.codename"."""
    return [
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list("content_type__app_label", "codename")
    ]


class StaffPasswordResetForm(PasswordResetForm):
    """Django's reset form; its mail carries the account reference (see the module)."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(
            subject, body, from_email, [to_email], headers={REFERENCE_HEADER: ACCOUNT_REFERENCE}
        )
        if html_email_template_name is not None:
            message.attach_alternative(loader.render_to_string(html_email_template_name, context), "text/html")
        message.send()


def staff_password_reset_send(*, user, request) -> None:
    """Mail ``user`` a link to set their password (a new account, or one reset for them)."""
    form = StaffPasswordResetForm({"email": user.email})
    if form.is_valid():
        form.save(
            request=request,
            use_https=request.is_secure(),
            subject_template_name="registration/password_reset_subject.txt",
            email_template_name="registration/password_reset_email.html",
        )


def account_context(user) -> dict:
    return {"account_user": user}
