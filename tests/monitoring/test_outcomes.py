"""Outcome scores through the pages: the patient's questionnaire on the signed link, the item-9
alert and dosing wait, the clinician's rating, the course trend, eligibility with its override,
and the outcomes report."""

import datetime as dt
import functools
import html

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinic.models import AuditEvent, StaffAlert
from monitoring import services, services_outcomes
from monitoring.models import (
    AntidepressantTrial,
    EligibilityOverride,
    OutcomePlan,
    OutcomeScore,
    PrescriberOverride,
    SafetyReview,
)
from monitoring.rules_outcomes import SAFETY_BLOCK
from scheduling import services as scheduling_services
from scheduling.links import confirm_token
from scheduling.models import Protocol
from tests import factories

from .conftest import CHECKLIST_ALL, DAY_START, NORMAL

pytestmark = pytest.mark.django_db
BEFORE = DAY_START - dt.timedelta(hours=20)


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


def questions_url(session):
    return reverse("monitoring:questionnaire", args=[confirm_token(session.pk)])


def answers_post(phq9=(1,) * 9, gad7=(0,) * 7, functional="1"):
    data = {f"phq9-item_{n}": str(v) for n, v in enumerate(phq9, start=1)}
    data.update({f"gad7-item_{n}": str(v) for n, v in enumerate(gad7, start=1)})
    data["phq9-functional"] = functional
    return data


def day_url(session, name="session-day", **kw):
    return reverse(f"monitoring:{name}", kwargs={"pk": session.pk, **kw})


# --- The patient's questionnaire -----------------------------------------------------------


@time_machine.travel(BEFORE, tick=False)
def test_the_patient_answers_on_the_signed_link_once_per_session(client, session):
    page = client.get(questions_url(session))
    assert page.status_code == 200
    assert "Little interest or pleasure in doing things" in page.content.decode()
    response = client.post(questions_url(session), answers_post(phq9=(2, 2, 1, 1, 1, 0, 0, 0, 0)))
    assert response.status_code == 302 and response["Location"].endswith("/questions/done/")
    phq9 = OutcomeScore.objects.get(session=session, instrument="phq9")
    assert (phq9.total, phq9.functional, phq9.source, phq9.version, phq9.safety_positive) == (7, 1, "patient", 1, False)
    assert OutcomeScore.objects.get(session=session, instrument="gad7").total == 0
    # Changed before the session: the same rows, a new version.
    client.post(questions_url(session), answers_post(phq9=(3,) * 8 + (0,)))
    assert OutcomeScore.objects.filter(session=session).count() == 2
    phq9.refresh_from_db()
    assert (phq9.total, phq9.version) == (24, 2)
    assert AuditEvent.objects.filter(object_type="outcomescore", actor="patient").count() == 4
    assert client.get(reverse("monitoring:questionnaire-done", args=[confirm_token(session.pk)])).status_code == 200


@time_machine.travel(BEFORE, tick=False)
def test_a_missing_answer_is_shown_beside_its_question_and_nothing_is_saved(client, session):
    data = answers_post()
    del data["phq9-item_4"]
    response = client.post(questions_url(session), data)
    assert response.status_code == 200
    assert 'id="id_phq9-item_4-error"' in response.content.decode() or "Choose an answer." in response.content.decode()
    assert not OutcomeScore.objects.exists()


@time_machine.travel(BEFORE, tick=False)
@pytest.mark.parametrize(
    "value", ["4", "-1", "99999999999999999999", "abc", "", "1\u202e", "x" * 100_000, "\x00", "2.5"]
)
@pytest.mark.parametrize("field", ["phq9-item_9", "gad7-item_1", "phq9-functional"])
def test_bad_answers_are_refused_without_a_write(client, session, field, value):
    if field == "phq9-functional" and value == "":
        return  # the difficulty question may be left unanswered
    response = client.post(questions_url(session), answers_post() | {field: value})
    assert response.status_code == 200
    assert not OutcomeScore.objects.exists()


def test_answers_cannot_change_once_the_session_has_started(client, session):
    with time_machine.travel(BEFORE, tick=False):
        client.post(questions_url(session), answers_post())
    with time_machine.travel(DAY_START + dt.timedelta(minutes=1), tick=False):
        response = client.post(questions_url(session), answers_post(phq9=(3,) * 9))
    assert response.status_code == 410
    assert OutcomeScore.objects.get(session=session, instrument="phq9").total == 9


