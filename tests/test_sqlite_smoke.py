"""Every page, as each demo role, on the embedded default that `make run` serves (SQLite)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_page_of_every_role_answers_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'walk.sqlite3'}"
    env.update(CELERY_TASK_ALWAYS_EAGER="True", LOG_LEVEL="ERROR")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "smoke" / "sqlite_walk.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "walked 4 roles: 0 failures" in result.stdout
