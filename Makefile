# Schakel's single entry point. `make demo` runs the system, `make test` runs every test.
SHELL := /bin/bash
UV_VERSION := 0.13.9
VENV := .venv
PYTHON := $(VENV)/bin/python

.PHONY: install browser up down demo lint test test-unit faults perf schemas

## install: the locked Python environment in .venv (installs uv itself when missing)
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "uv==$(UV_VERSION)"
	python3 -m uv sync --frozen --python python3.11
	@touch $@

## browser: Debian's Chromium and axe-core for the dashboard's browser and accessibility tests
browser:
	deploy/local/browser.sh

## up / down: Kafka and PostgreSQL on this machine, without Docker
up: install
	deploy/local/up.sh
down:
	deploy/local/down.sh

## demo: Kafka, PostgreSQL and the four services with a demo region; Ctrl-C stops it all.
## `make demo REPLICAS=2` runs two processes of every service (deploy/local/demo.sh --replicas);
## `make demo REGIONS=2` adds a second region, Eemland, in pool midden-nederland (--regions).
REPLICAS ?= 1
REGIONS ?= 1
demo: install
	deploy/local/demo.sh --replicas $(REPLICAS) --regions $(REGIONS)

## lint: the gate on every commit — ruff (lint and format) and mypy, as configured in pyproject.toml
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## test: unit, integration and end-to-end tests against real Kafka and PostgreSQL
test: up browser
	$(PYTHON) -m pytest

test-unit: install
	$(PYTHON) -m pytest tests/unit

## faults: only the fault suite (part of `make test`): broker restart, kill -9, PostgreSQL restart, a huge declaration
faults: up
	$(PYTHON) -m pytest tests/faults -p no:cacheprovider

## perf: benchmarks beside floors measured in the same run (not part of `make test`); prints a table
## of ratios and writes test-artifacts/perf.md; docs/benchmarks.md keeps it by hand. Needs Debian's wrk.
perf: up
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PYTHON) -m pytest tests/perf -p no:cacheprovider -s

## schemas: regenerate the committed JSON Schemas of the event contracts
schemas: install
	$(PYTHON) -m contracts.jsonschema
