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
from decimal import Decimal

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


def course_rows(w: World) -> Iterator[tuple]:
    for i in range(w.scale.patients):
        yield (
            i + 1,
            i + 1,
            w.protocol_id,
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


def session_rows(w: World) -> Iterator[tuple]:
    for g in iter_sessions(w):
        past = g.status != "booked"
        yield (
            g.id,
            g.patient_id,
            g.patient_id,  # course: one per patient, same id
            g.chair_id,
            g.start,
            g.start + dt.timedelta(minutes=SESSION_MINUTES),
            Decimal("56.0"),
            "Maintenance (every 2 weeks)",
            g.sequence,
            g.status,
            g.start if past else g.start - dt.timedelta(days=14),
            "Patient unwell" if g.status == "cancelled" else "",
            g.start - dt.timedelta(days=14),
        )


# Rows that hang off one discharged session: generated in the same pass over the sessions
# and streamed to one COPY each (one connection per table).


def checkin_rows(w: World, g: GenSession) -> Iterator[tuple]:
    arrived = g.start - dt.timedelta(minutes=10)
    yield (g.id, g.id, arrived, w.nurses_of(g.site)[g.id % 2], True, True, True, True, True, True, arrived)


def dose_rows(w: World, g: GenSession) -> Iterator[tuple]:
    given = g.start + dt.timedelta(minutes=DOSE_MINUTES)
    yield (g.id, g.id, "esketamine", Decimal("56.0"), 2, f"LOT{g.id % 997:04d}", w.nurses_of(g.site)[g.id % 2], given)


def observation_rows(w: World, g: GenSession) -> Iterator[tuple]:
    started = g.start + dt.timedelta(minutes=DOSE_MINUTES)
    yield (g.id, g.id, started, started)


def discharge_rows(w: World, g: GenSession) -> Iterator[tuple]:
    at = g.start + dt.timedelta(minutes=DOSE_MINUTES + 125)
    yield (g.id, g.id, at, w.nurses_of(g.site)[g.id % 2], True, True, True, "Escort", "Partner", at, True)


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


def readings_per_session(w: World) -> float:
    expected = w.scale.sessions * 0.9 * (w.busy_from - w.first_day).days / (w.last_day - w.first_day).days
    return min(len(READING_PLAN), w.scale.readings / max(expected, 1))


def reading_rows(w: World, g: GenSession) -> Iterator[tuple]:
    rng = random.Random(g.id)
    per_session = w.readings_per_session
    count = int(per_session) + (1 if rng.random() < per_session % 1 else 0)
    nurse = w.nurses_of(g.site)[g.id % 2]
    dosed = g.start + dt.timedelta(minutes=DOSE_MINUTES)
    for n, (kind, minute, after) in enumerate(sorted(READING_PLAN[:count], key=lambda r: r[2])):
        systolic = 110 + int(rng.random() * 40)
        taken = dosed + dt.timedelta(minutes=after)
        yield (
            g.id * 8 + n,
            g.id,
            kind,
            minute,
            taken,
            systolic,
            65 + int(rng.random() * (systolic - 85)),
            58 + int(rng.random() * 37),
            95 + int(rng.random() * 6),
            12 + int(rng.random() * 7),
            5 if after > 60 else 4 + int(rng.random() * 2),
            False,
            "[]",
            nurse,
            taken,
        )


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

    def append(self, body: str, fields: tuple) -> tuple[str, str]:
        """``body``: the row's part of the message (``"v1",...,<summary>``); ``fields``: the
        same values for ``row_digest`` when the row is cross-checked."""
        prev = self.prev
        if self.fast:
            mac = self.mac.copy()
            mac.update(f'[{body},"{prev}"]'.encode())
            digest = mac.hexdigest()
            if self.count < 100 or self.count % self.CHECK_EVERY == 0:
                expected = row_digest(self.values(fields), prev)
                if expected != digest:
                    print("audit chain: fast path differs from clinic.audit.row_digest; using it", file=sys.stderr)
                    self.fast = False
                    digest = expected
        else:
            digest = row_digest(self.values(fields), prev)
        self.count += 1
        self.prev = digest
        return prev, digest


DAY_US = 86_400_000_000


def audit_lines(w: World) -> Iterator[str]:
    """COPY text lines (the columns of AUDIT_COLUMNS), oldest first: id order is time order."""
    rng = random.Random(SEED + 1)
    rnd = rng.random
    weights = [k[0] for k in AUDIT_KINDS]
    kinds = [(k, json.dumps(k[4], sort_keys=True, separators=(",", ":"))) for k in AUDIT_KINDS]
    start_us = (dt.datetime.combine(w.first_day, dt.time(12), tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
    end_us = (dt.datetime.combine(w.today, dt.time(0), tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
    n = w.scale.audit_events
    step = (end_us - start_us) // n
    chain = AuditChain()
    staff = w.staff
    n_staff = len(staff)
    n_sessions = w.scale.sessions
    n_patients = w.scale.patients
    cached_day, day_prefix = None, ""
    batch = 4096
    for first in range(0, n, batch):
        picks = rng.choices(kinds, weights=weights, k=min(batch, n - first))
        for offset, ((_, action, object_type, pattern, summary), summary_json) in enumerate(picks):
            i = first + offset
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
                patient_id, object_id = p, str(p)
            elif object_type in ("session", "vitalsreading"):
                patient_id, object_id = p, str(s)
            else:
                patient_id, object_id = None, ""
            ip = f"10.{site}.{i % 200}.{1 + i % 250}"
            path = pattern.format(p=p, s=s)
            patient_json = "null" if patient_id is None else patient_id
            body = (
                f'"v1","{iso}",{uid},"{username}","{role}","staff","{action}","{object_type}","{object_id}",'
                f'{patient_json},"{ip}","{path}",{summary_json}'
            )

            fields = (us, uid, username, role, action, object_type, object_id, patient_id, ip, path, summary)
            prev, digest = chain.append(body, fields)
            patient_text = NULL if patient_id is None else patient_id
            yield (
                f"{i + 1}\t{iso}\t{uid}\t{username}\t{role}\tstaff\t{action}\t{object_type}\t{object_id}\t"
                f"{patient_text}\t{ip}\t{path}\t{summary_json}\t{prev}\t{digest}\n"
            )


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
    raw_lines: bool = False  # the generator yields COPY text lines covering every column
    # Rows hanging off one discharged session (rows is None): fed from one shared pass.
    per_session: Callable[[World, GenSession], Iterator] | None = None


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
            cols("id patient_id protocol_id site_id start_date weekdays start_time status created_by_id created_at"),
            course_rows,
            lambda s: s.patients,
        ),
        TableSpec(
            "scheduling.Session",
            cols(
                "id patient_id course_id chair_id start planned_end planned_dose_mg phase_name sequence status "
                "status_changed_at cancel_reason created_at"
            ),
            session_rows,
            lambda s: s.sessions,
        ),
        TableSpec(
            "monitoring.CheckIn",
            cols(
                "id session_id arrived_at checked_in_by_id no_food_2h no_liquids_30min nasal_medicines_1h "
                "rems_enrolment_checked concomitant_medicines_reviewed transport_confirmed created_at"
            ),
            None,
            discharged_estimate,
            per_session=checkin_rows,
        ),
        TableSpec(
            "monitoring.DoseRecord",
            cols("id session_id drug dose_mg devices_planned lot_number recorded_by_id created_at"),
            None,
            discharged_estimate,
            per_session=dose_rows,
        ),
        TableSpec(
            "monitoring.Observation",
            cols("id session_id started_at created_at"),
            None,
            discharged_estimate,
            per_session=observation_rows,
        ),
        TableSpec(
            "monitoring.Discharge",
            cols(
                "id observation_id discharged_at discharged_by_id alert oriented steady picked_up_by "
                "picked_up_relationship picked_up_at matches_arrangement"
            ),
            None,
            discharged_estimate,
            per_session=discharge_rows,
        ),
        TableSpec(
            "monitoring.VitalsReading",
            cols(
                "id session_id kind checkpoint_minute taken_at systolic diastolic heart_rate spo2 respiratory_rate "
                "moaas dissociation flags recorded_by_id recorded_at"
            ),
            None,
            lambda s: s.readings,
            per_session=reading_rows,
        ),
        TableSpec("clinic.AuditEvent", AUDIT_COLUMNS, audit_lines, lambda s: s.audit_events, raw_lines=True),
    ]


# --- COPY ------------------------------------------------------------------------------


def _copy_value(value):
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


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
        print(f"  {self.label:<28} {self.done:>11,} rows  {elapsed:6.1f} s", file=sys.stderr)
        return elapsed

    def _print(self):
        pct = min(100, 100 * self.done / self.total)
        bar = "#" * int(pct / 5)
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        print(f"  {self.label:<28} [{bar:<20}] {pct:5.1f}% {self.done:>11,} rows {rate:>9,.0f}/s", file=sys.stderr)


def _copy_sql(spec: TableSpec) -> tuple[str, tuple]:
    model = apps.get_model(spec.model)
    extra_columns, extra_values = _filled_columns(model, spec.columns)
    if spec.raw_lines and extra_columns:
        raise SystemExit(f"{model._meta.db_table} has new columns {extra_columns}: add them to audit_lines()")
    column_sql = ", ".join([*spec.columns, *extra_columns])
    return f"COPY {model._meta.db_table} ({column_sql}) FROM STDIN", extra_values


def _reset_sequence(cursor, spec: TableSpec) -> None:
    table = apps.get_model(spec.model)._meta.db_table
    if "id" in spec.columns:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))"  # noqa: S608 - table names come from model metadata
        )