def test_a_tampered_link_shows_nothing(client, session):
    token = confirm_token(session.pk)
    response = client.get(reverse("monitoring:questionnaire", args=[token[:-2] + "xx"]))
    assert response.status_code == 404


# --- Safety first ------------------------------------------------------------------------


def _check_in_with_vitals(session, nurse):
    with time_machine.travel(DAY_START, tick=False):
        services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)


def test_item_9_alerts_the_site_and_holds_dosing_until_a_prescriber_acknowledges(
    client, client_for, session, nurse, prescriber
):
    with time_machine.travel(BEFORE, tick=False):
        client.post(questions_url(session), answers_post(phq9=(1,) * 8 + (2,)))
    alert = StaffAlert.objects.get(kind=services_outcomes.SAFETY_ALERT)
    assert (alert.severity, alert.audience, alert.site_id, alert.session_id) == (
        "critical",
        "nurse",
        session.chair.site_id,
        session.pk,
    )
    _check_in_with_vitals(session, nurse)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=5), tick=False):
        page = client_for(nurse).get(day_url(session)).content.decode()
        assert page.index('id="safety-item"') < page.index('id="check-in"')
        assert SAFETY_BLOCK in page
        assert services.dosing_blocks(session) == [SAFETY_BLOCK]
        with pytest.raises(ValidationError):
            services.dose_record(session=session, user=nurse, dose_mg=56, lot_number="LOT42")
        # A pre-dose override cannot lift it: refused, with the way that does; a nurse may not acknowledge it.
        assert "Override and allow dosing" not in client_for(prescriber).get(day_url(session)).content.decode()
        with pytest.raises(ValidationError) as refused:
            services.predose_override(session=session, user=prescriber, reason="Vitals fine")
        assert refused.value.code == "safety_only"
        response = client_for(prescriber).post(day_url(session, "predose-override"), {"reason": "Vitals fine"})
        assert response.status_code == 200
        assert services.PREDOSE_OVERRIDE_SAFETY_ONLY in html.unescape(response.content.decode())
        assert not PrescriberOverride.objects.exists()
        assert services.dosing_blocks(session) == [SAFETY_BLOCK]
        score = OutcomeScore.objects.get(session=session, instrument="phq9")
        ack = day_url(session, "safety-acknowledge", score_pk=score.pk)
        assert client_for(nurse).post(ack, {"note": "Seen"}).status_code == 403
        # A note is required.
        response = client_for(prescriber).post(ack, {"note": ""})
        assert response.status_code == 400 and not SafetyReview.objects.exists()
        response = client_for(prescriber).post(ack, {"note": "Risk assessed: passive thoughts, no plan. Safety plan."})
        assert response.status_code == 302
        assert SafetyReview.objects.get(score=score).prescriber == prescriber
        alert.refresh_from_db()
        assert alert.acknowledged_by == prescriber
        assert AuditEvent.objects.filter(object_type="safetyreview", user=prescriber).exists()
        assert services.dosing_blocks(session) == []
        services.dose_record(session=session, user=nurse, dose_mg=56, lot_number="LOT42")


