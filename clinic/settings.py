"""Settings for the clinic app.

Every setting that differs between the embedded default (``make run``: SQLite and a
file-system Celery transport) and production (PostgreSQL + Redis) is read here, once,
from environment variables. Readers are strict: a malformed value stops start-up with a
message that names the variable.
"""

import os
import re
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.conf.locale import LANG_INFO
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw in ("True", "true", "1"):
        return True
    if raw in ("False", "false", "0"):
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, not {raw!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is False")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-8f3b2c"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "clinic.admin_apps.ClinicAdminConfig",  # Django admin, every change audited (clinic/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "clinic",
    "scheduling",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise and every other middleware: static files and error responses (400 for a
    # bad host, 403, 404, 500) carry the CSP and frame headers too.
    "clinic.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # An htmx refresh sent to the sign-in page takes the whole window there (HX-Redirect).
    "clinic.middleware.HtmxSignInMiddleware",
    # After the message middleware: a timed-out user is told why they must sign in again.
    "clinic.middleware.SessionTimeoutMiddleware",
    # Until a user who needs a second factor has given it, only its pages open (clinic/second_factor.py).
    "clinic.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # A page that needs a site, on a fresh installation, shows how to set one up (not a 404).
    "clinic.middleware_setup.NoSiteGuidanceMiddleware",
]

# The scale benchmark serves the app with its own URLconf (tests/bench/urls.py adds a baseline page).
ROOT_URLCONF = env_str("ROOT_URLCONF", "clinic.urls")
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context_processors.navigation",
            ],
        },
    },
    {
        # Only for a row-heavy partial whose measured profile is dominated by template time
        # (templates/jinja2/; rendered through ``django.template.engines["jinja2"]``).
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "clinic.jinja2.environment"},
    },
]

# --- Database -------------------------------------------------------------------------
# Embedded default: a SQLite file in the project folder. Production and tests: DATABASE_URL.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # A SQLite file named by URL behaves as the embedded default's (see below).
        DATABASES["default"].setdefault("OPTIONS", {}).update(transaction_mode="IMMEDIATE", timeout=20)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_PREPARED_STATEMENTS", True):
        # Parameters bound on the server, and a statement run a second time on a connection
        # is prepared: PostgreSQL then skips planning it again. A pooler in transaction
        # mode (PgBouncer before 1.21) cannot carry prepared statements: set
        # DB_PREPARED_STATEMENTS=False behind one.
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=1)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            # IMMEDIATE transactions take the write lock at BEGIN, so the booking service's
            # "check then insert" cannot interleave with another writer on SQLite.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------
# Computed compliance reports for REPORT_CACHE_SECONDS, the board's rows and the schedule
# grids for PAGE_CACHE_SECONDS (clinic.page_cache) and the patient link's rate-limit counts.
# CACHE_URL (redis://host:6379/1): Django's Redis cache, shared by every web process, so a
# limit and a kept page's change number hold across gunicorn workers and machines. Empty (the
# embedded default): each process's own memory.
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL and not re.match(r"rediss?://", CACHE_URL):
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// or rediss:// URL, not {CACHE_URL!r}")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL, "KEY_PREFIX": "clinic"}
        if CACHE_URL
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 200)},
        }
    )
}
# Seconds a web process shows the same computed compliance report (the page prints its time);
# 0 computes every page. The CSV downloads always compute.
REPORT_CACHE_SECONDS = env_int("REPORT_CACHE_SECONDS", 10, minimum=0)
# Seconds a web process shows the same computed rows of the observation board and the same
# schedule grid when no change has been made through the app since (clinic.page_cache; both
# pages print the time they were computed); 0 computes every request.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 3, minimum=0)

# --- Celery ---------------------------------------------------------------------------
# Embedded default: kombu's SQLAlchemy transport on a SQLite file under var/celery (no server
# needed). SQLite's locking makes it safe with several processes publishing and consuming at
# once (the file-system transport let a reader open a message before it was written); the
# file is in WAL mode (manage.py run_embedded prepares it). README: "The embedded broker".
EMBEDDED_BROKER_PATH = VAR_DIR / "celery" / "broker.sqlite3"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", f"sqla+sqlite:///{EMBEDDED_BROKER_PATH}")
if CELERY_BROKER_URL.startswith("filesystem://"):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL=filesystem:// is not supported (a worker could read a message before it was "
        "written): leave CELERY_BROKER_URL unset for the embedded SQLite broker, or use redis://"
    )