def copy_table(cursor, spec: TableSpec, world: World) -> dict:
    table = apps.get_model(spec.model)._meta.db_table
    progress = Progress(table, spec.count(world.scale))
    sql, extra_values = _copy_sql(spec)
    with cursor.copy(sql) as copy:
        if spec.raw_lines:
            buffer = []
            for line in spec.rows(world):
                buffer.append(line)
                if len(buffer) >= 5000:
                    copy.write("".join(buffer))
                    progress.step(len(buffer))
                    buffer = []
            copy.write("".join(buffer))
            progress.step(len(buffer))
        else:
            for row in spec.rows(world):
                copy.write_row(tuple(_copy_value(v) for v in row) + extra_values)
                progress.step()
    seconds = progress.finish()
    _reset_sequence(cursor, spec)
    return {"table": table, "rows": progress.done, "seconds": round(seconds, 1)}


def _bulk_connection():
    """A separate psycopg connection with the loader's session settings."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    conn = psycopg.connect(**params)
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET session_replication_role = replica")
    return conn


def copy_per_session(specs: list[TableSpec], world: World) -> list[dict]:
    """One pass over the discharged sessions feeding one COPY per table, each on its own
    connection (a connection carries one COPY at a time)."""
    progress = Progress("per-session tables", int(world.scale.sessions * 0.88))
    counts = [0] * len(specs)
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(_bulk_connection()) for _ in specs]
        feeds = []
        for spec, conn in zip(specs, conns, strict=True):
            sql, extra = _copy_sql(spec)
            feeds.append((stack.enter_context(conn.cursor().copy(sql)), spec.per_session, extra))
        for g in iter_sessions(world):
            if g.status != "discharged":
                continue
            for n, (copy, rows, extra) in enumerate(feeds):
                for row in rows(world, g):
                    copy.write_row(row + extra)
                    counts[n] += 1
            progress.step()
    seconds = progress.finish()
    results = []
    with connection.cursor() as cursor:
        for spec, count in zip(specs, counts, strict=True):
            _reset_sequence(cursor, spec)
            table = apps.get_model(spec.model)._meta.db_table
            results.append({"table": table, "rows": count, "seconds": round(seconds, 1)})
    return results


def load(world: World) -> list[dict]:
    """COPY every table in dependency order (each COPY commits on its own), then ANALYZE.

    Foreign keys and the audit table's append-only trigger are row triggers; the load runs
    with ``session_replication_role = replica`` so PostgreSQL skips them (the generated rows
    are consistent by construction, and only INSERT/COPY ever touches the audit table).
    Check and exclusion constraints and every index stay in force."""
    results = []
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # the psycopg 3 cursor, for COPY
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET session_replication_role = replica")
        try:
            specs = tables()
            for spec in specs:
                if spec.rows is not None and spec.model != "clinic.AuditEvent":
                    results.append(copy_table(cursor, spec, world))
            results += copy_per_session([s for s in specs if s.per_session], world)
            results += [copy_table(cursor, s, world) for s in specs if s.model == "clinic.AuditEvent"]
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  ANALYZE {time.monotonic() - started:.1f} s", file=sys.stderr)
    return results
