"""Where a benchmarked page spends its time, without the HTTP load: each page of
``make bench`` is requested through Django's test client on the loaded database (production
settings, DEBUG off), and the time is split into SQL and the rest.

    python tests/bench/profile_pages.py                      # every page, 40 requests each
    python tests/bench/profile_pages.py --pages board,week -n 100
    python tests/bench/profile_pages.py --pages board --pyinstrument   # call tree of one page
    PROFILE_ALL=1 python tests/bench/profile_pages.py --pages board --pyinstrument   # with library frames
    python tests/bench/profile_pages.py --pages board --sql            # each statement, slowest first
    python tests/bench/profile_pages.py --pages board --cprofile       # functions by cumulative time
    python tests/bench/profile_pages.py --pages week --cold            # the cache emptied before each request
    python tests/bench/profile_pages.py --plans                        # statements planned at every execution

Reads the database ``run_bench.py`` loaded (``--db``, default clinic_bench)."""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


class SqlTimer:
    """Wall time spent in the database driver, and statements other than transaction control."""

    def __init__(self, keep=False):
        self.seconds = 0.0
        self.statements = 0
        self.kept = [] if keep else None

    def __call__(self, execute, sql, params, many, context):
        from tests.bench.run_bench import TRANSACTION_CONTROL

        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - started
            self.seconds += seconds
            if self.kept is not None:
                self.kept.append((seconds, sql, params))
            self.statements += not sql.lstrip().upper().startswith(TRANSACTION_CONTROL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="clinic_bench")
    parser.add_argument("--scale", default="full")
    parser.add_argument("--pages", default="", help="only pages whose name contains one of these (comma-separated)")
    parser.add_argument("-n", type=int, default=40, help="timed requests per page (after 3 warm-up requests)")
    parser.add_argument("--pyinstrument", action="store_true", help="print the call tree of the first page")
    parser.add_argument("--flat", action="store_true", help="with --pyinstrument: functions by own time")
    parser.add_argument("--cprofile", action="store_true", help="print functions by cumulative time (cProfile)")
    parser.add_argument("--cold", action="store_true", help="empty the cache before each timed request")
    parser.add_argument("--sql", action="store_true", help="print each statement of one request, slowest first")
    parser.add_argument("--explain", type=int, default=0, help="with --sql: EXPLAIN ANALYZE the N slowest SELECTs")
    parser.add_argument(
        "--plans", action="store_true", help="at the end: prepared statements PostgreSQL plans at every execution"
    )
    args = parser.parse_args()

    from tests.bench.run_bench import MODEL_BACKEND, bench_env, page_plans
    from tests.bench.scales import SCALES

    env = bench_env(args)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from tests.bench import prepare

    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        call_command("collectstatic", interactive=False, verbosity=0)
    world = prepare.world_for(SCALES[args.scale])
    plans = page_plans(world, prepare.prepare_board())
    if args.pages:
        wanted = [w.strip() for w in args.pages.split(",")]
        plans = [p for p in plans if any(w in p["page"] for w in wanted)]
    User = get_user_model()
    print(f"{'page':34} {'mean ms':>8} {'p95 ms':>8} {'SQL ms':>8} {'queries':>8}")
    for p in plans:
        client = Client()
        client.force_login(User.objects.get(username=p["username"]), backend=MODEL_BACKEND)

        def send(i, p=p, client=client):
            path = p["paths"][i % len(p["paths"])]
            if p["method"] == "POST":  # form-encoded, as locust sends it (the test client's default is multipart)
                response = client.post(path, urlencode(p["data"]), content_type="application/x-www-form-urlencoded")
            else:
                response = client.get(path)
            # Only the session cookie goes back, as in the load test: the messages cookie of a
            # POST that is never followed to its page would otherwise grow with every request.
            for name in [name for name in client.cookies if name != settings.SESSION_COOKIE_NAME]:
                del client.cookies[name]
            return response

        for i in range(3):
            send(i)
        times, sql_times, counts = [], [], []
        for i in range(args.n):
            if args.cold:
                cache.clear()
            timer = SqlTimer()
            with connection.execute_wrapper(timer):
                started = time.perf_counter()
                response = send(i)
                times.append((time.perf_counter() - started) * 1000)
            sql_times.append(timer.seconds * 1000)
            counts.append(timer.statements)
        assert response.status_code == p["expect"], (p["page"], response.status_code)
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
        print(
            f"{p['page'][:34]:34} {statistics.mean(times):8.1f} {p95:8.1f} "
            f"{statistics.mean(sql_times):8.1f} {max(counts):8d}"
        )
        if args.sql:
            timer = SqlTimer(keep=True)
            with connection.execute_wrapper(timer):
                send(0)
            slowest = sorted(timer.kept, key=lambda q: -q[0])
            for seconds, sql, params in slowest:
                text = sql % tuple(params) if params and "%s" in sql else sql
                print(f"  {seconds * 1000:6.2f} ms  {text[:220]}")
            selects = [(sql, params) for _, sql, params in slowest if sql.lstrip().upper().startswith("SELECT")]
            for sql, params in selects[: args.explain]:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    print("\n" + sql[:400] + "\n" + "\n".join(row[0] for row in cursor.fetchall()))
        if args.cprofile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(args.n):
                send(i)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(70)
        if args.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            for i in range(args.n):
                send(i)
            profiler.stop()
            if args.flat:
                from pyinstrument.renderers import ConsoleRenderer

                renderer = ConsoleRenderer(unicode=False, color=False, flat=True, show_all=True)
                print("\n".join(profiler.output(renderer).splitlines()[:60]))
            else:
                print(profiler.output_text(unicode=False, color=False, show_all=bool(os.environ.get("PROFILE_ALL"))))
            args.pyinstrument = False
    if args.plans:
        # A prepared statement still on custom plans after its five trial runs is planned again
        # at every execution (PostgreSQL judged its generic plan worse, e.g. a LIMIT parameter).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements "
                "WHERE custom_plans > 5 AND generic_plans = 0 ORDER BY custom_plans DESC"
            )
            print("\nPlanned at every execution (generic plans, custom plans, statement):")
            for generic, custom, statement in cursor.fetchall():
                print(f"  {generic:4d} {custom:6d}  {' '.join(statement.split())[:200]}")


if __name__ == "__main__":
    main()
