"""Bulk loader for the scale benchmark: a clinic network's worth of history, streamed into
the migrated schema with PostgreSQL COPY.

Every table is described once in ``tables()``: the model, the columns the generator fills
(in order) and the generator. Columns a spec does not name get the model field's default
(or NULL / "" when the field allows it), so a new column with a default needs no change
here; a new required column without one stops the load with a message naming it.

Rows are generated deterministically (seeded per site and day) and streamed: the session
generator runs once per dependent table instead of keeping 500,000 sessions in memory.
"""

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import random
import sys
import time
import zoneinfo
from collections.abc import Callable, Iterator

from django.apps import apps
from django.conf import settings
from django.db import connection, models

from clinic.audit import GENESIS_HASH, row_digest

from .scales import Scale

SEED = 20240601
TIME_ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix"]
CITIES = ["Albany", "Boston", "Chicago", "Denver", "Eugene", "Fresno", "Georgetown", "Houston", "Irvine", "Juneau"]
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera "
    "Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim "
    "Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo "
    "Sanders Patel Myers Long Ross Foster Jimenez"
).split()
FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Margaret "
    "Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa"
).split()
# Local start times of the four chair slots: a session is 15 min dosing + 120 min observation
# + 30 min turnover = 165 min, so slots three hours apart never overlap.
SLOTS = [dt.time(8), dt.time(11), dt.time(14), dt.time(17)]
SESSION_MINUTES = 165
DOSE_MINUTES = 15
# The current and next week are booked at this density at every scale (the week view and
# the board look the same at small and full scale; only the history differs).
BUSY_DENSITY = 0.9
STAFF_ROLES = ["Nurse", "Nurse", "Scheduler", "Prescriber"]


@dataclasses.dataclass
class World:
    """What the generators need to know about rows created outside COPY."""

    scale: Scale
    today: dt.date
    first_day: dt.date
    last_day: dt.date
    busy_from: dt.date
    protocol_id: int
    scheduler_id: int
    staff: list[tuple[int, str, str, int]]  # (user id, username, role, site index)
    history_density: float = 0.0
    readings_per_session: float = 0.0

    @property
    def n_chairs(self) -> int:
        return self.scale.sites * self.scale.chairs_per_site

    def nurses_of(self, site: int) -> list[int]:
        if not hasattr(self, "_nurses"):
            self._nurses = {
                s: [uid for uid, _, role, at in self.staff if at == s and role == "Nurse"]
                for s in range(self.scale.sites)
            }
        return self._nurses[site]


def make_world(scale: Scale, *, protocol_id: int, scheduler_id: int, staff) -> World:
    today = dt.datetime.now(zoneinfo.ZoneInfo(TIME_ZONES[0])).date()
    busy_from = today - dt.timedelta(days=today.weekday())
    world = World(
        scale=scale,
        today=today,
        first_day=today.replace(year=today.year - scale.years),
        last_day=busy_from + dt.timedelta(days=13),
        busy_from=busy_from,
        protocol_id=protocol_id,
        scheduler_id=scheduler_id,
        staff=staff,
    )
    slots_per_day = world.n_chairs * len(SLOTS)
    busy_sessions = (world.last_day - busy_from).days * slots_per_day * BUSY_DENSITY
    history_capacity = (busy_from - world.first_day).days * slots_per_day
    world.history_density = max(0.0, (scale.sessions - busy_sessions) / history_capacity)
    if world.history_density > 1:
        raise SystemExit(f"{scale.sessions} sessions do not fit in {world.n_chairs} chairs over {scale.years} years")
    world.readings_per_session = readings_per_session(world)
    return world


# --- Generators ------------------------------------------------------------------------


def site_rows(w: World) -> Iterator[tuple]:
    for s in range(w.scale.sites):
        yield (s + 1, f"Clinic {s + 1:02d} {CITIES[s % len(CITIES)]}", TIME_ZONES[s % len(TIME_ZONES)], "+15550100100")


def opening_rows(w: World) -> Iterator[tuple]:
    for s in range(w.scale.sites):
        for weekday in range(7):
            yield (s + 1, weekday, dt.time(7, 30), dt.time(20, 30))


def chair_rows(w: World) -> Iterator[tuple]:
    for s in range(w.scale.sites):
        for c in range(w.scale.chairs_per_site):
            yield (s * w.scale.chairs_per_site + c + 1, s + 1, f"Chair {c + 1}", True)


def patient_site(w: World, patient_index: int) -> int:
    return patient_index % w.scale.sites


