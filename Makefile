# Two commands: `make run` (embedded default, SQLite, no servers) and `make test`
# (PostgreSQL + Redis). Both create the virtualenv first: `make run` installs the runtime
# requirements only, `make test`, `make lint` and `make bench` the development ones as well.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: setup setup-dev run test lint format bench bench-reminders bench-export soak gallery clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime

setup-dev: $(VENV)/.dev

# `make run PORT=8080` serves on another port; the confirm links in reminders follow it.
run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py run_embedded --addr 127.0.0.1:$(PORT)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/bandit -q -c pyproject.toml -r clinic scheduling monitoring --severity-level high

test: setup-dev lint
	$(PY) tests/run_suite.py $(ARGS)

format: setup-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup-dev
	$(PY) tests/bench/run_bench.py $(ARGS)

bench-reminders: setup-dev
	$(PY) tests/bench/bench_reminders.py $(ARGS)

bench-export: setup-dev
	$(PY) tests/bench/bench_export.py $(ARGS)

# 10,000 reminders through the embedded broker: prints the rate and the worker's crashes (0).
soak: setup-dev
	$(PY) tests/bench/soak_embedded.py $(ARGS)

# The README's gallery: each role's main pages at desktop, tablet and phone sizes, taken by the
# gallery browser journey and copied into tests/e2e/gallery/ with the README section rewritten.
gallery: setup-dev
	$(PY) tests/run_suite.py tests/e2e/test_gallery.py $(ARGS)
	$(PY) tests/e2e/refresh_gallery.py

clean:
	rm -rf $(VENV) var db.sqlite3 artifacts
