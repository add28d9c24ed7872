"""Twenty schedulers press "Book" for the same chair and time at the same moment: the
database lets exactly one through, the other nineteen get the friendly conflict message."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from scheduling.models import Session
from tests import factories
from tests.scheduling.booking_helpers import MONDAY, at, book, chair, make_course

THREADS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_bookings_of_one_slot_give_one_booking_and_nineteen_conflicts(site, scheduler, frozen_now):
    courses = [make_course(factories.make_patient(site=site), scheduler) for _ in range(THREADS)]
    target = chair(site, 3)
    barrier = threading.Barrier(THREADS)
    results: list[object] = [None] * THREADS

    def attempt(i):
        try:
            barrier.wait()
            results[i] = book(courses[i], target, at(MONDAY, 9, i))  # overlapping starts 09:00-09:19
        except ValidationError as exc:
            results[i] = exc
        except Exception as exc:  # noqa: BLE001  (any other error is a failure of the test)
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    booked = [r for r in results if isinstance(r, Session)]
    conflicts = [r for r in results if isinstance(r, ValidationError)]
    others = [r for r in results if not isinstance(r, Session | ValidationError)]
    assert not others, others
    assert len(booked) == 1
    assert len(conflicts) == THREADS - 1
    assert all(e.error_list[0].code == "chair_taken" for e in conflicts)
    assert all(e.messages[0].startswith("Chair 3 is taken 09:") for e in conflicts)
    assert Session.objects.filter(chair=target).count() == 1