def patient_rows(w: World) -> Iterator[tuple]:
    rng = random.Random(SEED)
    for i in range(w.scale.patients):
        pid = i + 1
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 50))
        yield (
            pid,
            f"MRN{pid:07d}",
            rng.choice(FIRST_NAMES),
            rng.choice(LAST_NAMES),
            born,
            rng.choice("FMX"),
            f"+1555{pid:07d}",
            f"patient{pid}@example.org",
            patient_site(w, i) + 1,
            f"REMS{pid:08d}",
            w.first_day,
            dt.datetime.combine(w.first_day, dt.time(9), tzinfo=dt.UTC),
        )


def escort_rows(w: World) -> Iterator[tuple]:
    for i in range(w.scale.patients):
        yield (i + 1, i + 1, f"Escort of {i + 1}", f"+1555{i + 1:07d}", "Partner", True)


# The benchmark's courses all follow the esketamine protocol of the demo data
# (``prepare.world_for``); a course stores its protocol's drug.
PROTOCOL_DRUG = "esketamine"


def course_rows(w: World) -> Iterator[tuple]:
    for i in range(w.scale.patients):
        yield (
            i + 1,
            i + 1,
            w.protocol_id,
            PROTOCOL_DRUG,
            patient_site(w, i) + 1,
            w.first_day,
            [0, 3],
            dt.time(8),
            "active",
            w.scheduler_id,
            dt.datetime.combine(w.first_day, dt.time(9), tzinfo=dt.UTC),
        )


@dataclasses.dataclass(slots=True)
class GenSession:
    id: int
    patient_id: int
    chair_id: int
    site: int
    start: dt.datetime
    status: str
    sequence: int


def iter_sessions(w: World) -> Iterator[GenSession]:
    """Every session in start order per day. Patients of a site come from its own pool; in
    one day no patient gets two overlapping slots and no chair two sessions at once (the
    database's exclusion constraints hold)."""
    sid = 0
    sequence: dict[int, int] = {}
    pools = [list(range(s + 1, w.scale.patients + 1, w.scale.sites)) for s in range(w.scale.sites)]
    zones = [zoneinfo.ZoneInfo(TIME_ZONES[s % len(TIME_ZONES)]) for s in range(w.scale.sites)]
    chairs = w.scale.chairs_per_site
    day = w.first_day
    while day < w.last_day:
        busy = day >= w.busy_from
        density = BUSY_DENSITY if busy else w.history_density
        for s in range(w.scale.sites):
            rng = random.Random(f"{SEED}-{s}-{day.toordinal()}")
            pool = pools[s]
            offset = rng.randrange(len(pool))
            for slot_index, slot in enumerate(SLOTS):
                start = dt.datetime.combine(day, slot, tzinfo=zones[s])
                for c in range(chairs):
                    if rng.random() >= density:
                        continue
                    sid += 1
                    pid = pool[(offset + slot_index * chairs + c) % len(pool)]
                    sequence[pid] = sequence.get(pid, 0) + 1
                    if day >= w.today:
                        status = "booked"
                    else:
                        roll = rng.random()
                        status = "discharged" if roll < 0.9 else ("cancelled" if roll < 0.96 else "no_show")
                    yield GenSession(sid, pid, s * chairs + c + 1, s, start, status, min(sequence[pid], 32767))
        day += dt.timedelta(days=1)


# Sessions and the rows hanging off them are written as COPY text lines: formatting a line
# is cheaper than adapting a tuple value by value, and the values are the same (str() of an
# aware datetime is the instant PostgreSQL stores). Each line function gets ``end``: the
# text of the columns the spec leaves out (see _filled_columns) plus the newline.
TWO_WEEKS = dt.timedelta(days=14)
SESSION_LENGTH = dt.timedelta(minutes=SESSION_MINUTES)
TEN_MINUTES = dt.timedelta(minutes=10)
DOSE_DELAY = dt.timedelta(minutes=DOSE_MINUTES)
DISCHARGE_DELAY = dt.timedelta(minutes=DOSE_MINUTES + 125)
BLOCK_ROWS = 2000  # rows per block handed to COPY


