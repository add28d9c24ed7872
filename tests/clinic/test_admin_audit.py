"""Every change made through the Django admin is a row in the audit trail's hash chain, with
the values before and after; nobody gives a role, a permission or superuser status they do
not hold."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from clinic.audit import audit_chain_verify
from clinic.models import AuditEvent, Chair, OutboxMessage
from monitoring.models import ClinicalThresholds
from scheduling.models import Protocol
from tests import factories
from tests.clinic.admin_helpers import admin_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return factories.make_user("root", is_superuser=True, is_staff=True)


def _change(client, model_url: str, pk, **changes):
    url = reverse(f"admin:{model_url}_change", args=[pk])
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, admin_form_data(page, **changes))


def test_a_threshold_change_is_audited_with_old_and_new_value(client_for, administrator):
    thresholds = ClinicalThresholds.current()
    old = thresholds.predose_systolic_max
    client = client_for(administrator)
    response = _change(client, "monitoring_clinicalthresholds", thresholds.pk, predose_systolic_max=str(old + 10))
    assert response.status_code == 302
    event = AuditEvent.objects.get(object_type="clinicalthresholds", action="update")
    assert event.username == "administrator"
    assert event.summary["changes"] == {"predose_systolic_max": [old, old + 10]}
    assert audit_chain_verify().intact
    report = client.get(reverse("clinic:audit"), {"object_type": "clinicalthresholds"}).content.decode()
    assert f"Pre-dose systolic limit (mmHg): {old + 10} (was {old})" in report


def test_a_protocol_and_its_phase_changes_are_audited(client_for, administrator):
    protocol = Protocol.objects.get(slug="esketamine-trd")
    phase = protocol.phases.order_by("order").first()
    client = client_for(administrator)
    response = _change(
        client,
        "scheduling_protocol",
        protocol.pk,
        indication="Changed indication",
        **{"phases-0-default_dose_mg": "84"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    protocol_row = AuditEvent.objects.get(object_type="protocol", action="update")
    assert protocol_row.summary["changes"]["indication"][1] == "Changed indication"
    phase_row = AuditEvent.objects.get(object_type="protocolphase", action="update")
    assert phase_row.object_id == str(phase.pk)
    assert phase_row.summary["changes"]["default_dose_mg"][1] in ("84", "84.0", 84)


def test_adding_and_deleting_a_chair_are_audited(client_for, administrator, site):
    client = client_for(administrator)
    page = client.get(reverse("admin:clinic_chair_add"))
    response = client.post(
        reverse("admin:clinic_chair_add"), admin_form_data(page, site=str(site.pk), name="Chair 99", active="on")
    )
    assert response.status_code == 302
    chair = Chair.objects.get(name="Chair 99")
    created = AuditEvent.objects.get(object_type="chair", action="create")
    assert created.summary["changes"]["name"] == [None, "Chair 99"]
    response = client.post(reverse("admin:clinic_chair_delete", args=[chair.pk]), {"post": "yes"})
    assert response.status_code == 302
    deleted = AuditEvent.objects.get(object_type="chair", action="delete")
    assert deleted.object_id == str(chair.pk)
    assert deleted.summary["changes"]["name"] == ["Chair 99", None]


def test_a_role_change_and_a_password_set_by_a_superuser_are_audited_without_the_hash(client_for, superuser, nurse):
    client = client_for(superuser)
    prescriber_role = Group.objects.get(name="Prescriber")
    response = _change(
        client, "auth_user", nurse.pk, groups=[str(g.pk) for g in nurse.groups.all()] + [str(prescriber_role.pk)]
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(object_type="user", action="update", object_id=str(nurse.pk))
    assert event.summary["changes"]["groups"] == [["Nurse"], ["Nurse", "Prescriber"]]
    url = reverse("admin:auth_user_password_change", args=[nurse.pk])
    new_password = "a-new-long-passphrase-77"  # noqa: S105
    response = client.post(url, {"password1": new_password, "password2": new_password, "usable_password": "true"})
    assert response.status_code == 302
    nurse.refresh_from_db()
    password_row = AuditEvent.objects.filter(object_type="user", action="update").latest("id")
    assert password_row.summary["changes"] == {"password": ["(hidden)", "(hidden)"]}
    every_summary = str(list(AuditEvent.objects.values_list("summary", flat=True)))
    assert nurse.password not in every_summary
    assert new_password not in every_summary


# --- No self-escalation ----------------------------------------------------------------


def test_an_administrator_cannot_make_themselves_superuser_or_change_their_roles(client_for, administrator):
    client = client_for(administrator)
    prescriber_role = Group.objects.get(name="Prescriber")
    response = _change(
        client,
        "auth_user",
        administrator.pk,
        is_superuser="on",
        is_staff="on",
        groups=[str(prescriber_role.pk)],
        first_name="Alexa",
    )
    assert response.status_code == 302
    administrator.refresh_from_db()
    assert not administrator.is_superuser
    assert list(administrator.groups.values_list("name", flat=True)) == ["Administrator"]
    assert administrator.first_name == "Alexa"


def test_an_administrator_cannot_give_a_role_they_do_not_hold(client_for, administrator, scheduler):
    client = client_for(administrator)
    prescriber_role = Group.objects.get(name="Prescriber")
    response = _change(client, "auth_user", scheduler.pk, groups=[str(prescriber_role.pk)], is_superuser="on")
    assert response.status_code == 200
    assert "You cannot give the role Prescriber" in response.content.decode()
    scheduler.refresh_from_db()
    assert list(scheduler.groups.values_list("name", flat=True)) == ["Scheduler"]
    assert not scheduler.is_superuser
    assert not AuditEvent.objects.filter(object_type="user", action="update").exists()


def test_an_administrator_may_give_a_role_within_their_own_permissions(client_for, administrator):
    newcomer = factories.make_user("newcomer")
    client = client_for(administrator)
    scheduler_role = Group.objects.get(name="Scheduler")
    response = _change(client, "auth_user", newcomer.pk, groups=[str(scheduler_role.pk)])
    assert response.status_code == 302
    assert list(newcomer.groups.values_list("name", flat=True)) == ["Scheduler"]
    assert AuditEvent.objects.get(object_type="user", action="update").summary["changes"]["groups"] == [
        [],
        ["Scheduler"],
    ]


def test_an_administrator_cannot_set_another_users_password(client_for, administrator, nurse):
    before = User.objects.get(pk=nurse.pk).password
    url = reverse("admin:auth_user_password_change", args=[nurse.pk])
    client = client_for(administrator)
    assert client.get(url).status_code == 403
    response = client.post(url, {"password1": "x-long-pass-phrase-1", "password2": "x-long-pass-phrase-1"})
    assert response.status_code == 403
    assert User.objects.get(pk=nurse.pk).password == before


def test_an_administrator_cannot_change_a_superuser_or_the_roles_themselves(client_for, administrator, superuser):
    client = client_for(administrator)
    url = reverse("admin:auth_user_change", args=[superuser.pk])
    response = client.post(url, {"username": "root", "is_active": ""})
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.is_active
    role = Group.objects.get(name="Administrator")
    response = client.post(reverse("admin:auth_group_change", args=[role.pk]), {"name": "Administrator"})
    assert response.status_code == 403


def test_a_prescriber_only_act_stays_prescriber_only_for_an_administrator(client_for, administrator):
    client = client_for(administrator)
    prescriber_role = Group.objects.get(name="Prescriber")
    _change(client, "auth_user", administrator.pk, groups=[str(prescriber_role.pk)], is_superuser="on")
    response = client.post(reverse("monitoring:predose-override", args=[1]), {"reason": "I say so"})
    assert response.status_code == 403


def test_a_new_account_made_by_an_administrator_gets_a_reset_link_not_a_typed_password(
    client_for, administrator, settings
):
    settings.EMAIL_BACKEND = "clinic.messaging.OutboxEmailBackend"
    client = client_for(administrator)
    response = client.post(
        reverse("admin:auth_user_add"),
        {"username": "newnurse", "first_name": "New", "last_name": "Nurse", "email": "new.nurse@clinic.example"},
    )
    assert response.status_code == 302
    user = User.objects.get(username="newnurse")
    assert not user.groups.exists() and not user.is_superuser
    mail = OutboxMessage.objects.get(to="new.nurse@clinic.example")
    assert "/accounts/reset/" in mail.body
    assert mail.reference == "account"
    assert AuditEvent.objects.get(object_type="user", action="create").summary["changes"]["username"] == [
        None,
        "newnurse",
    ]
    outbox = client.get(reverse("clinic:outbox")).content.decode()
    assert "/accounts/reset/" not in outbox
    assert "password link not shown here" in outbox


def test_a_superuser_without_the_prescriber_role_cannot_override(client_for, superuser, prescriber, site, patient):
    import datetime as dt

    from django.utils import timezone

    from scheduling.models import Session

    start = timezone.now().replace(microsecond=0)
    end = start + dt.timedelta(hours=2)
    session = Session.objects.create(
        patient=patient, chair=site.chairs.first(), start=start, planned_end=end, planned_dose_mg=56
    )
    url = reverse("monitoring:predose-override", args=[session.pk])
    assert client_for(superuser).post(url, {"reason": "IT says so"}).status_code == 403
    assert client_for(superuser).post(reverse("monitoring:check-in", args=[session.pk]), {}).status_code == 403
    assert client_for(prescriber).post(url, {"reason": "Reviewed"}).status_code != 403


def test_an_administrator_sends_a_reset_link_instead_of_setting_a_password(client_for, administrator, nurse, settings):
    settings.EMAIL_BACKEND = "clinic.messaging.OutboxEmailBackend"
    nurse.email = "nora@clinic.example"
    nurse.save()
    response = client_for(administrator).post(
        reverse("admin:auth_user_changelist"), {"action": "send_password_reset", "_selected_action": [nurse.pk]}
    )
    assert response.status_code == 302
    mail = OutboxMessage.objects.get(to="nora@clinic.example")
    assert "/accounts/reset/" in mail.body and mail.reference == "account"
    event = AuditEvent.objects.get(action="password_reset")
    assert (event.username, event.object_id) == ("administrator", str(nurse.pk))


def test_every_model_in_the_admin_is_audited():
    from django.contrib import admin

    from clinic.admin_site import AuditedAdminMixin, ClinicAdminSite

    assert isinstance(admin.site, ClinicAdminSite)
    assert admin.site._registry
    not_audited = [m._meta.label for m, ma in admin.site._registry.items() if not isinstance(ma, AuditedAdminMixin)]
    assert not_audited == []
