"""Scale benchmark: load a clinic network's worth of history into PostgreSQL, serve the app
with gunicorn (production settings), drive each page with locust and compare it with a
baseline Django page and the Django admin changelist of sessions.

Each page is measured for --duration seconds in blocks that alternate with the baseline page
(baseline, page, page, baseline, four times over), and its p95 is compared with the baseline's p95
of the same run: drift of the machine during the benchmark moves both alike.

    make bench                                  # full scale (10 sites, 500,000 sessions, ...)
    make bench ARGS="--scale small"             # 1/100 of the data, for a quick run
    make bench ARGS="--skip-load"               # measure again on the loaded database
    make bench ARGS="--load-only --db clinic_bench_x"  # only create and load a database

Needs PostgreSQL (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432) and Redis
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/9). Uses its own database (clinic_bench),
created and migrated here. Results: var/bench/results-<scale>.json and report-<scale>.md.
"""

import argparse
import csv
import datetime as dt
import json
import math
import os
import random
import socket
import subprocess  # noqa: S404 - starts gunicorn, locust and helper processes
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "var" / "bench"
BIN = Path(sys.executable).parent
SEARCH_PREFIXES = ["Gar", "Smi", "Ngu", "Pat", "Mor", "Wil", "Tho", "Rob"]
MODEL_BACKEND = "clinic.auth.StaffBackend"
# Not counted as queries: the transaction around each request (ATOMIC_REQUESTS).
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
BASELINE, ADMIN = "baseline view", "admin changelist (sessions)"


def bench_env(args) -> dict:
    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    return {
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": f"{server}/{args.db}",
        "DB_CONN_MAX_AGE": "60",
        "CELERY_BROKER_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "ROOT_URLCONF": "tests.bench.urls",
        "AUDIT_CHAIN_KEY": "bench-audit-chain-key-" + "k" * 20,  # at least 32 characters (clinic.E001)
        # Sessions are made with force_login: the pages are measured, not the second factor.
        "OTP_REQUIRED_ROLES": "",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- Database --------------------------------------------------------------------------


def recreate_database(args) -> None:
    import psycopg

    if not args.db.startswith("clinic_bench"):
        raise SystemExit("--db must start with clinic_bench: the benchmark drops and recreates it")
    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')


def load_data(args, scale) -> dict:
    from django.core.management import call_command

    from tests.bench import loader, prepare

    log(f"creating database {args.db} and migrating")
    recreate_database(args)
    call_command("migrate", verbosity=0)
    prepare.create_users(scale)
    world = prepare.world_for(scale)
    log(f"loading scale {scale.name!r}: {scale}")
    started = time.monotonic()
    tables = loader.load(world)
    seconds = round(time.monotonic() - started, 1)
    log(f"loaded in {seconds} s")
    meta = {"scale": scale.name, "loaded_on": world.today.isoformat(), "load_seconds": seconds, "tables": tables}
    (OUT / f"loaded-{args.db}.json").write_text(json.dumps(meta, indent=2))
    return meta


def database_size(args) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(%s))", [args.db])
        return cursor.fetchone()[0]


# --- The pages -------------------------------------------------------------------------