def session_lines(w: World, end: str) -> Iterator[tuple[int, str]]:
    """Blocks of (row count, COPY text) of scheduling_session."""
    block = []
    for g in iter_sessions(w):
        start = g.start
        created = str(start - TWO_WEEKS)
        status = g.status
        block.append(
            f"{g.id}\t{g.patient_id}\t{g.patient_id}\t{g.chair_id}\t{start}\t{start + SESSION_LENGTH}\t56.0\t"
            f"Maintenance (every 2 weeks)\t{g.sequence}\t{status}\t{created if status == 'booked' else start}\t"
            f"{'Patient unwell' if status == 'cancelled' else ''}\t{created}{end}"
        )
        if len(block) >= BLOCK_ROWS:
            yield len(block), "".join(block)
            block = []
    yield len(block), "".join(block)


# Rows that hang off one discharged session: generated in the same pass over the sessions
# and streamed to one COPY each (one connection per table). Each function returns the COPY
# text of its rows for one session and their count.


def checkin_lines(w: World, g: GenSession, nurse: int, end: str) -> tuple[int, str]:
    arrived = g.start - TEN_MINUTES
    return 1, f"{g.id}\t{g.id}\t{arrived}\t{nurse}\tt\tt\tt\tt\tt\tt\t{arrived}{end}"


def dose_lines(w: World, g: GenSession, nurse: int, end: str) -> tuple[int, str]:
    given = g.start + DOSE_DELAY
    return 1, f"{g.id}\t{g.id}\tesketamine\t56.0\t2\tLOT{g.id % 997:04d}\t{nurse}\t{given}{end}"


def observation_lines(w: World, g: GenSession, nurse: int, end: str) -> tuple[int, str]:
    started = g.start + DOSE_DELAY
    return 1, f"{g.id}\t{g.id}\t{started}\t{started}{end}"


def discharge_lines(w: World, g: GenSession, nurse: int, end: str) -> tuple[int, str]:
    at = g.start + DISCHARGE_DELAY
    return 1, f"{g.id}\t{g.id}\t{at}\t{nurse}\tt\tt\tt\tEscort\tPartner\t{at}\tt{end}"


# (kind, checkpoint minute, minutes after the dose) of a session's readings, in order.
READING_PLAN = [
    ("pre_dose", None, -8),
    ("checkpoint", 40, 40),
    ("discharge", None, 118),
    ("extra", None, 20),
    ("extra", None, 60),
    ("extra", None, 90),
    ("extra", None, 100),
    ("extra", None, 110),
]
# The first n entries of the plan in time order, for each n: (n, kind, minute text, delay, after).
_READING_STEPS = [
    [
        (n, kind, "\\N" if minute is None else str(minute), dt.timedelta(minutes=after), after)
        for n, (kind, minute, after) in enumerate(sorted(READING_PLAN[:count], key=lambda r: r[2]))
    ]
    for count in range(len(READING_PLAN) + 1)
]


def readings_per_session(w: World) -> float:
    expected = w.scale.sessions * 0.9 * (w.busy_from - w.first_day).days / (w.last_day - w.first_day).days
    return min(len(READING_PLAN), w.scale.readings / max(expected, 1))


_reading_rng = random.Random()


def reading_lines(w: World, g: GenSession, nurse: int, end: str) -> tuple[int, str]:
    rng = _reading_rng
    rng.seed(g.id)  # the same stream as random.Random(g.id)
    rnd = rng.random
    per_session = w.readings_per_session
    count = int(per_session) + (1 if rnd() < per_session % 1 else 0)
    dosed = g.start + DOSE_DELAY
    base = g.id * 8
    out = []
    for n, kind, minute, delay, after in _READING_STEPS[count]:
        systolic = 110 + int(rnd() * 40)
        taken = dosed + delay
        diastolic = 65 + int(rnd() * (systolic - 85))
        heart_rate = 58 + int(rnd() * 37)
        spo2 = 95 + int(rnd() * 6)
        respiratory_rate = 12 + int(rnd() * 7)
        moaas = 5 if after > 60 else 4 + int(rnd() * 2)
        out.append(
            f"{base + n}\t{g.id}\t{kind}\t{minute}\t{taken}\t{systolic}\t{diastolic}\t{heart_rate}\t{spo2}\t"
            f"{respiratory_rate}\t{moaas}\tf\t[]\t{nurse}\t{taken}{end}"
        )
    return count, "".join(out)


# --- Audit trail: ~10 events per session, with the hash chain of clinic.audit ---------


