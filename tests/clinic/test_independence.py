"""The core app stands on its own: it imports neither scheduling nor monitoring, and learns of
them only through its registries, which their AppConfig.ready() fills."""

import os
import subprocess
import sys
from pathlib import Path

from clinic import registry

ROOT = Path(__file__).resolve().parents[2]
# The project's configuration wires every app together; the rest is the core app's own code.
PROJECT_MODULES = {"clinic.settings", "clinic.urls", "clinic.celery", "clinic.wsgi", "clinic.asgi"}


def clinic_modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "clinic").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "migrations" in parts:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in PROJECT_MODULES:
            names.append(name)
    return names


def test_every_clinic_module_imports_without_the_other_apps():
    """In a fresh interpreter whose project installs the core app alone, every module of it
    imports, and neither scheduling nor monitoring is ever loaded."""
    script = f"""
import importlib, sys
from django.conf import settings
import clinic.settings as project
apps = [app for app in project.INSTALLED_APPS if app.split(".")[0] not in ("scheduling", "monitoring")]
settings.configure(**{{
    **{{name: getattr(project, name) for name in dir(project) if name.isupper()}},
    "INSTALLED_APPS": apps,
}})
import django
django.setup()
for name in {clinic_modules()!r}:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("scheduling", "monitoring"))
print("LOADED", loaded)
"""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LOADED []" in done.stdout


def test_the_other_apps_register_their_navigation_home_pages_and_retry_sources():
    assert [entry.label for entry in registry.nav_entries()] == [
        "Board",
        "Day",
        "Week",
        "Rides",
        "Reviews",
        "Patients",
        "REMS",
        "Reports",
        "Outcomes",
        "Audit",
        "Exports",
        "Outbox",
        "Integrations",
        "Admin",
    ]
    assert registry.home_pages("Administrator") == ["monitoring:reports", "clinic:audit"]
    assert registry.home_pages("Scheduler") == ["scheduling:day"]
    assert [source.slug for source in registry.retry_sources()] == ["reminders"]
