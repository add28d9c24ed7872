"""Fixtures shared by the scheduling tests."""

from tests.scheduling.booking_helpers import course, frozen_now  # noqa: F401
