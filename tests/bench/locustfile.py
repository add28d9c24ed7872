"""Locust load for one page of the scale benchmark (run_bench.py starts it once per page).

BENCH_PLAN names a JSON file: {"page": name, "method": "GET"|"POST", "paths": [...],
"sessions": [session keys of the page's role], "csrf": the CSRF secret those sessions hold,
"data": {...}, "expect": status}. Each simulated user takes one signed-in session, then
requests the page's paths in turn with no think time. The session cookie is sent as an
explicit header: the production settings mark cookies Secure, and the benchmark talks plain
HTTP on loopback.

With "reference": {"page": name, "paths": [...], "block": seconds}, the run measures that
page too, in blocks of its own: reference, page, page, reference, reference, page, ... Every
user requests the same page at any moment (the block is read off one clock), so each block is
a run of one page on its own, and the reference's blocks sit as early and as late in the run as
the page's: a machine that gets slower or faster during the run moves both alike. When a block
begins, a user waits until no request of the other page is still under way, so the two pages
never share the server.
"""

import collections
import itertools
import json
import os
import random
import time

import gevent
from locust import HttpUser, constant, events, task

with open(os.environ["BENCH_PLAN"]) as plan_file:
    PLAN = json.load(plan_file)

REFERENCE = PLAN.get("reference")
# reference, page, page, reference: the pattern that cancels a steady drift.
PATTERN = (True, False, False, True)

USER_NUMBER = itertools.count()
# Every response time (ms, unrounded) of each page, written out when the run stops: locust's own
# percentiles are rounded to whole milliseconds, a step of 0.15 in a ratio to a 7 ms page.
TIMES: dict[str, list[float]] = {}
STARTED: list[float] = []
IN_FLIGHT: collections.Counter = collections.Counter()


@events.test_start.add_listener
def start_clock(**kwargs):
    STARTED.append(time.monotonic())


@events.test_stop.add_listener
def write_times(**kwargs):
    if os.environ.get("BENCH_TIMES"):
        with open(os.environ["BENCH_TIMES"], "w") as out:
            json.dump(TIMES, out)


def block() -> int:
    return int((time.monotonic() - STARTED[0]) // REFERENCE["block"]) if REFERENCE else 0


def own_share(paths: list[str], number: int, users: int) -> itertools.cycle:
    # With enough paths, each user takes its own share: a nurse records the vitals of the
    # patients she looks after, so two users never wait for the same session's row lock.
    mine = paths[number % users :: users] if len(paths) >= users else list(paths)
    random.shuffle(mine)
    return itertools.cycle(mine)


class PageUser(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        # Signed in as the page's role: a session created by run_bench.py (force_login), so
        # the password hasher's deliberate slowness is not part of the measurement.
        number = next(USER_NUMBER)
        users = len(PLAN["sessions"])
        session_key = PLAN["sessions"][number % users]
        self.headers = {"Cookie": f"sessionid={session_key}", "X-CSRFToken": PLAN["csrf"]}
        self.paths = own_share(PLAN["paths"], number, users)
        self.reference_paths = own_share(REFERENCE["paths"], number, users) if REFERENCE else None

    @task
    def page(self):
        if REFERENCE and PATTERN[block() % len(PATTERN)]:
            name, other, method, path, expect = REFERENCE["page"], PLAN["page"], "GET", next(self.reference_paths), 200
        else:
            name, method, path, expect = PLAN["page"], PLAN["method"], next(self.paths), PLAN["expect"]
            other = REFERENCE["page"] if REFERENCE else None
        # Checked and counted with no switch to another user in between (gevent switches on I/O).
        while IN_FLIGHT[other]:  # the last requests of the block before
            gevent.sleep(0.0005)
        IN_FLIGHT[name] += 1
        try:
            self.request(name, method, path, expect)
        finally:
            IN_FLIGHT[name] -= 1

    def request(self, name, method, path, expect):
        started = time.perf_counter()
        if method == "POST":
            request = self.client.post(
                path, data=PLAN["data"], headers=self.headers, name=name, allow_redirects=False, catch_response=True
            )
        else:
            request = self.client.get(path, headers=self.headers, name=name, allow_redirects=False, catch_response=True)
        with request as response:
            if response.status_code != expect:
                response.failure(f"HTTP {response.status_code}, expected {expect}")
            elif "/accounts/login/" in response.headers.get("Location", ""):
                response.failure("redirected to the login page")
            else:
                TIMES.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        # A response that sets a Secure cookie (none of the measured pages should) is not
        # sent back over plain HTTP anyway; the session travels in the explicit Cookie header.
        self.client.cookies.clear()
