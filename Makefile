# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test lint typecheck pytest bench-gee bench-router bench-http clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Stamps: reinstall only when pyproject.toml changes.
$(VENV)/.run-deps: pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(PY)
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.run-deps

$(VENV)/.bench-deps: pyproject.toml | $(PY)
	$(PIP) install -e '.[dev,bench]'
	touch $@ $(VENV)/.test-deps $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(PY) examples/gee_demo/app.py

lint: $(VENV)/.test-deps
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(VENV)/.test-deps
	$(PY) -m mypy

pytest: $(VENV)/.test-deps
	$(PY) -m pytest

test: lint typecheck pytest

bench-router: $(VENV)/.bench-deps
	$(PY) benchmarks/gee_router.py

bench-http: $(VENV)/.bench-deps
	$(PY) benchmarks/gee_http.py

bench-gee: bench-router bench-http

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
