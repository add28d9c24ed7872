"""Browser journeys: Playwright drives Debian's Chromium against pytest-django's live
server on the PostgreSQL test database. Screenshots of key steps (and of every failure)
land in artifacts/e2e/<test name>/."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests import factories

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe" / "axe.min.js"
DESKTOP = {"width": 1440, "height": 900}
TABLET = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the
    # tests' fixtures are still plain synchronous code. Only for the browser tests' lifetime.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


class Shots:
    """Numbered screenshots for one test."""

    def __init__(self, name: str):
        self.dir = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.n = 0
        self.pages = []

    def __call__(self, page, step: str) -> Path:
        self.n += 1
        slug = re.sub(r"[^\w-]+", "-", step)
        path = self.dir / f"{self.n:02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request):
    return Shots(request.node.name)


@pytest.fixture
def new_page(browser, live_server, shots):
    """new_page(viewport) -> a page in a fresh context (its own cookies)."""
    contexts = []

    def make(viewport=DESKTOP, **kwargs):
        context = browser.new_context(viewport=viewport, base_url=live_server.url, bypass_csp=True, **kwargs)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        shots.pages.append(page)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        shots = item.funcargs.get("shots")
        for i, page in enumerate(getattr(shots, "pages", [])):
            try:
                page.screenshot(path=str(shots.dir / f"failure-{i}.png"), full_page=True)
            except Exception:  # noqa: BLE001, S110  (the page may already be closed)
                pass


def login(page, username: str, password: str = factories.PASSWORD, next_url: str = "/"):
    page.goto(next_url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (vendored) on the current page; returns serious/critical violations."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]
