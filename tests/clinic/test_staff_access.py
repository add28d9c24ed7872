"""The staff backend reads a user's role and permissions in one query, and a change to
either applies from the next request."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from clinic.roles import NURSE, user_role

User = get_user_model()


def fresh(user):
    return User.objects.get(pk=user.pk)  # a new request loads the user again


def test_role_and_permissions_in_one_query(nurse, django_assert_num_queries):
    user = fresh(nurse)
    with django_assert_num_queries(1):
        assert user.has_perm("monitoring.record_vitals")
        assert not user.has_perm("clinic.view_auditevent")
        assert user_role(user) == NURSE
        assert user.has_perms(["monitoring.view_board", "clinic.view_patient"])


def test_role_change_applies_to_the_next_request(administrator, client):
    client.force_login(administrator)
    assert client.get("/audit/").status_code == 200
    administrator.groups.set([Group.objects.get(name=NURSE)])
    assert client.get("/audit/").status_code == 403
    assert user_role(fresh(administrator)) == NURSE


def test_permission_given_to_the_user_directly(scheduler):
    perm = Permission.objects.get(content_type__app_label="clinic", codename="view_auditevent")
    assert not fresh(scheduler).has_perm("clinic.view_auditevent")
    scheduler.user_permissions.add(perm)
    assert fresh(scheduler).has_perm("clinic.view_auditevent")
    assert "clinic.view_auditevent" in fresh(scheduler).get_all_permissions()


def test_inactive_user_has_no_permissions(inactive_user):
    user = fresh(inactive_user)
    assert not user.has_perm("monitoring.record_vitals")
    assert user.get_all_permissions() == set()


def test_superuser_has_every_permission(db):
    root = User.objects.create_superuser("root", "root@example.org", "x")
    assert fresh(root).has_perm("clinic.view_auditevent")
    assert len(fresh(root).get_all_permissions()) == Permission.objects.count()


def test_the_signed_in_user_comes_with_role_permissions_and_alerts_in_one_statement(
    nurse, inactive_user, django_assert_num_queries
):
    from django.contrib.auth import get_user

    from clinic.auth import StaffBackend, staff_access
    from clinic.models import StaffAlert

    perm = Permission.objects.get(content_type__app_label="clinic", codename="view_auditevent")
    nurse.user_permissions.add(perm)  # one of their own, besides their group's
    StaffAlert.objects.create(kind="test", audience="nurse", message="m", dedupe_key="open")
    with django_assert_num_queries(1):
        user = StaffBackend().get_user(nurse.pk)
        assert user.has_perm("monitoring.record_vitals") and user.has_perm("clinic.view_auditevent")
        assert user_role(user) == NURSE
        assert staff_access(user).open_alerts == {"nurse": 1}
    # What the request's user holds is what staff_access reads for a user loaded any other way.
    assert staff_access(user) == staff_access(fresh(nurse))
    assert (user.pk, user.username, user.password) == (nurse.pk, nurse.username, nurse.password)
    assert user.last_login == fresh(nurse).last_login
    assert StaffBackend().get_user(inactive_user.pk) is None
    assert StaffBackend().get_user(10**9) is None

    class Request:  # a signed-in session, as the authentication middleware reads it
        session = {
            "_auth_user_id": str(nurse.pk),
            "_auth_user_backend": "clinic.auth.StaffBackend",
            "_auth_user_hash": nurse.get_session_auth_hash(),
        }

    assert get_user(Request()).pk == nurse.pk
