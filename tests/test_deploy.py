"""The production shape: docker-compose, the image, gunicorn's settings, the requirements split
and the backup and restore scripts (run for real against PostgreSQL)."""

import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_only_the_tls_proxy_is_published(compose):
    services = compose["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"caddy"}
    assert services["caddy"]["ports"] == ["80:80", "443:443"]
    assert "web:8000" in (ROOT / "deploy" / "Caddyfile").read_text()


def test_the_app_reads_env_and_runs_as_the_app_role_with_healthchecks(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        assert services[name]["env_file"] == ".env", name
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://clinic_app:"), name
        assert env["TRUSTED_PROXY_COUNT"] == "1" and env["BEHIND_TLS_PROXY"] == "True"
        assert "healthcheck" in services[name], name
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgres://clinic_owner:")
    assert services["web"]["command"][:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
    # The worker writes export files, the web process serves them: one shared volume.
    assert "exports:/app/var/exports" in services["web"]["volumes"]
    assert "exports:/app/var/exports" in services["worker"]["volumes"]


def test_secrets_and_local_data_stay_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "var", ".venv", "db.sqlite3"} <= set(ignored)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert "-r requirements-dev" not in dockerfile and "COPY requirements-dev" not in dockerfile
    assert "collectstatic" in dockerfile


def test_runtime_requirements_hold_no_test_or_benchmark_tools():
    runtime = (ROOT / "requirements.txt").read_text().lower()
    for tool in ("pytest", "playwright", "locust", "ruff", "hypothesis", "bandit", "pyinstrument"):
        assert tool not in runtime, tool
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert dev.splitlines()[1] == "-r requirements.txt" and "pytest==" in dev


def test_gunicorn_settings_suit_the_pages_and_log_no_query_strings():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "deploy" / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert conf.timeout == 60 and conf.graceful_timeout == 30
    assert "%(U)s" in conf.access_log_format
    for with_query in ("%(r)s", "%(q)s", "%({raw_uri})"):
        assert with_query not in conf.access_log_format


@pytest.mark.skipif(
    subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0
    if shutil.which("docker")
    else True,
    reason="no Docker client with the compose plugin on this machine",
)
def test_docker_compose_accepts_the_file(tmp_path):
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    (tmp_path / ".env").write_text(
        "SECRET_KEY=x\nAUDIT_CHAIN_KEY=y\nPOSTGRES_PASSWORD=a\nOWNER_DB_PASSWORD=b\nAPP_DB_PASSWORD=c\n"
        "SITE_ADDRESS=clinic.example.org\n"
    )
    result = subprocess.run(["docker", "compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _server_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"


def test_a_backup_restores_into_an_empty_database_with_its_audit_trail_intact(tmp_path):
    """backup.sh then restore.sh, for real: the restored database has the same rows, the app
    role its rights (no UPDATE on the audit trail) and audit_verify finds the chain intact."""
    server = _server_url()
    suffix = uuid.uuid4().hex[:8]
    source, target = f"clinic_backup_src_{suffix}", f"clinic_backup_dst_{suffix}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute("DO $$ BEGIN CREATE ROLE clinic_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        conn.execute(f'CREATE DATABASE "{source}"')
        conn.execute(f'CREATE DATABASE "{target}"')
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)},
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": f"{server}/{source}",
        "AUDIT_CHAIN_KEY": "backup-test-chain-key",
    }
    run = lambda *cmd, **kw: subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, **kw)  # noqa: E731
    try:
        assert run(sys.executable, "manage.py", "migrate", "-v0", env=env).returncode == 0
        write = (
            "import django; django.setup()\n"
            "from django.db import transaction\n"
            "from clinic.audit import audit_record\n"
            "from clinic.models import Site\n"
            "with transaction.atomic():\n"
            "    site = Site.objects.create(name='Backup site')\n"
            "    for i in range(3): audit_record(action='create', obj=site, summary={'n': i})\n"
        )
        assert run(sys.executable, "-c", write, env=env).returncode == 0
        backup = run("sh", "deploy/backup.sh", env={**env, "BACKUP_DIR": str(tmp_path)})
        assert backup.returncode == 0, backup.stderr
        [dump] = tmp_path.glob("clinic-*.dump")
        restore = run("sh", "deploy/restore.sh", str(dump), env={**env, "DATABASE_URL": f"{server}/{target}"})
        assert restore.returncode == 0, restore.stderr
        verify = run(sys.executable, "manage.py", "audit_verify", env={**env, "DATABASE_URL": f"{server}/{target}"})
        assert verify.returncode == 0 and "intact" in verify.stdout + verify.stderr, verify.stdout + verify.stderr
        with psycopg.connect(f"{server}/{target}") as conn:
            assert conn.execute("SELECT count(*) FROM clinic_auditevent").fetchone()[0] == 3
            assert conn.execute("SELECT name FROM clinic_site").fetchall() == [("Backup site",)]
            rights = conn.execute(
                "SELECT has_table_privilege('clinic_app', 'clinic_auditevent', 'INSERT'), "
                "has_table_privilege('clinic_app', 'clinic_auditevent', 'UPDATE'), "
                "has_table_privilege('clinic_app', 'clinic_site', 'UPDATE')"
            ).fetchone()
            assert rights == (True, False, True)
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            for name in (source, target):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
