import time

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .audit import audit_record
from .models import AuditAction


@receiver(user_logged_in)
def _audit_login(sender, request, user, **kwargs):
    if request is not None:
        request.session["auth_started_at"] = time.time()
    audit_record(action=AuditAction.LOGIN, request=request, user=user, object_type="user", object_id=user.pk)


@receiver(user_logged_out)
def _audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action=AuditAction.LOGOUT, request=request, user=user, object_type="user", object_id=user.pk)


@receiver(user_login_failed)
def _audit_login_failed(sender, credentials, request=None, **kwargs):
    audit_record(
        action=AuditAction.LOGIN_FAILED,
        request=request,
        user=None,
        username=str(credentials.get("username", ""))[:150],
        object_type="user",
    )


@receiver(user_locked_out)
def _audit_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    audit_record(
        action=AuditAction.LOCKOUT, request=request, user=None, username=str(username or "")[:150], object_type="user"
    )
