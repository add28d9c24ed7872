"""Staff accounts: change your password, reset a forgotten one (Django's views; the mail goes
through EMAIL_BACKEND, the outbox by default), each audited."""

import segno
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import second_factor
from .accounts import StaffPasswordResetForm, account_context
from .audit import audit_record
from .forms_account import CodeForm, SetupCodeForm
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
    context = {
        **account_context(request.user),
        "has_second_factor": second_factor.has_device(request.user),
        "second_factor_required": second_factor.is_required(request),
    }
    return render(request, "registration/account.html", context)


def _next(request) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    safe = len(wanted) <= 2000 and url_has_allowed_host_and_scheme(
        wanted, {request.get_host()}, require_https=request.is_secure()
    )
    return wanted if wanted and safe else reverse("home")


@never_cache
@login_required
def second_factor_check(request):
    """Sign-in, step two: a code from the authenticator app or a recovery code."""
    if not second_factor.has_device(request.user):
        return redirect(f"{reverse('second-factor-setup')}?{request.GET.urlencode()}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if second_factor.second_factor_verify(user=request.user, request=request, token=form.cleaned_data["code"]):
            return redirect(_next(request))
        form.add_error("code", _("That code is not right (or was used already). Try the code the app shows now."))
    return render(request, "registration/second_factor.html", {"form": form, "next": _next(request)})


@never_cache
@login_required
def second_factor_setup(request):
    """Set up an authenticator app (or replace it, from a verified session): scan the QR code,
    type the code it shows; the recovery codes are shown once."""
    if second_factor.has_device(request.user) and not second_factor.is_verified(request):
        return redirect(f"{reverse('second-factor')}?{request.GET.urlencode()}")
    form = SetupCodeForm(request.POST or None)
    key = second_factor.pending_key(request)
    if request.method == "POST" and form.is_valid():
        codes = second_factor.second_factor_enrol(user=request.user, request=request, token=form.cleaned_data["code"])
        if codes is not None:
            context = {"codes": codes, "next": _next(request)}
            return render(request, "registration/second_factor_codes.html", context)
        form.add_error("code", _("That code does not match. Check the app's clock and type the code it shows now."))
    url = second_factor.config_url(key, request.user.get_username())
    context = {
        "form": form,
        "qr": segno.make(url, error="m").svg_data_uri(scale=5),
        "secret": second_factor.secret_text(key),
        "next": _next(request),
    }
    return render(request, "registration/second_factor_setup.html", context)


@never_cache
@login_required
@require_POST
def recovery_codes(request):
    """New recovery codes (the old ones stop working), from a verified session."""
    if not (second_factor.has_device(request.user) and second_factor.is_verified(request)):
        messages.error(request, _("Sign in with your second factor first."))
        return redirect("account")
    codes = second_factor.recovery_codes_issue(user=request.user, request=request)
    return render(request, "registration/second_factor_codes.html", {"codes": codes, "next": reverse("account")})
