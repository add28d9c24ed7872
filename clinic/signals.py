from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.sessions.models import Session
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from . import second_factor
from .audit import audit_record
from .models import AuditAction


@receiver(user_logged_in)
def _audit_login(sender, request, user, **kwargs):
    if request is not None:
        request.session["auth_started_at"] = timezone.now().timestamp()
        second_factor.remember_enrolment(request, user)
    audit_record(action=AuditAction.LOGIN, request=request, user=user, object_type="user", object_id=user.pk)


@receiver(user_logged_out)
def _audit_logout(sender, request, user, **kwargs):
    if user is not None:
        reason = getattr(request, "logout_reason", "signed out")
        audit_record(
            action=AuditAction.LOGOUT,
            request=request,
            user=user,
            object_type="user",
            object_id=user.pk,
            summary={"reason": reason},
        )


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


def sessions_end_for(user) -> int:
    """Delete every stored session of ``user``. Sessions are signed blobs, so this decodes the
    unexpired ones: fine for a clinic's staff (hundreds of sessions at most)."""
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk)
    ]
    return Session.objects.filter(pk__in=ended).delete()[0]


@receiver(post_save, sender=get_user_model())
def _end_sessions_of_deactivated_user(sender, instance, created, update_fields=None, **kwargs):
    if created or instance.is_active or (update_fields is not None and "is_active" not in update_fields):
        return
    ended = sessions_end_for(instance)
    if ended:
        audit_record(
            action=AuditAction.LOGOUT,
            actor="system",
            user=instance,
            object_type="user",
            object_id=instance.pk,
            summary={"reason": "account deactivated", "sessions_ended": ended},
        )