if CELERY_BROKER_URL.startswith("sqla+sqlite"):
    from functools import partial

    from clinic.sql import sqlite_broker_connection

    # Keyword arguments of SQLAlchemy's create_engine: how to open the SQLite file (clinic.sql).
    _broker_file = CELERY_BROKER_URL.removeprefix("sqla+sqlite:///")
    CELERY_BROKER_TRANSPORT_OPTIONS = {"creator": partial(sqlite_broker_connection, _broker_file)}
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
# Celery's Django fix-up closes the database connection around every task unless told to
# reuse it: opening a PostgreSQL connection per reminder costs more than sending it.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000, minimum=0)
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # 07:15 UTC is night in the clinics' US time zones: verify the audit trail's hash chain, alert on a break.
    "audit-verify-nightly": {"task": "clinic.tasks.audit_verify_nightly", "schedule": crontab(hour=7, minute=15)},
    # A signed checkpoint of the audit chain's end (count + hash) outside the audit table.
    "audit-checkpoint": {
        "task": "clinic.tasks.audit_checkpoint",
        "schedule": env_int("AUDIT_CHECKPOINT_MINUTES", 10, minimum=1) * 60.0,
        "options": {"expires": 300},
    },
    # Patient reminders: claim due rows every minute; a tick that waited past `expires` is dropped
    # (the next one does the same work).
    "reminders-tick": {"task": "scheduling.tasks.reminders_tick", "schedule": 60.0, "options": {"expires": 50}},
    "rides-unconfirmed-check": {
        "task": "scheduling.tasks.rides_unconfirmed_check",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
    # Session day: overdue checkpoints, observations past their end, REMS records nearing day 7.
    "monitoring-alerts-scan": {"task": "monitoring.tasks.alerts_scan", "schedule": 60.0, "options": {"expires": 50}},
}
CELERY_TIMEZONE = "UTC"

# --- Health and long exports (README: Operations) ----------------------------------------
# Beat writes its heartbeat and sends a heartbeat task to the workers this often; /healthz
# answers 503 when either heartbeat is older than HEALTH_MAX_AGE_SECONDS.
HEALTH_HEARTBEAT_SECONDS = env_int("HEALTH_HEARTBEAT_SECONDS", 30, minimum=5)
HEALTH_MAX_AGE_SECONDS = env_int("HEALTH_MAX_AGE_SECONDS", 120, minimum=10)
CELERY_BEAT_SCHEDULER = "clinic.health:HeartbeatScheduler"
CELERY_BEAT_SCHEDULE["heartbeat"] = {
    "task": "clinic.tasks.heartbeat",
    "schedule": float(HEALTH_HEARTBEAT_SECONDS),
    "options": {"expires": HEALTH_HEARTBEAT_SECONDS},
}
# Export files (audit trail, compliance tables) written by a worker, kept EXPORT_KEEP_HOURS.
EXPORT_DIR = Path(env_str("EXPORT_DIR", str(VAR_DIR / "exports")))
EXPORT_KEEP_HOURS = env_int("EXPORT_KEEP_HOURS", 24, minimum=1)
CELERY_BEAT_SCHEDULE["exports-sweep"] = {
    "task": "clinic.tasks.exports_sweep",
    "schedule": 600.0,
    "options": {"expires": 540},
}

# --- Auth -----------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend with the role and permissions read in one query (clinic/auth.py).
    "clinic.auth.StaffBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Lockout: 5 failures for one username within 15 minutes locks that username.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
# The lock lifts 15 minutes after it began (what the locked-out page promises); attempts made
# while locked are refused and audited but do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The address of a failed sign-in as the audit trail records it (TRUSTED_PROXY_COUNT).
AXES_CLIENT_IP_CALLABLE = "clinic.addresses.client_ip"

# Second factor at sign-in (TOTP app + recovery codes, django-otp): required for these roles
# (comma-separated; empty: only for those who set one up). Superusers count as Administrator.
OTP_REQUIRED_ROLES = env_list("OTP_REQUIRED_ROLES", "Administrator,Prescriber")
_roles = ("Scheduler", "Nurse", "Prescriber", "Administrator")
if any(role not in _roles for role in OTP_REQUIRED_ROLES):
    raise ImproperlyConfigured(f"OTP_REQUIRED_ROLES must name roles among {', '.join(_roles)}: {OTP_REQUIRED_ROLES}")
