"""What the core app knows of the apps built on it, filled by their ``AppConfig.ready()``.

The core app imports no other app: the navigation, each role's home page and the outbox's
retry buttons list what the installed apps registered here at start-up."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    permission: str  # "app_label.codename"; a superuser holds every one
    order: int


@dataclass(frozen=True)
class HomePage:
    role: str
    url_name: str
    order: int  # the lowest order whose URL is installed is the role's home page


@dataclass(frozen=True)
class FailedMessage:
    """A message to a patient that could not be sent, as the outbox lists it."""

    pk: int
    patient: str
    when: object  # an aware datetime
    what: str
    tries: int
    error: str


@dataclass(frozen=True)
class RetrySource:
    """Messages of one kind that the outbox can send again.

    ``failed()``: the failed messages, newest first (a fixed number of queries).
    ``retry(pk)``: the message put back in the queue, or None when it was not failed (any
    more); the object is what the audit trail names."""

    slug: str  # in the retry URL: /outbox/<slug>/<pk>/retry/
    label: str
    failed: Callable[[], Iterable[FailedMessage]]
    retry: Callable[[int], object | None]


@dataclass(frozen=True)
class PlannedMessage:
    """A message to a patient an app will send, as the outbox lists it."""

    patient: str
    due_at: object  # an aware datetime
    what: str


@dataclass(frozen=True)
class OutboxSource:
    """What an app knows of the outbox's messages: ``patients(references)`` the patient's name
    of each message it sent, by ``OutboxMessage.reference`` (one query for a page), and
    ``planned()`` the next messages it will send, soonest first (a fixed number of queries)."""

    patients: Callable[[list[str]], dict[str, str]]
    planned: Callable[[], Iterable[PlannedMessage]]


_nav: dict[str, NavEntry] = {}
_homes: dict[tuple[str, str], HomePage] = {}
_retry_sources: dict[str, RetrySource] = {}


def nav_register(*, label: str, url_name: str, permission: str, order: int) -> None:
    """Add an entry to the main navigation (once per URL name: registering again replaces it)."""
    _nav[url_name] = NavEntry(label, url_name, permission, order)


def nav_entries() -> list[NavEntry]:
    return sorted(_nav.values(), key=lambda entry: (entry.order, entry.label))


def home_register(*, role: str, url_name: str, order: int) -> None:
    """Offer ``url_name`` as the home page of ``role``."""
    _homes[role, url_name] = HomePage(role, url_name, order)


def home_pages(role: str) -> list[str]:
    """The URL names offered as ``role``'s home page, first choice first."""
    return [home.url_name for home in sorted(_homes.values(), key=lambda home: home.order) if home.role == role]


def retry_source_register(source: RetrySource) -> None:
    _retry_sources[source.slug] = source


def retry_sources() -> list[RetrySource]:
    return list(_retry_sources.values())


def retry_source(slug: str) -> RetrySource | None:
    return _retry_sources.get(slug)


_outbox_sources: dict[str, OutboxSource] = {}


def outbox_source_register(name: str, source: OutboxSource) -> None:
    _outbox_sources[name] = source


def outbox_sources() -> list[OutboxSource]:
    return list(_outbox_sources.values())


# --- The patient's page ------------------------------------------------------------------


@dataclass(frozen=True)
class PatientPanel:
    """What an app shows on a patient's page: ``template`` in the page's body and, when set,
    ``actions_template`` among the buttons at the top; both get ``context`` as ``panel``."""

    template: str
    context: dict
    actions_template: str = ""


# name -> panel(patient=..., user=...) -> PatientPanel | None (a fixed number of queries each)
_patient_panels: dict[str, Callable[..., PatientPanel | None]] = {}


def patient_panel_register(name: str, panel: Callable[..., PatientPanel | None]) -> None:
    _patient_panels[name] = panel


def patient_panels(*, patient, user) -> list[PatientPanel]:
    """The panels the installed apps show on ``patient``'s page for ``user``."""
    return [p for p in (panel(patient=patient, user=user) for panel in _patient_panels.values()) if p]


# --- Course pages and course starts (filled by the apps built on scheduling) -------------


@dataclass(frozen=True)
class Panel:
    """A part of a page another app draws: its template and that template's context."""

    template: str
    context: dict


# name -> panel(course=..., request=...) -> Panel | None (a fixed number of queries each)
_course_panels: dict[str, Callable[..., Panel | None]] = {}
# name -> check(patient=..., protocol=...) -> the reasons a new course may not start
_course_start_checks: dict[str, Callable[..., list[str]]] = {}


def course_panel_register(name: str, panel: Callable[..., Panel | None]) -> None:
    _course_panels[name] = panel


def course_panels(*, course, request) -> list[Panel]:
    """The panels the installed apps show on a course's page."""
    return [p for p in (panel(course=course, request=request) for panel in _course_panels.values()) if p]


def course_start_check_register(name: str, check: Callable[..., list[str]]) -> None:
    _course_start_checks[name] = check


def course_start_problems(*, patient, protocol) -> list[str]:
    """Why the installed apps refuse to start a course of ``protocol`` for ``patient``."""
    return [reason for check in _course_start_checks.values() for reason in check(patient=patient, protocol=protocol)]


@dataclass(frozen=True)
class ExportKind:
    """A CSV export that runs as a background job and writes a file (clinic.exports).

    ``parse(data)``: the job's parameters (JSON-able) from a query dict, or None when they are
    not valid; ``label(params)``: what the export pages call it; ``header(params)`` and
    ``rows(params)``: the file's first line and every other line (values); ``count(params)``:
    how many rows, for the progress bar (None: unknown). ``back_url``: where the export was
    asked for (a URL name). ``copy(params, out, on_block)``: optional, on PostgreSQL writes
    every row to the binary file ``out`` at once (COPY) and returns how many."""

    kind: str
    permission: str
    parse: Callable[[object], dict | None]
    label: Callable[[dict], str]
    header: Callable[[dict], list[str]]
    rows: Callable[[dict], Iterable]
    count: Callable[[dict], int | None]
    back_url: str
    copy: Callable[..., int] | None = None


_export_kinds: dict[str, ExportKind] = {}


def export_kind_register(kind: ExportKind) -> None:
    _export_kinds[kind.kind] = kind


def export_kind(name: str) -> ExportKind | None:
    return _export_kinds.get(name)
