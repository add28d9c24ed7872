"""Shared fixtures: the personas (one user per role plus an inactive one), a site with
chairs, a patient, and logged-in clients. The suite runs on PostgreSQL only."""

import contextlib
import importlib

import pytest
from django.db import connection
from django.db.backends.postgresql.operations import DatabaseOperations

from tests import factories


@contextlib.contextmanager
def statements():
    """The SQL of every statement run inside the block (savepoints left out)."""
    seen = []

    def record(execute, sql, params, many, context):
        if "SAVEPOINT" not in sql:
            seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


_execute_sql_flush = DatabaseOperations.execute_sql_flush


def _flush_with_audit_guard_lifted(self, sql_list):
    """Live-server (transactional) tests empty every table with TRUNCATE between tests. The
    audit table refuses TRUNCATE; as the table owner the test harness lifts that trigger
    for the flush only, in the same transaction."""
    guard = "ALTER TABLE clinic_auditevent {} TRIGGER clinic_auditevent_no_truncate"
    _execute_sql_flush(self, [guard.format("DISABLE"), *sql_list, guard.format("ENABLE")])


DatabaseOperations.execute_sql_flush = _flush_with_audit_guard_lifted


# make test (tests/run_suite.py) shares the suite between two pytest-xdist workers, then runs
# the tests marked ``serial`` in one process of their own: the tests that start real processes
# (Celery worker, gunicorn, run_embedded, the embedded SQLite mode with its broker file under
# var/), whose timings expect a machine not shared with other tests, and every transactional
# test (browser journeys, live server, threads), because a transactional test empties every
# table when it ends, reference data included, which the next plain test of its worker needs.
PROCESS_TEST_FILES = {
    "test_production_smoke.py",
    "test_run_embedded.py",
    "test_shared_limits.py",
    "test_deploy.py",
    "test_sqlite_smoke.py",
    "test_foundation.py",
    "test_reminders_worker.py",
}


def _transactional(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ()))
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if (
            item.get_closest_marker("e2e")
            or item.get_closest_marker("integration")
            or item.path.name in PROCESS_TEST_FILES
            or _transactional(item)
        ):
            item.add_marker(pytest.mark.serial)


@pytest.fixture(autouse=True, scope="session")
def _postgresql_only(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.exit("The test suite runs on PostgreSQL: set DATABASE_URL (make test does this).", returncode=3)


@pytest.fixture(autouse=True)
def _export_files_in_a_temporary_folder(settings, tmp_path):
    """Export jobs write their files here, not under var/exports."""
    settings.EXPORT_DIR = tmp_path / "exports"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: a rolled-back test leaves its schedule generation
    behind in no table, but its pages would stay in the process's memory."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _every_board_computed(settings):
    """A test's writes never commit (each test runs in a transaction that is rolled back), so
    the change number that ends the board's kept rows would never move on: pages compute their
    rows at every request here. tests/monitoring/test_board_kept.py tests the kept rows with
    real commits."""
    settings.PAGE_CACHE_SECONDS = 0


@pytest.fixture
def redis_cache(settings):
    """Django's Redis cache (as with CACHE_URL), under a key prefix of this test's own."""
    import os
    import uuid

    broker = os.environ.get("CELERY_BROKER_URL", "")
    location = broker if broker.startswith("redis://") else "redis://127.0.0.1:6379/11"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    yield
    from django.core.cache import cache

    client = cache._cache.get_client()
    for key in client.scan_iter(f"{cache.key_prefix}*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Persona passwords are hashed with a fast hasher; the production hasher is tested by
    the security tests that need it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _second_factor_optional(settings):
    """Personas sign in with ``force_login`` and no authenticator app: the second factor is
    asked only of those who set one up. tests/clinic/test_second_factor.py switches the
    production default (Administrator, Prescriber) back on."""
    settings.OTP_REQUIRED_ROLES = []


@pytest.fixture
def scheduler(db):
    return factories.make_user("scheduler", "Scheduler")


@pytest.fixture
def nurse(db):
    return factories.make_user("nurse", "Nurse")


@pytest.fixture
def prescriber(db):
    return factories.make_user("prescriber", "Prescriber")


@pytest.fixture
def administrator(db):
    return factories.make_user("administrator", "Administrator", is_staff=True)


@pytest.fixture
def inactive_user(db):
    return factories.make_user("former", "Nurse", is_active=False)


@pytest.fixture
def personas(scheduler, nurse, prescriber, administrator, inactive_user):
    return {
        "scheduler": scheduler,
        "nurse": nurse,
        "prescriber": prescriber,
        "administrator": administrator,
        "inactive": inactive_user,
    }


@pytest.fixture
def site(db):
    return factories.make_site("Riverside")


@pytest.fixture
def patient(site):
    return factories.make_patient(site=site)


@pytest.fixture
def client_for(client):
    """client_for(user) -> the test client logged in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login


# Data migrations whose rows tests rely on (roles with their permissions, the default
# protocols, the clinical thresholds). Each is idempotent.
REFERENCE_DATA = (
    ("clinic.migrations.0002_roles_and_audit_guard", "create_roles"),
    ("scheduling.migrations.0002_roles", "create"),
    ("scheduling.migrations.0005_default_protocols", "create"),
    ("scheduling.migrations.0012_phase_gaps_and_reviews", "ship"),
    ("monitoring.migrations.0002_roles_and_reading_guard", "create"),
    ("clinic.migrations.0011_integration_tokens", "create"),
    ("monitoring.migrations.0015_outcome_scores", "create"),
    ("monitoring.migrations.0016_outcome_plan_admin", "create"),
)


@pytest.fixture(autouse=True)
def _reference_data_for_transactional_tests(request):
    """Transactional tests (live server, threads, real workers) empty every table when they
    finish; put the data-migration rows back before each one."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker and marker.kwargs.get("transaction")) or {"transactional_db", "live_server"} & set(
        request.fixturenames
    )
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    for module, function in REFERENCE_DATA:
        getattr(importlib.import_module(module), function)(apps, None)
