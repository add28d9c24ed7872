"""Locust load for one page of the scale benchmark (run_bench.py starts it once per page).

BENCH_PLAN names a JSON file: {"page": name, "method": "GET"|"POST", "paths": [...],
"sessions": [session keys of the page's role], "csrf": the CSRF secret those sessions hold,
"data": {...}, "expect": status}. Each simulated user takes one signed-in session, then
requests the page's paths in turn with no think time. The session cookie is sent as an
explicit header: the production settings mark cookies Secure, and the benchmark talks plain
HTTP on loopback.
"""

import itertools
import json
import os
import random

from locust import HttpUser, constant, events, task

with open(os.environ["BENCH_PLAN"]) as plan_file:
    PLAN = json.load(plan_file)


USER_NUMBER = itertools.count()
# Every response time (ms, unrounded) of the page, written out when the run stops: locust's own
# percentiles are rounded to whole milliseconds, a step of 0.15 in a ratio to a 7 ms page.
TIMES: list[float] = []


@events.request.add_listener
def keep_time(request_type, name, response_time, exception, **kwargs):
    if exception is None:
        TIMES.append(response_time)


@events.test_stop.add_listener
def write_times(**kwargs):
    if os.environ.get("BENCH_TIMES"):
        with open(os.environ["BENCH_TIMES"], "w") as out:
            json.dump(TIMES, out)


class PageUser(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        # Signed in as the page's role: a session created by run_bench.py (force_login), so
        # the password hasher's deliberate slowness is not part of the measurement.
        number = next(USER_NUMBER)
        users = len(PLAN["sessions"])
        session_key = PLAN["sessions"][number % users]
        self.headers = {"Cookie": f"sessionid={session_key}", "X-CSRFToken": PLAN["csrf"]}
        # With enough paths, each user takes its own share: a nurse records the vitals of the
        # patients she looks after, so two users never wait for the same session's row lock.
        paths = PLAN["paths"][number % users :: users] if len(PLAN["paths"]) >= users else list(PLAN["paths"])
        random.shuffle(paths)
        self.paths = itertools.cycle(paths)

    @task
    def page(self):
        path = next(self.paths)
        if PLAN["method"] == "POST":
            request = self.client.post(
                path,
                data=PLAN["data"],
                headers=self.headers,
                name=PLAN["page"],
                allow_redirects=False,
                catch_response=True,
            )
        else:
            request = self.client.get(
                path, headers=self.headers, name=PLAN["page"], allow_redirects=False, catch_response=True
            )
        with request as response:
            if response.status_code != PLAN["expect"]:
                response.failure(f"HTTP {response.status_code}, expected {PLAN['expect']}")
            elif "/accounts/login/" in response.headers.get("Location", ""):
                response.failure("redirected to the login page")
        # A response that sets a Secure cookie (none of the measured pages should) is not
        # sent back over plain HTTP anyway; the session travels in the explicit Cookie header.
        self.client.cookies.clear()