def page_plans(world, board_ids: list[int]) -> list[dict]:
    from django.urls import Resolver404, resolve

    from clinic.models import AuditEvent
    from clinic.selectors_audit import encode_cursor
    from tests.bench.prepare import busy_site
    from tests.bench.urls import ADMIN_CHANGELIST

    rng = random.Random(7)
    site = busy_site()
    nurse_of_site = next(name for _, name, role, s in world.staff if s == 0 and role == "Nurse")
    deep_day = world.first_day + dt.timedelta(days=365)
    deep_event = AuditEvent.objects.filter(created_at__lt=dt.datetime.combine(deep_day, dt.time(), tzinfo=dt.UTC))
    deep_event = deep_event.order_by("-created_at", "-id").first()
    patients = [rng.randrange(1, world.scale.patients + 1) for _ in range(200)]
    vitals = {
        "checkpoint": "extra",
        "taken_at": "",
        "systolic": "128",
        "diastolic": "78",
        "heart_rate": "72",
        "spo2": "98",
        "respiratory_rate": "14",
        "moaas": "5",
        "notes": "",
    }

    def plan(page, user, paths, method="GET", data=None, expect=200):
        return {
            "page": page,
            "username": user,
            "paths": paths,
            "method": method,
            "data": data or {},
            "expect": expect,
        }

    plans = [
        plan(BASELINE, "bench_nurse", [f"/bench/baseline/?pk={p}" for p in patients]),
        plan(ADMIN, "bench_superuser", [ADMIN_CHANGELIST]),
        plan("board (20 in observation)", "bench_nurse", [f"/board/?site={site.pk}"]),
        plan("week view (busy site)", "bench_scheduler", [f"/schedule/week/?site={site.pk}"]),
        plan("patient search", "bench_scheduler", [f"/patients/?q={q}" for q in SEARCH_PREFIXES]),
        plan("patient detail", "bench_nurse", [f"/patients/{p}/" for p in patients]),
        plan("vitals POST", "bench_nurse", [f"/sessions/{pk}/day/vitals/" for pk in board_ids], "POST", vitals, 302),
        plan("audit report page 1", "bench_admin", ["/audit/"]),
        plan(
            "audit filtered, 4 years back",
            "bench_admin",
            [f"/audit/?username={nurse_of_site}&date_to={deep_day.isoformat()}"],
        ),
    ]
    if deep_event is not None:
        plans.append(plan("audit page 4 years back", "bench_admin", [f"/audit/?after={encode_cursor(deep_event)}"]))
    try:
        resolve("/reports/")
        plans.append(plan("compliance report", "bench_admin", ["/reports/"]))
    except Resolver404:
        pass
    return plans


# The CSRF secret every benchmark session holds (CSRF_USE_SESSIONS), sent as X-CSRFToken.
CSRF_SECRET = "benchcsrftoken0123456789abcdefgh"  # noqa: S105 - any 32 letters and digits


def sign_in(plans: list[dict], users: int) -> None:
    """Give each plan one signed-in session per locust user, as the page's role."""
    from django.contrib.auth import get_user_model
    from django.middleware.csrf import CSRF_SESSION_KEY
    from django.test import Client

    User = get_user_model()
    for p in plans:
        p["sessions"] = []
        p["csrf"] = CSRF_SECRET
        for _ in range(users):
            client = Client()
            client.force_login(User.objects.get(username=p["username"]), backend=MODEL_BACKEND)
            session = client.session
            session[CSRF_SESSION_KEY] = CSRF_SECRET
            session.save()
            p["sessions"].append(session.session_key)


