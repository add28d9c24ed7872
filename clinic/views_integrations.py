"""Integrations (/integrations/): the tokens other systems use to read the FHIR export and the
calendar feeds, created and revoked by an administrator. A new token is shown once."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import services_integrations as services
from .audit import audit_record
from .forms_integrations import IntegrationTokenForm
from .models import AuditAction
from .models_integrations import IntegrationToken

# The secret of a token just created, kept in the staff member's session until the page after
# the redirect shows it (once: it is taken out as it is shown).
NEW_TOKEN_KEY = "integrations:new-token"  # noqa: S105 (a session key, not a secret)


@never_cache
@login_required
@permission_required("clinic.manage_integrations", raise_exception=True)
@require_http_methods(["GET", "POST"])
def integrations(request):
    form = IntegrationTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        token, secret = services.integration_token_create(
            name=data["name"], purpose=data["purpose"], site=data["site"], user=request.user, request=request
        )
        request.session[NEW_TOKEN_KEY] = {"pk": token.pk, "secret": secret}
        return redirect("clinic:integrations")
    tokens = list(IntegrationToken.objects.select_related("site", "created_by", "revoked_by"))
    created = None
    if request.method == "GET":
        new = request.session.pop(NEW_TOKEN_KEY, None)
        token = next((t for t in tokens if new and t.pk == new.get("pk")), None)
        created = {"token": token, "secret": new["secret"]} if token else None
        audit_record(action=AuditAction.VIEW, request=request, object_type="integrations")
    return render(request, "integrations/tokens.html", {"form": form, "tokens": tokens, "created": created})


@login_required
@require_POST
@permission_required("clinic.manage_integrations", raise_exception=True)
def integration_revoke(request, pk):
    token = get_object_or_404(IntegrationToken, pk=pk)
    if services.integration_token_revoke(token=token, user=request.user, request=request):
        messages.success(request, _("The token of %(name)s is revoked: it no longer works.") % {"name": token.name})
    else:
        messages.info(request, _("This token was already revoked."))
    return redirect("clinic:integrations")