def test_an_override_of_a_high_bp_leaves_the_item_9_wait(client, client_for, session, nurse, prescriber):
    with time_machine.travel(BEFORE, tick=False):
        client.post(questions_url(session), answers_post(phq9=(1,) * 8 + (1,)))
    with time_machine.travel(DAY_START, tick=False):
        services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        services.vitals_record(session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": 150})
        blocks = services.dosing_blocks(session)
        assert blocks[0] == SAFETY_BLOCK and len(blocks) == 2
        response = client_for(prescriber).post(day_url(session, "predose-override"), {"reason": "Repeat BP 138/88"})
        assert response.status_code == 302
        override = PrescriberOverride.objects.get(session=session)
        assert override.blocks == blocks[1:]  # the blood pressure only
        assert services.dosing_blocks(session) == [SAFETY_BLOCK]
        page = client_for(prescriber).get(response["Location"]).content.decode()
        assert "Override recorded. Dosing still waits" in page
        score = OutcomeScore.objects.get(session=session, instrument="phq9")
        services_outcomes.safety_acknowledge(score=score, user=prescriber, note="Risk assessed, no plan")
        assert services.dosing_blocks(session) == []


def test_changed_answers_need_a_new_acknowledgement(client, session, prescriber):
    with time_machine.travel(BEFORE, tick=False):
        client.post(questions_url(session), answers_post(phq9=(1,) * 8 + (1,)))
        score = OutcomeScore.objects.get(session=session, instrument="phq9")
        services_outcomes.safety_acknowledge(score=score, user=prescriber, note="Called the patient")
        assert services.dosing_blocks(session)[:1] != [SAFETY_BLOCK]
        client.post(questions_url(session), answers_post(phq9=(1,) * 8 + (3,)))
        assert services.dosing_blocks(session)[0] == SAFETY_BLOCK
        assert StaffAlert.objects.filter(kind=services_outcomes.SAFETY_ALERT).count() == 2


# --- Clinician ratings ----------------------------------------------------------------------


def madrs_post(values=(4,) * 10):
    data = {f"madrs-item_{n}": str(v) for n, v in enumerate(values, start=1)}
    data["instrument"] = "madrs"
    return data


def test_a_clinician_rates_madrs_on_the_session_day(client_for, session, nurse, scheduler):
    with time_machine.travel(DAY_START, tick=False):
        page = client_for(nurse).get(day_url(session)).content.decode()
        assert "MADRS due" in page and "Baseline" in page
        assert client_for(scheduler).post(day_url(session, "rating-record"), madrs_post()).status_code == 403
        bad = client_for(nurse).post(day_url(session, "rating-record"), madrs_post(values=(4,) * 9 + (9,)))
        assert bad.status_code == 400 and not OutcomeScore.objects.exists()
        response = client_for(nurse).post(day_url(session, "rating-record"), madrs_post())
        assert response.status_code == 302
    score = OutcomeScore.objects.get(session=session)
    assert (score.instrument, score.total, score.source, score.recorded_by) == ("madrs", 40, "clinician", nurse)
    with time_machine.travel(DAY_START, tick=False):
        page = client_for(nurse).get(day_url(session)).content.decode()
    assert "Severe" in page
    assert AuditEvent.objects.filter(object_type="outcome_scores", summary__page="session-day").exists()


# --- The course page trend -------------------------------------------------------------------


def test_the_course_page_shows_the_trend_and_the_status_in_words(client_for, make_session, patient, nurse):
    first = make_session(patient, start=DAY_START)
    later = make_session(patient, start=DAY_START + dt.timedelta(days=24))
    services_outcomes.rating_record(session=first, user=nurse, instrument="madrs", answers=[4] * 8 + [1, 1])
    services_outcomes.rating_record(session=later, user=nurse, instrument="madrs", answers=[2] * 7 + [1, 0, 0])
    response = client_for(nurse).get(first.course.get_absolute_url())
    text = response.content.decode()
    assert "Response at week 4: MADRS 34 -&gt; 15, -56%" in text
    assert "<svg" in text and "Remission ≤ 10" in text
    assert AuditEvent.objects.filter(object_type="outcome_scores", summary__page="course").exists()


# --- Eligibility ---------------------------------------------------------------------------------


def _trd():
    return Protocol.objects.get(slug="esketamine-trd")


def _add_history(patient, user, current=True):
    for drug, outcome in (("Sertraline", "no_response"), ("Venlafaxine", "partial")):
        services_outcomes.trial_add(
            patient=patient, user=user, drug=drug, dose="full", adequate_dose=True, weeks=8, outcome=outcome
        )
    if current:
        services_outcomes.trial_add(
            patient=patient,
            user=user,
            drug="Escitalopram",
            dose="20 mg",
            adequate_dose=True,
            weeks=2,
            outcome="current",
        )


def test_a_trd_course_is_refused_without_two_failed_trials_and_a_current_antidepressant(patient, prescriber):
    assert OutcomePlan.objects.get(protocol=_trd()).requires_trd_eligibility
    with pytest.raises(ValidationError) as exc:
        scheduling_services.check_patient(patient=patient, protocol=_trd())
    assert exc.value.code == "course_refused"
    assert "0 adequate antidepressant trials" in exc.value.messages[0]
    _add_history(patient, prescriber, current=False)
    with pytest.raises(ValidationError) as exc:
        scheduling_services.check_patient(patient=patient, protocol=_trd())
    assert "no current oral antidepressant" in exc.value.messages[0]
    services_outcomes.trial_add(
        patient=patient,
        user=prescriber,
        drug="Escitalopram",
        dose="20 mg",
        adequate_dose=True,
        weeks=2,
        outcome="current",
    )
    scheduling_services.check_patient(patient=patient, protocol=_trd())
    # The suicidal-ideation protocol has no such check.
    scheduling_services.check_patient(
        patient=factories.make_patient(site=patient.site), protocol=Protocol.objects.get(slug="esketamine-mdsi")
    )


def test_the_wizard_shows_the_refusal(client_for, patient, scheduler, site):
    from tests.scheduling.booking_helpers import setup_data, wizard_url

    response = client_for(scheduler).post(wizard_url(patient), setup_data(site, slug="esketamine-trd"))
    assert response.status_code == 200
    assert "cannot start Esketamine: treatment-resistant depression" in response.content.decode()


def test_a_prescriber_overrides_with_a_written_reason(client_for, patient, prescriber, nurse):
    url = reverse("monitoring:eligibility-override", args=[patient.pk])
    data = {"protocol": _trd().pk, "reason": "Two trials abroad, records requested"}
    assert client_for(nurse).post(url, data).status_code == 403
    assert client_for(prescriber).post(url, {**data, "reason": ""}).status_code == 400
    assert not EligibilityOverride.objects.exists()
    assert client_for(prescriber).post(url, data).status_code == 302
    override = EligibilityOverride.objects.get()
    assert override.prescriber == prescriber and len(override.reasons) == 2
    assert AuditEvent.objects.filter(object_type="eligibilityoverride", user=prescriber).exists()
    scheduling_services.check_patient(patient=patient, protocol=_trd())


def test_the_history_page_adds_a_trial(client_for, patient, nurse):
    url = reverse("monitoring:patient-history", args=[patient.pk])
    assert client_for(nurse).get(url).status_code == 200
    bad = client_for(nurse).post(url, {"drug": "Sertraline", "dose": "100 mg", "weeks": "-1", "outcome": "no_response"})
    assert bad.status_code == 400 and not AntidepressantTrial.objects.exists()
    response = client_for(nurse).post(
        url, {"drug": "Sertraline", "dose": "100 mg", "adequate_dose": "on", "weeks": "8", "outcome": "no_response"}
    )
    assert response.status_code == 302
    assert AntidepressantTrial.objects.get(patient=patient).weeks == 8


# --- The outcomes report ------------------------------------------------------------------------


def test_the_report_gives_rates_from_known_data(
    client_for, make_session_, site, nurse, administrator, django_assert_max_num_queries
):
    """Three courses: one responds and remits by week 4, one responds only, one has no week-4
    score (missing). At week 8 only the first has a score."""
    plans = [((34, 8), (10, 30)), ((30, 24), (14, None)), ((28, None), (None, None))]
    chairs = list(site.chairs.all())
    for index, ((base, wk4), (wk8, _)) in enumerate(plans):
        patient = factories.make_patient(site=site)
        make_session = functools.partial(make_session_, chair=chairs[index])
        first = make_session(patient, start=DAY_START)
        services_outcomes.rating_record(session=first, user=nurse, instrument="madrs", answers=_madrs(base))
        if wk4 is not None:
            s = make_session(patient, start=DAY_START + dt.timedelta(days=24))
            services_outcomes.rating_record(session=s, user=nurse, instrument="madrs", answers=_madrs(wk4))
        if wk8 is not None and base == 34:
            s = make_session(patient, start=DAY_START + dt.timedelta(days=52))
            services_outcomes.rating_record(session=s, user=nurse, instrument="madrs", answers=_madrs(wk8))
    # The test protocol has no plan: MADRS is the default clinician scale.
    query = {"start": "2026-11-01", "end": "2026-11-30"}
    admin = client_for(administrator)
    admin.get(reverse("monitoring:outcomes-report"), query)  # warm the session
    with django_assert_max_num_queries(14):  # the session, the user, 3 reads, the filter, the audit row
        response = admin.get(reverse("monitoring:outcomes-report"), query)
    assert response.status_code == 200
    rates = {
        (r.instrument.code, rate.label): (rate.count, rate.evaluable, rate.missing)
        for r in response.context["report"]
        for rate in r.rates
    }
    assert rates["madrs", "Response at week 4"] == (1, 2, 1)
    assert rates["madrs", "Remission at week 4"] == (1, 2, 1)
    assert rates["madrs", "Response at week 8"] == (1, 1, 2)
    assert rates["phq9", "Response at week 4"] == (0, 0, 3)
    csv = client_for(administrator).get(reverse("monitoring:outcomes-csv"), query)
    assert csv.status_code == 200
    assert "Response at week 4,1,2,1,50" in csv.content.decode()
    assert AuditEvent.objects.filter(object_type="outcomes_report", action="export").exists()
    assert AuditEvent.objects.filter(object_type="outcomes_report", action="view").exists()


@pytest.fixture
def make_session_(make_session):
    return make_session


def _madrs(total):
    answers = [0] * 10
    for i in range(total):
        answers[i % 10] += 1
    return answers


def test_the_course_review_shows_the_trend_beside_the_decision(client_for, make_session, patient, nurse, prescriber):
    first = make_session(patient, start=DAY_START)
    later = make_session(patient, start=DAY_START + dt.timedelta(days=24))
    services_outcomes.rating_record(session=first, user=nurse, instrument="madrs", answers=[4] * 8 + [1, 1])
    services_outcomes.rating_record(session=later, user=nurse, instrument="madrs", answers=[2] * 7 + [1, 0, 0])
    course = first.course
    course.review_phase_order = 1
    course.save(update_fields=["review_phase_order"])
    response = client_for(prescriber).get(reverse("scheduling:course-review", args=[course.pk]))
    assert response.status_code == 200
    assert "Response at week 4: MADRS 34 -&gt; 15, -56%" in response.content.decode()


def test_a_worsening_score_asks_for_a_review_of_the_course(make_session, patient, nurse):
    first = make_session(patient, start=DAY_START)
    later = make_session(patient, start=DAY_START + dt.timedelta(days=10))
    services_outcomes.rating_record(session=first, user=nurse, instrument="madrs", answers=[2] * 10)
    services_outcomes.rating_record(session=later, user=nurse, instrument="madrs", answers=[2] * 10)
    assert not StaffAlert.objects.filter(kind=services_outcomes.WORSENING_ALERT).exists()
    services_outcomes.rating_record(session=later, user=nurse, instrument="madrs", answers=[3] * 6 + [2] * 4)
    alert = StaffAlert.objects.get(kind=services_outcomes.WORSENING_ALERT)
    assert "MADRS 20 -> 26" in alert.message
    assert alert.url == first.course.get_absolute_url()


# --- The audit trail holds the scores' values ------------------------------------------------


def test_a_rating_and_its_change_are_audited_with_their_values(make_session, patient, nurse):
    session = make_session(patient, start=DAY_START)
    first = [4] * 8 + [1, 1]
    services_outcomes.rating_record(session=session, user=nurse, instrument="madrs", answers=first)
    created = AuditEvent.objects.filter(object_type="outcomescore", action="create").latest("id")
    assert created.summary["changes"]["total"] == [None, 34]
    assert created.summary["changes"]["answers"] == [None, first]
    services_outcomes.rating_record(session=session, user=nurse, instrument="madrs", answers=[2] * 10)
    changed = AuditEvent.objects.filter(object_type="outcomescore", action="update").latest("id")
    assert changed.summary["changes"]["total"] == [34, 20]
    assert changed.summary["version"] == 2


def test_a_trial_and_its_outcome_are_audited_with_their_values(patient, nurse):
    trial = services_outcomes.trial_add(
        patient=patient, user=nurse, drug="Sertraline", dose="100 mg", adequate_dose=True, weeks=4, outcome="current"
    )
    added = AuditEvent.objects.filter(object_type="antidepressanttrial", action="create").latest("id")
    assert added.summary["changes"]["drug"] == [None, "Sertraline"]
    services_outcomes.trial_update_outcome(trial=trial, user=nurse, outcome="no_response", weeks=8)
    updated = AuditEvent.objects.filter(object_type="antidepressanttrial", action="update").latest("id")
    assert updated.summary["changes"] == {"outcome": ["current", "no_response"], "weeks": [4, 8]}
