# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

.DEFAULT_GOAL := run
.PHONY: run test lint typecheck pytest migrations-check serve install install-dev clean

# A developer's machine: DEBUG on (demo secret key, no TLS redirect). Production sets
# its own environment and never runs these targets.
run test lint typecheck pytest migrations-check serve: export DEBUG ?= true

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

var:
	mkdir -p var

run: install | var
	$(MANAGE) migrate --no-input
	$(MANAGE) seed_demo
	@$(MAKE) --no-print-directory serve

# Web server and task cluster together; Ctrl-C (or either one dying) stops both.
serve:
	@echo "Breachdesk on http://127.0.0.1:8000/ — Ctrl-C stops the server and the task cluster."
	@bash -c 'trap "kill 0" EXIT; \
		$(MANAGE) qcluster & \
		$(MANAGE) runserver 127.0.0.1:8000 & \
		wait -n'

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy .

migrations-check: install-dev | var
	$(MANAGE) makemigrations --check --dry-run

pytest: install-dev | var
	@command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || \
		echo "NOTE: Chromium not found: the browser tests will be skipped (apt-get install chromium)."
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck migrations-check pytest

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