AUDIT_KINDS = [
    # (weight, action, object type, path pattern, summary)
    (35, "view", "patient", "/patients/{p}/", {}),
    (20, "view", "session", "/sessions/{s}/day/", {"page": "session-day"}),
    (15, "create", "vitalsreading", "/sessions/{s}/day/vitals/", {}),
    (10, "view", "board", "/board/", {"site": 1}),
    (5, "view", "schedule_week", "/schedule/week/", {"start": "2024-01-01"}),
    (5, "view", "patient_list", "/patients/", {"q": "smi"}),
    (5, "update", "session", "/sessions/{s}/move/", {"fields": ["start"]}),
    (5, "login", "", "/accounts/login/", {}),
]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
NULL = "\\N"  # COPY text format


class AuditChain:
    """The chain hash of clinic.audit.row_digest, computed without its per-row overhead.

    The message is built with string formatting for the controlled values the generator
    uses and checked against ``row_digest`` itself on the first rows and periodically; on a
    mismatch (clinic.audit changed its format) it falls back to ``row_digest`` for every row."""

    CHECK_EVERY = 50_000
    CHECK_FIRST = 100

    def __init__(self):
        self.mac = hmac.new(settings.AUDIT_CHAIN_KEY.encode(), digestmod=hashlib.sha256)
        self.prev = GENESIS_HASH
        self.count = 0
        self.fast = True

    @staticmethod
    def values(fields: tuple) -> dict:
        us, uid, username, role, action, object_type, object_id, patient_id, ip, path, summary = fields
        return {
            "created_at": EPOCH + dt.timedelta(microseconds=us),
            "user_id": uid,
            "username": username,
            "role": role,
            "actor": "staff",
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "patient_id": patient_id,
            "ip": ip,
            "path": path,
            "summary": summary,
        }

    def should_check(self, index: int) -> bool:
        return index < self.CHECK_FIRST or index % self.CHECK_EVERY == 0

    def check(self, digest: str, fields: tuple, prev: str) -> str:
        """``digest`` if ``row_digest`` agrees, else the fallback's digest (and the fallback on)."""
        expected = row_digest(self.values(fields), prev)
        if expected != digest:
            print("audit chain: fast path differs from clinic.audit.row_digest; using it", file=sys.stderr)
            self.fast = False
        return expected

    def append(self, body: str, fields: tuple) -> tuple[str, str]:
        """``body``: the row's part of the message (``"v1",...,<summary>``); ``fields``: the
        same values for ``row_digest`` when the row is cross-checked."""
        prev = self.prev
        if self.fast:
            mac = self.mac.copy()
            mac.update(f'[{body},"{prev}"]'.encode())
            digest = mac.hexdigest()
            if self.should_check(self.count):
                digest = self.check(digest, fields, prev)
        else:
            digest = row_digest(self.values(fields), prev)
        self.count += 1
        self.prev = digest
        return prev, digest


DAY_US = 86_400_000_000