def count_queries(plans: list[dict]) -> dict:
    """Queries per request of each page, run once through the test client on the same
    database (third request: the thresholds row is warm, and the compliance report, the
    board's rows and the week's grid are the copies computed by the first request, as under
    load within REPORT_CACHE_SECONDS and PAGE_CACHE_SECONDS; run with PAGE_CACHE_SECONDS=0
    to measure the board and the grid computed at every request).
    Also keeps the slowest query with its plan."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    User = get_user_model()
    results = {}
    for p in plans:
        client = Client()
        client.force_login(User.objects.get(username=p["username"]), backend=MODEL_BACKEND)
        send = client.post if p["method"] == "POST" else client.get
        args = (p["paths"][0], p["data"]) if p["method"] == "POST" else (p["paths"][0],)
        send(*args)
        send(*args)
        with CaptureQueriesContext(connection) as captured:
            response = send(*args)
        statements = [q for q in captured.captured_queries if not q["sql"].upper().startswith(TRANSACTION_CONTROL)]
        slowest = max(statements, key=lambda q: float(q["time"]), default=None)
        entry = {"queries": len(statements), "status": response.status_code}
        if slowest and slowest["sql"].lstrip().upper().startswith("SELECT"):
            entry["slowest_query"] = {"ms": round(float(slowest["time"]) * 1000, 1), "sql": slowest["sql"]}
            entry["slowest_query"]["plan"] = explain(slowest["sql"])
        results[p["page"]] = entry
    return results


def explain(sql: str) -> str:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())
    except Exception as exc:  # noqa: BLE001 - a plan we cannot get is reported, not fatal
        return f"(no plan: {exc})"


# --- Serving and load ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [str(BIN / "gunicorn"), "clinic.wsgi:application", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"], cwd=ROOT, env={**os.environ, **env})  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return proc, url
        except urllib.error.HTTPError:  # 503: no worker or beat in the benchmark, but gunicorn answers
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# Each page is measured in blocks alternating with the baseline (see tests/bench/locustfile.py):
# reference, page, page, reference, four times over, in a run twice as long as --duration.
BLOCKS = 16


def run_locust(p: dict, url: str, args, workdir: Path, reference: dict | None = None) -> dict[str, dict]:
    """Load one page for --duration seconds; with a reference page, also that page for as
    long, in alternating blocks. The results of each page measured, by name."""
    slug = "".join(c if c.isalnum() else "_" for c in p["page"])
    seconds = args.duration
    plan = dict(p)
    if reference is not None:
        seconds = 2 * args.duration
        plan["reference"] = {"page": reference["page"], "paths": reference["paths"], "block": seconds / BLOCKS}
    plan_file = workdir / f"{slug}.json"
    plan_file.write_text(json.dumps(plan))
    prefix = workdir / slug
    cmd = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "tests" / "bench" / "locustfile.py"),
        "--headless",
        "--only-summary",
        "-u",
        str(args.users),
        "-r",
        str(args.users),
        "-t",
        f"{seconds:g}s",
        "--host",
        url,
        "--csv",
        str(prefix),
        "--loglevel",
        "ERROR",
    ]
    times_file = workdir / f"{slug}-times.json"
    times_file.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_PLAN": str(plan_file), "BENCH_TIMES": str(times_file)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, check=False, capture_output=True, text=True)  # noqa: S603
    with open(f"{prefix}_stats.csv") as stats:
        rows = {r["Name"]: r for r in csv.DictReader(stats)}
    with open(f"{prefix}_failures.csv") as failures:
        errors = [(r["Name"], f"{r['Name']}: {r['Error']} x{r['Occurrences']}") for r in csv.DictReader(failures)]
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    measured = {}
    for name in [p["page"]] + ([reference["page"]] if reference is not None else []):
        row = rows.get(name)
        mine = [e for n, e in errors if n == name]
        if row is None:
            measured[name] = {"requests": 0, "failures": 0, "p50": None, "p95": None, "rps": 0.0}
            measured[name]["errors"] = mine or [done.stderr[-800:]]
            continue
        ordered = sorted(times.get(name, []))
        measured[name] = {
            "errors": mine,
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            # Exact percentiles of the successful responses (nearest rank), else locust's rounded ones.
            "p50": percentile(ordered, 50) if ordered else float(row["50%"]),
            "p95": percentile(ordered, 95) if ordered else float(row["95%"]),
            # Each page had half of a paired run.
            "rps": round(len(ordered) / args.duration, 1) if ordered else round(float(row["Requests/s"]), 1),
            "times": ordered,
        }
    return measured


def percentile(ordered: list[float], q: int) -> float:
    """The nearest-rank percentile of an ordered list, to 0.1 ms."""
    return round(ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)], 1)


def measure_export(args, env: dict, world) -> dict:
    """The CSV export of about one million audit rows (all of them at a smaller scale)."""
    per_day = world.scale.audit_events / (world.today - world.first_day).days
    cmd = [sys.executable, str(ROOT / "tests" / "bench" / "export_memory.py")]
    if world.scale.audit_events > 1_000_000:
        date_to = world.today - dt.timedelta(days=60)
        date_from = date_to - dt.timedelta(days=math.ceil(1_000_000 / per_day) - 1)
        cmd += ["--date-from", date_from.isoformat(), "--date-to", date_to.isoformat()]
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def verify_chain(env: dict) -> dict:
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "audit_verify"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    output = (done.stdout + done.stderr).strip().splitlines()
    return {
        "ok": done.returncode == 0,
        "output": output[-1] if output else "",
        "seconds": round(time.monotonic() - started),
    }


# --- Report ----------------------------------------------------------------------------


def ratio(value, reference) -> float | None:
    return round(value / reference, 2) if value and reference else None


def build_rows(results: dict, other: dict | None) -> list[dict]:
    pages = results["pages"]
    base_p95 = pages.get(BASELINE, {}).get("p95")
    admin_p95 = pages.get(ADMIN, {}).get("p95")
    rows = []
    for name, r in pages.items():
        other_queries = (other or {}).get("pages", {}).get(name, {}).get("queries")
        rows.append(
            {
                "page": name,
                "p50": r.get("p50"),
                "p95": r.get("p95"),
                "rps": r.get("rps"),
                "baseline_p95": r.get("baseline_p95", r.get("p95") if name == BASELINE else None),
                # The target: the page against the baseline measured in the same run.
                "x_baseline": ratio(r.get("p95"), r.get("baseline_p95") or base_p95),
                "x_baseline_all": ratio(r.get("p95"), base_p95),
                "x_admin": ratio(r.get("p95"), admin_p95),
                "queries": r.get("queries"),
                "queries_other_scale": other_queries,
                "failures": r.get("failures"),
            }
        )
    return rows


def render_table(results: dict, rows: list[dict], other_name: str) -> str:
    head = [
        "page",
        "p50 ms",
        "p95 ms",
        "req/s",
        "baseline p95, same run",
        "p95/baseline, same run",
        "p95/baseline, all runs",
        "p95/admin",
        "queries",
        f"queries ({other_name})",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["page"], r["p50"], r["p95"], r["rps"], r["baseline_p95"], r["x_baseline"], r["x_baseline_all"]]
        cells += [r["x_admin"], r["queries"]]
        cells.append(r["queries_other_scale"] if r["queries_other_scale"] is not None else "-")
        if r["failures"]:
            cells[0] = f"{r['page']} ({r['failures']} failed)"
        lines.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    export = results.get("export", {})
    if "peak_rss_mb" in export:
        lines.append("")
        lines.append(
            f"CSV export: {export['rows']:,} audit rows, {export['megabytes']} MB in {export['seconds']} s; "
            f"peak RSS {export['peak_rss_mb']} MB (process before the export: {export['rss_before_mb']} MB)"
        )
    elif export:
        lines.append(f"\nCSV export failed: {export.get('error', '')[:500]}")
    runs = results["pages"].get(BASELINE, {}).get("p95_runs")
    if runs:
        lines.append("")
        lines.append(
            f"Baseline p95 in each page's run: {min(runs)}-{max(runs)} ms; the baseline row pools all {len(runs)} runs."
        )
    return "\n".join(lines)


def render_markdown(results: dict, table: str) -> str:
    out = [
        f"# Scale benchmark: {results['scale']}",
        "",
        f"Run {results['started']} with `{results['command']}`; {results['users']} concurrent users, "
        f"{results['duration']} s per page plus as long for the baseline in alternating blocks, "
        f"gunicorn --workers 2, DEBUG=False. Database size {results['db_size']}.",
        "",
        table,
        "",
    ]
    if results.get("chain"):
        out += [f"Audit chain: {results['chain']['output']} ({results['chain']['seconds']} s)", ""]
    out += ["## Slowest query of each page (second request) and its plan", ""]
    for name, r in results["pages"].items():
        slow = r.get("slowest_query")
        if slow:
            out += [
                f"### {name}: {slow['ms']} ms",
                "",
                "```sql",
                slow["sql"],
                "```",
                "",
                "```",
                slow["plan"],
                "```",
                "",
            ]
    return "\n".join(out)


def main() -> None:
    from tests.bench.scales import SCALES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--duration", type=int, default=30, help="seconds of load per page (default 30)")
    parser.add_argument("--users", type=int, default=2, help="concurrent locust users (default 2, one per worker)")
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded database")
    parser.add_argument("--load-only", action="store_true", help="stop after loading the data")
    parser.add_argument("--db", default="clinic_bench", help="database name (dropped and recreated)")
    parser.add_argument("--verify-chain", choices=["auto", "yes", "no"], default="auto", help="auto: small only")
    parser.add_argument(
        "--pages",
        default="",
        help="only pages whose name contains one of these (comma-separated), with the baseline and the admin "
        "changelist; no CSV export",
    )
    args = parser.parse_args()
    scale = SCALES[args.scale]
    OUT.mkdir(parents=True, exist_ok=True)
    env = bench_env(args)
    os.environ.update(env)

    import django

    django.setup()
    from django.core.management import call_command

    from tests.bench import prepare

    started = dt.datetime.now(dt.UTC)
    if args.skip_load:
        meta = json.loads((OUT / f"loaded-{args.db}.json").read_text())
        if meta["scale"] != scale.name:
            raise SystemExit(f"{args.db} holds scale {meta['scale']!r}: run with --scale {meta['scale']}")
        call_command("migrate", verbosity=0)  # the code may have moved on since the load
    else:
        meta = load_data(args, scale)
        if args.load_only:
            print(json.dumps({k: meta[k] for k in ("scale", "load_seconds")}))
            return
    world = prepare.world_for(scale)
    board_ids = prepare.prepare_board()
    call_command("collectstatic", interactive=False, verbosity=0)
    plans = page_plans(world, board_ids)
    if args.pages:
        wanted = [w.strip() for w in args.pages.split(",")]
        plans = [p for p in plans if p["page"] in (BASELINE, ADMIN) or any(w in p["page"] for w in wanted)]
    log("counting queries per request")
    queries = count_queries(plans)
    results = {
        "scale": scale.name,
        "started": started.isoformat(timespec="seconds"),
        "command": "python tests/bench/run_bench.py " + " ".join(sys.argv[1:]),
        "users": args.users,
        "duration": args.duration,
        "load": meta,
        "db_size": database_size(args),
        "pages": {},
    }
    sign_in(plans, args.users)
    proc, url = start_gunicorn(env)
    baseline = next(p for p in plans if p["page"] == BASELINE)
    # Every page is measured in blocks alternating with the baseline, and compared with the
    # baseline of its own run: a machine that drifts during the benchmark moves both alike.
    results["pages"][BASELINE] = {}
    reference_times, reference_runs = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for p in plans:
                if p is baseline:
                    continue
                log(f"load: {p['page']}, alternating with the {BASELINE} ({2 * args.duration} s)")
                measured = run_locust(p, url, args, Path(tmp), reference=baseline)
                page, reference = measured[p["page"]], measured[BASELINE]
                page.pop("times", None)
                reference_times.extend(reference.pop("times", []))
                reference_runs.append(reference)
                results["pages"][p["page"]] = {**page, **queries[p["page"]], "baseline_p95": reference["p95"]}
    finally:
        stop(proc)
    reference_times.sort()
    results["pages"][BASELINE] = {
        **queries[BASELINE],
        "requests": sum(r["requests"] for r in reference_runs),
        "failures": sum(r["failures"] for r in reference_runs),
        "errors": [e for r in reference_runs for e in r["errors"]],
        "p50": percentile(reference_times, 50) if reference_times else None,
        "p95": percentile(reference_times, 95) if reference_times else None,
        "rps": round(len(reference_times) / (args.duration * len(reference_runs)), 1) if reference_runs else 0.0,
        "p95_runs": [r["p95"] for r in reference_runs],
    }
    if not args.pages:  # a run of some pages only measures those pages
        log("CSV export")
        results["export"] = measure_export(args, env, world)
    if args.verify_chain == "yes" or (args.verify_chain == "auto" and scale.audit_events <= 1_000_000):
        log("verifying the audit chain")
        results["chain"] = verify_chain(env)
    other_name = "full" if scale.name != "full" else "small"
    other_file = OUT / f"results-{other_name}.json"
    other = json.loads(other_file.read_text()) if other_file.exists() else None
    rows = build_rows(results, other)
    results["rows"] = rows
    table = render_table(results, rows, other_name)
    (OUT / f"results-{scale.name}.json").write_text(json.dumps(results, indent=2, default=str))
    (OUT / f"report-{scale.name}.md").write_text(render_markdown(results, table))
    print(table)
    print(f"\nSaved var/bench/results-{scale.name}.json and var/bench/report-{scale.name}.md")


if __name__ == "__main__":
    main()
