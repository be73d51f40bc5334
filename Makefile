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
# The package's docstring examples run as tests too, in their own pytest run: with
# --doctest-modules over tests/ too, pytest imports every conftest.py as a module named
# `conftest` and the second one collides.
DOCTESTS := --doctest-modules src/shopstream

.PHONY: run test test-jvm test-unit test-integration lint format bench docs install jars java-deps system-deps reset

run: install  ## the whole pipeline on this machine (Kafka, Spark, DuckDB, dashboard)
	$(BIN)/shopstream up

# The unit tests are independent and mostly one Python thread each: two workers use both
# cores (438 -> 286 s on 2026-12-03). The integration, attack and browser tests run real
# brokers and Spark processes that already take both cores, so they run one at a time.
UNIT_WORKERS := -n 2

test: install system-deps test-jvm  ## Java unit tests, docstring examples, unit, integration (real Kafka + Spark), attacks, browser
	$(BIN)/pytest $(DOCTESTS)
	$(BIN)/pytest $(UNIT_WORKERS) tests/unit $(PYTEST_ARGS)
	$(BIN)/pytest $(wildcard tests/integration tests/security tests/e2e) $(PYTEST_ARGS)

test-jvm: install  ## Surefire unit tests of Silver's JVM codec (jvm/silver), Maven repository under .cache/
	mvn -B -q -f jvm/silver/pom.xml -Dmaven.repo.local=$(CURDIR)/.cache/m2 test

test-unit: install  ## docstring examples and unit tests, without Spark (seconds, no JVM)
	$(BIN)/pytest $(DOCTESTS)
	$(BIN)/pytest $(UNIT_WORKERS) tests/unit -m "not spark" $(PYTEST_ARGS)

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

docs: install  ## docs/configuration.md and the docs' tables, from config.py, contract.py and bench/results/
	$(BIN)/shopstream docs build

install: $(STAMP) jars

$(STAMP): pyproject.toml
	@command -v java >/dev/null && command -v mvn >/dev/null || $(MAKE) --no-print-directory java-deps
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

jars: $(STAMP)  ## Kafka broker + tools and the Spark Kafka connector, via Maven (cached in .cache/); Spark's class archive
	$(BIN)/python -m shopstream.spark.jars
	$(BIN)/python -m shopstream.spark.class_archive

java-deps:
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q openjdk-17-jdk-headless maven

# Debian packages the tests use: chromium (Playwright drives it; no browser download),
# docker-compose (validates deploy/compose.yaml), prometheus (promtool checks the rules),
# postgresql-client (psql, a real client of the SQL endpoint).
SYSTEM_TOOLS := /usr/bin/chromium:chromium /usr/bin/docker-compose:docker-compose /usr/bin/promtool:prometheus \
  /usr/bin/psql:postgresql-client

system-deps:  ## Debian packages for the browser, deploy/ and SQL endpoint tests, installed when missing
	@missing="$$(for t in $(SYSTEM_TOOLS); do [ -x "$${t%%:*}" ] || echo "$${t#*:}"; done)"; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $$missing; \
	fi

reset: install  ## stop the local broker and delete all local state (.shopstream/)
	$(BIN)/shopstream reset --yes