def audit_blocks(w: World, *, check: bool = True) -> Iterator[tuple[int, str]]:
    """Blocks of (row count, COPY text lines) of the columns of AUDIT_COLUMNS, oldest first:
    id order is time order. ``check=False`` skips the cross-check against row_digest (tests
    compare every row themselves)."""
    rng = random.Random(SEED + 1)
    rnd = rng.random
    weights = [k[0] for k in AUDIT_KINDS]
    kinds = [
        (action, object_type, pattern, summary, json.dumps(summary, sort_keys=True, separators=(",", ":")))
        for _, action, object_type, pattern, summary in AUDIT_KINDS
    ]
    start_us = (dt.datetime.combine(w.first_day, dt.time(12), tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
    end_us = (dt.datetime.combine(w.today, dt.time(0), tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
    n = w.scale.audit_events
    step = (end_us - start_us) // n
    chain = AuditChain()
    # The fast path writes strings into the message without JSON escaping: only for strings
    # JSON leaves as they are (the cross-check would catch the rest, but only on its rows).
    texts = [t for _, name, role, _ in w.staff for t in (name, role)] + [t for k in kinds for t in k[:3]]
    chain.fast = all(json.dumps(t) == f'"{t}"' for t in texts)
    new_mac = chain.mac.copy
    staff = w.staff
    n_staff = len(staff)
    n_sessions = w.scale.sessions
    n_patients = w.scale.patients
    cached_day, day_prefix = None, ""
    prev = chain.prev
    batch = 4096
    for first in range(0, n, batch):
        picks = rng.choices(kinds, weights=weights, k=min(batch, n - first))
        out = []
        for i, (action, object_type, pattern, summary, summary_json) in enumerate(picks, first):
            us = start_us + i * step + int(rnd() * step)
            day, rest = divmod(us, DAY_US)
            if day != cached_day:
                cached_day, day_prefix = day, (EPOCH + dt.timedelta(days=day)).strftime("%Y-%m-%dT")
            seconds, micro = divmod(rest, 1_000_000)
            hours, seconds = divmod(seconds, 3600)
            iso = f"{day_prefix}{hours:02d}:{seconds // 60:02d}:{seconds % 60:02d}.{micro:06d}+00:00"
            uid, username, role, site = staff[int(rnd() * n_staff)]
            p = 1 + int(rnd() * n_patients)
            s = 1 + int(rnd() * n_sessions)
            if object_type == "patient":
                patient_json = patient_text = object_id = str(p)
            elif object_type in ("session", "vitalsreading"):
                patient_json = patient_text = str(p)
                object_id = str(s)
            else:
                patient_json, patient_text, object_id = "null", NULL, ""
            ip = f"10.{site}.{i % 200}.{1 + i % 250}"
            path = pattern.format(p=p, s=s)
            head = f'"{action}","{object_type}","{object_id}",{patient_json},"{ip}","{path}",{summary_json},"{prev}"]'
            if chain.fast:
                mac = new_mac()
                mac.update(f'["v1","{iso}",{uid},"{username}","{role}","staff",{head}'.encode())
                digest = mac.hexdigest()
                if check and chain.should_check(i):
                    patient_id = None if patient_text is NULL else p
                    fields = (us, uid, username, role, action, object_type, object_id, patient_id, ip, path, summary)
                    digest = chain.check(digest, fields, prev)
            else:
                patient_id = None if patient_text is NULL else p
                fields = (us, uid, username, role, action, object_type, object_id, patient_id, ip, path, summary)
                digest = row_digest(chain.values(fields), prev)
            out.append(
                f"{i + 1}\t{iso}\t{uid}\t{username}\t{role}\tstaff\t{action}\t{object_type}\t{object_id}\t"
                f"{patient_text}\t{ip}\t{path}\t{summary_json}\t{prev}\t{digest}\n"
            )
            prev = digest
        yield len(out), "".join(out)


AUDIT_COLUMNS = tuple(
    "id created_at user_id username role actor action object_type object_id patient_id ip path summary prev_hash "
    "hash".split()
)


# --- Table specs: the one place that maps generated values to columns -----------------


@dataclasses.dataclass
class TableSpec:
    model: str  # "app_label.ModelName"
    columns: tuple[str, ...]  # column names, in the order the generator yields them
    rows: Callable[[World], Iterator] | None
    count: Callable[[Scale], int]
    # Blocks of (row count, COPY text) instead of rows: ``lines(world, end)`` where ``end`` is
    # the text of the columns left out plus the newline (audit: every column, end ignored).
    lines: Callable[[World, str], Iterator[tuple[int, str]]] | None = None
    # Rows hanging off one discharged session (rows is None): fed from one shared pass.
    per_session: Callable[[World, GenSession, int, str], tuple[int, str]] | None = None
    every_column: bool = False  # ``lines`` covers every column (no defaults can be appended)


def cols(names: str) -> tuple[str, ...]:
    return tuple(names.split())


def tables() -> list[TableSpec]:
    def discharged_estimate(s: Scale) -> int:  # progress bar estimate only
        return int(s.sessions * 0.88)

    return [
        TableSpec("clinic.Site", cols("id name time_zone phone"), site_rows, lambda s: s.sites),
        TableSpec("clinic.OpeningHours", cols("site_id weekday opens closes"), opening_rows, lambda s: 7 * s.sites),
        TableSpec("clinic.Chair", cols("id site_id name active"), chair_rows, lambda s: s.sites * s.chairs_per_site),
        TableSpec(
            "clinic.Patient",
            cols(
                "id mrn first_name last_name date_of_birth sex phone email site_id rems_enrollment_id "
                "rems_enrollment_date created_at"
            ),
            patient_rows,
            lambda s: s.patients,
        ),
        TableSpec(
            "clinic.EscortContact",
            cols("id patient_id name phone relationship is_emergency_contact"),
            escort_rows,
            lambda s: s.patients,
        ),
        TableSpec(
            "scheduling.Course",
            cols(
                "id patient_id protocol_id drug site_id start_date weekdays start_time status created_by_id created_at"
            ),
            course_rows,
            lambda s: s.patients,
        ),
        TableSpec(
            "scheduling.Session",
            cols(
                "id patient_id course_id chair_id start planned_end planned_dose_mg phase_name sequence status "
                "status_changed_at cancel_reason created_at"
            ),
            None,
            lambda s: s.sessions,
            lines=session_lines,
        ),
        TableSpec(
            "monitoring.CheckIn",
            cols(
                "id session_id arrived_at checked_in_by_id no_food_2h no_liquids_30min nasal_medicines_1h "
                "rems_enrolment_checked concomitant_medicines_reviewed transport_confirmed created_at"
            ),
            None,
            discharged_estimate,
            per_session=checkin_lines,
        ),
        TableSpec(
            "monitoring.DoseRecord",
            cols("id session_id drug dose_mg devices_planned lot_number recorded_by_id created_at"),
            None,
            discharged_estimate,
            per_session=dose_lines,
        ),
        TableSpec(
            "monitoring.Observation",
            cols("id session_id started_at created_at"),
            None,
            discharged_estimate,
            per_session=observation_lines,
        ),
        TableSpec(
            "monitoring.Discharge",
            cols(
                "id observation_id discharged_at discharged_by_id alert oriented steady picked_up_by "
                "picked_up_relationship picked_up_at matches_arrangement"
            ),
            None,
            discharged_estimate,
            per_session=discharge_lines,
        ),
        TableSpec(
            "monitoring.VitalsReading",
            cols(
                "id session_id kind checkpoint_minute taken_at systolic diastolic heart_rate spo2 respiratory_rate "
                "moaas dissociation flags recorded_by_id recorded_at"
            ),
            None,
            lambda s: s.readings,
            per_session=reading_lines,
        ),
        TableSpec(
            "clinic.AuditEvent",
            AUDIT_COLUMNS,
            None,
            lambda s: s.audit_events,
            lines=lambda w, end: audit_blocks(w),
            every_column=True,
        ),
    ]


# --- COPY ------------------------------------------------------------------------------


def _copy_value(value):
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """One value in COPY text format (what write_row sends for it)."""
    value = _copy_value(value)
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _filled_columns(model: type[models.Model], columns: tuple[str, ...]) -> tuple[list[str], tuple]:
    """The columns the spec leaves out and the constant value each gets."""
    now = dt.datetime.now(dt.UTC)
    extra_columns, extra_values = [], []
    for field in model._meta.concrete_fields:
        if field.column in columns or isinstance(field, models.AutoField | models.BigAutoField):
            continue
        if field.has_default():
            value = field.get_default()
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        elif field.null:
            value = None
        elif field.blank and isinstance(field, models.CharField | models.TextField):
            value = ""
        else:
            raise SystemExit(
                f"{model._meta.db_table}.{field.column} is required and has no default: "
                f"add it to the {model.__name__} spec in tests/bench/loader.py"
            )
        extra_columns.append(field.column)
        extra_values.append(_copy_value(value))
    unknown = set(columns) - {f.column for f in model._meta.concrete_fields}
    if unknown:
        raise SystemExit(f"{model._meta.db_table} has no column(s) {sorted(unknown)}: update tests/bench/loader.py")
    return extra_columns, tuple(extra_values)


class Progress:
    def __init__(self, label: str, total: int):
        self.label, self.total, self.done = label, max(total, 1), 0
        self.started = self.last = time.monotonic()

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= 2:
            self.last = now
            self._print()

    def finish(self) -> float:
        elapsed = time.monotonic() - self.started
        print(f"  {self.label:<28} {self.done:>11,} rows  {elapsed:6.1f} s", file=sys.stderr, flush=True)
        return elapsed

    def _print(self):
        pct = min(100, 100 * self.done / self.total)
        bar = "#" * int(pct / 5)
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        print(
            f"  {self.label:<28} [{bar:<20}] {pct:5.1f}% {self.done:>11,} rows {rate:>9,.0f}/s",
            file=sys.stderr,
            flush=True,
        )


def _copy_sql(spec: TableSpec) -> tuple[str, tuple]:
    model = apps.get_model(spec.model)
    extra_columns, extra_values = _filled_columns(model, spec.columns)
    if spec.every_column and extra_columns:
        raise SystemExit(f"{model._meta.db_table} has new columns {extra_columns}: add them to audit_blocks()")
    column_sql = ", ".join([*spec.columns, *extra_columns])
    return f"COPY {model._meta.db_table} ({column_sql}) FROM STDIN", extra_values


def _line_end(extra_values: tuple) -> str:
    return "".join(f"\t{_copy_text(v)}" for v in extra_values) + "\n"


def _table(spec: TableSpec) -> str:
    return apps.get_model(spec.model)._meta.db_table


def _reset_sequence(cursor, spec: TableSpec) -> None:
    table = _table(spec)
    if "id" in spec.columns:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))"  # noqa: S608 - table names come from model metadata
        )


def copy_table(cursor, spec: TableSpec, world: World) -> dict:
    table = _table(spec)
    progress = Progress(table, spec.count(world.scale))
    sql, extra_values = _copy_sql(spec)
    with cursor.copy(sql) as copy:
        if spec.lines is not None:
            pending, size = [], 0
            for count, text in spec.lines(world, _line_end(extra_values)):
                pending.append(text)
                size += count
                if size >= 10_000:
                    copy.write("".join(pending))
                    progress.step(size)
                    pending, size = [], 0
            copy.write("".join(pending))
            progress.step(size)
        else:
            for row in spec.rows(world):
                copy.write_row(tuple(_copy_value(v) for v in row) + extra_values)
                progress.step()
    seconds = progress.finish()
    _reset_sequence(cursor, spec)
    return {"table": table, "rows": progress.done, "seconds": round(seconds, 1)}


def _bulk_connection():
    """A separate psycopg connection (autocommit) with the loader's session settings."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    conn = psycopg.connect(**params, autocommit=True)
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET session_replication_role = replica")
    return conn


def copy_per_session(specs: list[TableSpec], world: World) -> list[dict]:
    """One pass over the discharged sessions feeding one COPY per table, each on its own
    connection (a connection carries one COPY at a time)."""
    progress = Progress("per-session tables", int(world.scale.sessions * 0.88))
    counts = [0] * len(specs)
    nurses = [world.nurses_of(s) for s in range(world.scale.sites)]
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(_bulk_connection()) for _ in specs]
        feeds = []
        for spec, conn in zip(specs, conns, strict=True):
            sql, extra = _copy_sql(spec)
            feeds.append((stack.enter_context(conn.cursor().copy(sql)), spec.per_session, _line_end(extra), []))
        sessions = 0
        for g in iter_sessions(world):
            if g.status != "discharged":
                continue
            nurse = nurses[g.site][g.id % 2]
            for n, (_, lines, end, pending) in enumerate(feeds):
                count, text = lines(world, g, nurse, end)
                pending.append(text)
                counts[n] += count
            sessions += 1
            if sessions % BLOCK_ROWS == 0:
                for copy, _, _, pending in feeds:
                    copy.write("".join(pending))
                    pending.clear()
                progress.step(BLOCK_ROWS)
        for copy, _, _, pending in feeds:
            copy.write("".join(pending))
        progress.step(sessions % BLOCK_ROWS)
    seconds = progress.finish()
    results = []
    with _bulk_connection() as conn, conn.cursor() as cursor:
        for spec, count in zip(specs, counts, strict=True):
            _reset_sequence(cursor, spec)
            results.append({"table": _table(spec), "rows": count, "seconds": round(seconds, 1)})
    return results


# --- Indexes: built once after the load instead of row by row during it -----------------

SECONDARY_INDEXES_SQL = """
SELECT c.relname, i.relname, pg_get_indexdef(i.oid), pg_relation_size(c.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace ns ON ns.oid = c.relnamespace
WHERE ns.nspname = current_schema() AND c.relname = ANY(%s)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
ORDER BY c.relname, i.relname
"""


def secondary_indexes(cursor, tables_: list[str]) -> list[tuple[str, str, str, int]]:
    """(table, index, CREATE INDEX statement, table size) of the indexes on ``tables_`` that
    back no constraint (primary keys, unique and exclusion constraints stay in place)."""
    cursor.execute(SECONDARY_INDEXES_SQL, [tables_])
    return [tuple(row) for row in cursor.fetchall()]


def drop_indexes(cursor, indexes) -> None:
    for _, name, _, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')


def create_indexes(indexes, *, workers: int = 2, label: str = "indexes") -> float:
    """Run the CREATE INDEX statements of ``indexes`` on ``workers`` connections at once,
    largest table first. The work is in the server, so threads are enough."""
    import threading

    started = time.monotonic()
    todo = sorted(indexes, key=lambda ix: -ix[3])
    lock = threading.Lock()
    done: list[str] = []
    errors: list[BaseException] = []

    def work():
        try:
            with _bulk_connection() as conn:
                # 10 million audit rows sort in memory with 2 GB (an external sort is ~20% slower).
                conn.execute("SET maintenance_work_mem = '2GB'")
                conn.execute("SET max_parallel_maintenance_workers = 0")
                while True:
                    with lock:
                        if not todo or errors:
                            return
                        _, name, definition, _ = todo.pop(0)
                    conn.execute(definition)
                    with lock:
                        done.append(name)
                        elapsed = time.monotonic() - started
                        print(
                            f"  {label:<28} {len(done):>3}/{len(indexes)} {name} ({elapsed:.0f} s)",
                            file=sys.stderr,
                            flush=True,
                        )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(min(workers, len(indexes)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.monotonic() - started


# --- The load --------------------------------------------------------------------------


def _load_audit_child(spec: TableSpec, world: World, pipe) -> None:
    """The audit table in a second process (its hash chain is one sequential pass)."""
    try:
        with _bulk_connection() as conn, conn.cursor() as cursor:
            result = copy_table(cursor, spec, world)
        pipe.send(("ok", result))
    except BaseException:  # noqa: BLE001 - reported to the parent, which stops the load
        import traceback

        pipe.send(("error", traceback.format_exc()))
    finally:
        pipe.close()


def load(world: World, *, processes: int = 2) -> list[dict]:
    """COPY every table in dependency order (each COPY commits on its own), then ANALYZE.

    Foreign keys and the audit table's append-only trigger are row triggers; the load runs
    with ``session_replication_role = replica`` so PostgreSQL skips them (the generated rows
    are consistent by construction, and only INSERT/COPY ever touches the audit table).
    Check and exclusion constraints, primary keys and unique constraints stay in force; the
    other indexes of the big tables are dropped before their COPY and created again from
    their own definitions afterwards (checked to match). With ``processes=2`` the audit
    trail is generated in a second process while this one loads the sessions."""
    import multiprocessing

    specs = tables()
    small = [s for s in specs if s.rows is not None]
    sessions = [s for s in specs if s.model == "scheduling.Session"]
    per_session = [s for s in specs if s.per_session]
    audit = [s for s in specs if s.model == "clinic.AuditEvent"]
    results = []
    with _bulk_connection() as conn, conn.cursor() as cursor:
        for spec in small:
            results.append(copy_table(cursor, spec, world))
        session_tables = [_table(s) for s in sessions + per_session]
        session_indexes = secondary_indexes(cursor, session_tables)
        audit_indexes = secondary_indexes(cursor, [_table(s) for s in audit])
        drop_indexes(cursor, session_indexes + audit_indexes)
    print(f"  dropped {len(session_indexes) + len(audit_indexes)} indexes until the data is in", file=sys.stderr)

    child = None
    audit_result = None
    connection.close()  # a forked child must not inherit an open connection
    if processes > 1:
        receive, send = multiprocessing.Pipe(duplex=False)
        child = multiprocessing.get_context("fork").Process(
            target=_load_audit_child, args=(audit[0], world, send), name="audit-loader"
        )
        child.start()
        send.close()
    try:
        with _bulk_connection() as conn, conn.cursor() as cursor:
            results += [copy_table(cursor, s, world) for s in sessions]
        results += copy_per_session(per_session, world)
        create_indexes(session_indexes, workers=1 if child else 2, label="session indexes")
        if child is None:
            with _bulk_connection() as conn, conn.cursor() as cursor:
                audit_result = copy_table(cursor, audit[0], world)
        else:
            try:
                status, payload = receive.recv()
            except EOFError:
                status, payload = "error", f"the audit process exited with code {child.exitcode}"
            child.join()
            if status != "ok":
                raise SystemExit(f"audit loader failed:\n{payload}")
            audit_result = payload
        results.append(audit_result)
        create_indexes(audit_indexes, workers=2, label="audit indexes")
    finally:
        if child is not None and child.is_alive():
            child.terminate()
            child.join()
    with _bulk_connection() as conn, conn.cursor() as cursor:
        after = secondary_indexes(cursor, session_tables + [_table(s) for s in audit])
        if {ix[:3] for ix in after} != {ix[:3] for ix in session_indexes + audit_indexes}:
            raise SystemExit("the indexes after the load differ from the schema's: migrate the database again")
        started = time.monotonic()
        cursor.execute("ANALYZE")
        print(f"  ANALYZE {time.monotonic() - started:.1f} s", file=sys.stderr)
    return results