OTP_TOTP_ISSUER = env_str("CLINIC_NAME", "Riverside Wellness Clinic")

# Sessions: idle timeout (seconds, refreshed on activity) and an absolute cap.
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_MINUTES", 15, minimum=1) * 60
SESSION_ABSOLUTE_TIMEOUT = env_int("SESSION_ABSOLUTE_HOURS", 12, minimum=1) * 3600
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
# The CSRF secret is kept in the session, not in a cookie of its own. Every page carries a form
# (the sign-out button in the navigation), and a CSRF cookie would be sent again with every
# response to renew its expiry; the session holds the secret and is written only when the
# secret changes (sign-in, sign-out). The sign-in page therefore starts a session.
CSRF_USE_SESSIONS = True
CSRF_COOKIE_HTTPONLY = True

# --- Security (production shape when DEBUG is off) -------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks call it over plain HTTP
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies in front of the app that append to X-Forwarded-For (clinic/addresses.py). 0: the
# header is ignored and the connection's peer is the client.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)

# --- I18N / time ----------------------------------------------------------------------
# The language of the pages, e-mails and messages (one per installation): a language Django
# knows ("en-us", "es", "fr", "de"...). Texts marked for translation come from locale/<lang>/
# (LOCALE_PATHS) when the clinic has translated them, else stay in English; Django's own texts
# (form errors, month and day names) follow it too.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en-us").lower()
if LANGUAGE_CODE not in LANG_INFO and LANGUAGE_CODE.split("-")[0] not in LANG_INFO:
    raise ImproperlyConfigured(
        f"LANGUAGE_CODE must be a language Django knows (en-us, es, fr...), not {LANGUAGE_CODE!r}"
    )
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("CLINIC_TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))  # collectstatic writes here
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Messaging (patient reminders) ----------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "clinic.messaging.OutboxEmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "appointments@clinic.example")
SMS_BACKEND = env_str("SMS_BACKEND", "clinic.messaging.OutboxSmsBackend")
SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL", "")
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN", "")
SMS_GATEWAY_TIMEOUT = env_int("SMS_GATEWAY_TIMEOUT", 10, minimum=1)

# Patient reminders. Kinds: "hours_before" counts wall-clock hours before the start (a 09:00
# session gets its 72 h reminder at 09:00 three days before, across a clock change too);
# "local_time" is the same-morning preparation note at that local time on the day.
REMINDER_HOURS_BEFORE = env_list("REMINDER_HOURS_BEFORE", "72,24")
if not all(h.isdigit() and 0 < int(h) <= 24 * 14 for h in REMINDER_HOURS_BEFORE):
    raise ImproperlyConfigured(
        f"REMINDER_HOURS_BEFORE must be whole hours (1-336), comma-separated: {REMINDER_HOURS_BEFORE}"
    )
REMINDER_HOURS_BEFORE = [int(h) for h in REMINDER_HOURS_BEFORE]
REMINDER_MORNING_TIME = env_str("REMINDER_MORNING_TIME", "07:00")  # empty: no same-morning note
if REMINDER_MORNING_TIME and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", REMINDER_MORNING_TIME):
    raise ImproperlyConfigured(f"REMINDER_MORNING_TIME must be HH:MM or empty, not {REMINDER_MORNING_TIME!r}")
REMINDER_KINDS = [{"kind": f"{h}h", "hours_before": h} for h in REMINDER_HOURS_BEFORE] + (
    [{"kind": "morning", "local_time": REMINDER_MORNING_TIME}] if REMINDER_MORNING_TIME else []
)
REMINDER_MAX_ATTEMPTS = env_int("REMINDER_MAX_ATTEMPTS", 5, minimum=1)
REMINDER_RETRY_BASE_SECONDS = env_int("REMINDER_RETRY_BASE_SECONDS", 30, minimum=1)
REMINDER_BATCH_SIZE = env_int("REMINDER_BATCH_SIZE", 1000, minimum=1)
# Claimed reminders per send task (1: one task per reminder).
REMINDER_SEND_GROUP = env_int("REMINDER_SEND_GROUP", 20, minimum=1)
# A row claimed ("sending") longer than this is treated as abandoned by a crashed worker.
REMINDER_SENDING_TIMEOUT_MINUTES = env_int("REMINDER_SENDING_TIMEOUT_MINUTES", 10, minimum=1)
# Preparation rules quoted in the same-morning note.
REMINDER_PREP_NO_FOOD_HOURS = env_int("REMINDER_PREP_NO_FOOD_HOURS", 2, minimum=0)
REMINDER_PREP_NO_DRINK_MINUTES = env_int("REMINDER_PREP_NO_DRINK_MINUTES", 30, minimum=0)
RIDE_CHECK_HOURS_BEFORE = env_int("RIDE_CHECK_HOURS_BEFORE", 24, minimum=1)
CONFIRM_RATE_LIMIT = env_int("CONFIRM_RATE_LIMIT", 20, minimum=1)  # requests per IP and link per 10 min
CLINIC_NAME = env_str("CLINIC_NAME", "Riverside Wellness Clinic")
CLINIC_PHONE = env_str("CLINIC_PHONE", "+1 555 010 0100")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
PHONE_DEFAULT_REGION = env_str("PHONE_DEFAULT_REGION", "US")
# Where a patient in crisis is sent, in words: shown on the patient's questionnaire page and,
# after a positive PHQ-9 item 9, on its thank-you page. The default is the United States'.
CRISIS_LINE_TEXT = env_str(
    "CRISIS_LINE_TEXT", "Call or text 988 (Suicide & Crisis Lifeline), or call 911 in an emergency."
).strip()
if not CRISIS_LINE_TEXT or len(CRISIS_LINE_TEXT) > 300:
    raise ImproperlyConfigured("CRISIS_LINE_TEXT must be 1 to 300 characters (the crisis line patients are given)")
# Times on every page in one clock: "24" (14:05) or "12" (2:05 PM); see clinic/formats.py.
CLINIC_CLOCK = env_str("CLINIC_CLOCK", "24")
if CLINIC_CLOCK not in ("24", "12"):
    raise ImproperlyConfigured(f"CLINIC_CLOCK must be 24 or 12, not {CLINIC_CLOCK!r}")
MINIMUM_PATIENT_AGE = env_int("MINIMUM_PATIENT_AGE", 18, minimum=0)

# No patient data in the logs: every line loses its query strings (clinic/log_redaction.py),
# runserver's access log (django.server) included.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "clinic.log_redaction.RedactQueryStrings"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
# Optional error reports (pip install sentry-sdk): patient data scrubbed (clinic/sentry.py).
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    from clinic.sentry import sentry_init

    sentry_init(SENTRY_DSN, environment=env_str("SENTRY_ENVIRONMENT", "production"))

# Each request runs in one transaction, so an audit row that fails to write rolls back the
# change it describes.
DATABASES["default"]["ATOMIC_REQUESTS"] = True

# Lockout is per username (issue: 5 failures for one username in 15 minutes). Adding the
# IP address would lock out every member of staff behind the clinic's shared NAT address.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
if not DEBUG and not SECURE_SSL_REDIRECT and env_bool("BEHIND_TLS_PROXY", False):
    # The TLS-terminating proxy redirects plain HTTP to HTTPS itself (README: production checklist).
    SILENCED_SYSTEM_CHECKS.append("security.W008")

# Audit trail tamper evidence: the HMAC key of the hash chain. Keep it outside the database
# (environment / secret store) and never change it: rows hashed under another key no longer
# verify. Left empty the chain still detects edits and removals, but someone with database
# access could rebuild it.
AUDIT_CHAIN_KEY = env_str("AUDIT_CHAIN_KEY", "")
# With DEBUG=False the system check clinic.E001 refuses a key shorter than this (characters).
AUDIT_CHAIN_KEY_MIN_LENGTH = 32
# PostgreSQL: a page view's audit row (a GET whose transaction changed nothing else) commits
# without waiting for the disk flush, so a database server crash can lose the view rows of
# its last fraction of a second (never a change, never a link in the middle of the chain).
# True: every audit row waits for the flush, which costs pages most under load (README).
AUDIT_VIEW_SYNCHRONOUS_COMMIT = env_bool("AUDIT_VIEW_SYNCHRONOUS_COMMIT", False)

# Demo data loaders run in order by `manage.py seed_demo` (each app seeds its own records).
DEMO_SEEDERS = [
    "clinic.demo.seed",
    "monitoring.demo_outcomes.seed_history",  # before the courses: the TRD protocol needs it
    "scheduling.demo.seed",
    "monitoring.demo.seed",
]
