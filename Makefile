# Two commands: `make run` (embedded default, SQLite, no servers) and `make test`
# (PostgreSQL + Redis). Both create the virtualenv and install requirements first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint format bench bench-reminders clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py run_embedded

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/bandit -q -c pyproject.toml -r clinic scheduling monitoring --severity-level high

test: setup lint
	$(PY) tests/run_suite.py $(ARGS)

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup
	$(PY) tests/bench/run_bench.py $(ARGS)

bench-reminders: setup
	$(PY) tests/bench/bench_reminders.py $(ARGS)

clean:
	rm -rf $(VENV) var db.sqlite3 artifacts
