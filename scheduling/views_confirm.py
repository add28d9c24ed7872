"""The patient's confirmation link (``/c/<token>/``): no login, phone-sized, shows the clinic,
day and time only. The patient confirms they are coming and who drives them home.

Every request re-checks the session: a tampered link, a cancelled session or one that has
started gets a friendly page and changes nothing. Requests are counted per address and link
(Django's cache) so the endpoint cannot be used to guess links."""

import hashlib

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from clinic import rules as clinic_rules
from clinic.audit import audit_record, client_ip
from clinic.formats import when
from clinic.forms import VisibleTextMixin
from clinic.models import AuditAction

from . import selectors, services
from .models import TransportArrangement

RATE_WINDOW_SECONDS = 600


class RideForm(VisibleTextMixin, forms.Form):
    name = forms.CharField(label=_("Who is driving you home?"), max_length=120, required=False)
    phone = forms.CharField(label=_("Their phone number"), max_length=32, required=False)

    error_messages = {
        "name_required": _("Please tell us the name of the person driving you home."),
        "phone_required": _("Please give us their phone number."),
    }

    def __init__(self, *args, transport: TransportArrangement | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.transport = transport
        self.fields["name"].widget.attrs.update({"autocomplete": "name"})
        self.fields["phone"].widget.attrs.update({"autocomplete": "tel", "inputmode": "tel"})

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        return clinic_rules.normalise_phone(phone, settings.PHONE_DEFAULT_REGION) if phone else ""

    def clean(self):
        data = super().clean()
        known_name = bool(self.transport and self.transport.name)
        known_phone = bool(self.transport and self.transport.phone)
        if not data.get("name", "").strip() and not known_name:
            self.add_error("name", ValidationError(self.error_messages["name_required"], code="name_required"))
        if not data.get("phone") and not known_phone and "phone" not in self.errors:
            self.add_error("phone", ValidationError(self.error_messages["phone_required"], code="phone_required"))
        data["name"] = data.get("name", "").strip()
        return data


def _rate_limited(request, token: str) -> bool:
    """True when this address has used this link (or links in general) too often lately."""
    ip = client_ip(request) or "unknown"
    keys = (
        (f"confirm-rl:{hashlib.sha256(f'{ip}|{token}'.encode()).hexdigest()}", settings.CONFIRM_RATE_LIMIT),
        (f"confirm-rl-ip:{hashlib.sha256(ip.encode()).hexdigest()}", settings.CONFIRM_RATE_LIMIT * 5),
    )
    limited = False
    for key, limit in keys:
        cache.add(key, 0, RATE_WINDOW_SECONDS)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, RATE_WINDOW_SECONDS)
            count = 1
        limited = limited or count > limit
    return limited


def _appointment(session) -> dict:
    local = session.local_start()
    return {
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": session.chair.site.phone or settings.CLINIC_PHONE,
        "day": when(local, "long_date"),
        "time": when(local, "time"),
    }


def _unavailable(request, reason: str, status: int):
    context = {"reason": reason, "clinic_name": settings.CLINIC_NAME, "clinic_phone": settings.CLINIC_PHONE}
    return render(request, "scheduling/confirm_unavailable.html", context, status=status)


def _session_for(request, token):
    """(session, None) for a link that may act, else (None, the friendly refusal page)."""
    if _rate_limited(request, token):
        return None, _unavailable(request, "busy", 429)
    session, problem = selectors.confirm_session_for_token(token)
    if session is None:
        return None, _unavailable(request, problem, 404 if problem == "invalid" else 410)
    return session, None


@never_cache
@require_http_methods(["GET", "POST"])
def confirm_session(request, token):
    session, refusal = _session_for(request, token)
    if refusal:
        return refusal
    transport = TransportArrangement.objects.filter(session=session).first()
    form = RideForm(request.POST or None, transport=transport)
    if request.method == "POST" and form.is_valid():
        services.transport_confirm_by_patient(
            session=session, name=form.cleaned_data["name"], phone=form.cleaned_data["phone"], request=request
        )
        return redirect("confirm:done", token=token)
    context = {
        **_appointment(session),
        "form": form,
        "transport": transport,
        "driver_phone_end": transport.phone[-4:] if transport and transport.phone else "",
    }
    response = render(request, "scheduling/confirm.html", context)
    audit_record(action=AuditAction.VIEW, request=request, actor="patient", obj=session, summary={"page": "confirm"})
    return response


@never_cache
@require_http_methods(["GET"])
def confirm_done(request, token):
    session, refusal = _session_for(request, token)
    if refusal:
        return refusal
    transport = TransportArrangement.objects.filter(session=session).first()
    if transport is None or transport.status != TransportArrangement.Status.CONFIRMED_PATIENT:
        return redirect("confirm:session", token=token)
    response = render(request, "scheduling/confirm_done.html", {**_appointment(session), "driver_name": transport.name})
    audit_record(
        action=AuditAction.VIEW, request=request, actor="patient", obj=session, summary={"page": "confirm-done"}
    )
    return response
