"""Staff accounts: change your password, reset a forgotten one (Django's views; the mail goes
through EMAIL_BACKEND, the outbox by default), each audited."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse_lazy

from .accounts import StaffPasswordResetForm, account_context
from .audit import audit_record
from .models import AuditAction


class PasswordChange(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(
            action=AuditAction.PASSWORD,
            request=self.request,
            object_type="user",
            object_id=self.request.user.pk,
            summary={"how": "changed by the user"},
        )
        return response


class PasswordReset(auth_views.PasswordResetView):
    form_class = StaffPasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.html"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        users = list(form.get_users(form.cleaned_data["email"]))
        response = super().form_valid(form)
        # The page says the same whether or not the address is known; the trail says who.
        for user in users:
            audit_record(
                action=AuditAction.PASSWORD_RESET,
                request=self.request,
                user=None,
                username=user.get_username(),
                object_type="user",
                object_id=user.pk,
                summary={"link": "sent"},
            )
        return response


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(
            action=AuditAction.PASSWORD,
            request=self.request,
            user=None,
            username=form.user.get_username(),
            object_type="user",
            object_id=form.user.pk,
            summary={"how": "reset link"},
        )
        return response


@login_required
def account(request):
    """The signed-in user's own account: password and second factor."""
    return render(request, "registration/account.html", account_context(request.user))
