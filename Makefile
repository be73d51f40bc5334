# shopstream: the two commands a fresh machine needs are `make run` and `make test`.
# Everything else they need (virtualenv, Python packages, Maven jars, Debian packages)
# is installed here, idempotently.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: run test test-unit test-integration lint format bench install jars java-deps system-deps reset

run: install  ## the whole pipeline on this machine (Kafka, Spark, DuckDB, dashboard)
	$(BIN)/shopstream up

test: install system-deps  ## unit, then integration (real Kafka + Spark), then browser tests
	$(BIN)/pytest $(wildcard tests/unit tests/integration tests/e2e) $(PYTEST_ARGS)

test-unit: install
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: install
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: install  ## benchmarks; JSON + PNG under bench/results/
	$(BIN)/shopstream bench all

install: $(STAMP) jars

$(STAMP): pyproject.toml
	@command -v java >/dev/null && command -v mvn >/dev/null || $(MAKE) --no-print-directory java-deps
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

jars: $(STAMP)  ## Kafka broker + tools and the Spark Kafka connector, via Maven (cached in .cache/)
	$(BIN)/python -m shopstream.infra.jars

java-deps:
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q openjdk-17-jdk-headless maven

system-deps:  ## Debian chromium (browser tests) and psql (SQL endpoint tests)
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }
	@command -v psql >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q postgresql-client; }

reset: install  ## stop the local broker and delete all local state (.shopstream/)
	$(BIN)/shopstream reset --yes
