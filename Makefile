# Coup de main — every command a developer or CI needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install run test test-unit bench lint infra-up infra-down up down clean

help:
	@echo "make run      install and start the embedded platform on http://127.0.0.1:8000"
	@echo "make test     install, start PostgreSQL and Kafka (deploy/), run the whole suite"
	@echo "make bench    run the benchmarks (figures in var/bench/)"
	@echo "make lint     ruff and mypy"
	@echo "make up/down  distributed mode: PostgreSQL, Kafka, four services, reverse proxy"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dispatch serve

infra-up:
	@bash deploy/postgres.sh start
	@bash deploy/kafka.sh start

infra-down:
	@bash deploy/kafka.sh stop
	@bash deploy/postgres.sh stop

test: $(STAMP) infra-up
	@bash deploy/browser.sh
	TEST_DATABASE_URL="$$(bash deploy/postgres.sh url)" \
	TEST_KAFKA_BOOTSTRAP="$$(bash deploy/kafka.sh bootstrap)" \
	$(BIN)/pytest -q --durations=15 $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/pytest -q -m "not integration" $(PYTEST_ARGS)

bench: $(STAMP) infra-up
	@mkdir -p var/bench
	@# Every benchmark runs; the command fails at the end if one failed or missed its target.
	@failed=""; for script in tests/bench/bench_*.py; do \
		echo "== $$script"; \
		TEST_DATABASE_URL="$$(bash deploy/postgres.sh url)" \
		TEST_KAFKA_BOOTSTRAP="$$(bash deploy/kafka.sh bootstrap)" \
		$(BIN)/python $$script $(BENCH_ARGS) || failed="$$failed $$script"; \
	done; \
	if [ -n "$$failed" ]; then echo "missed or failed:$$failed"; exit 1; fi

up: $(STAMP)
	bash deploy/platform.sh up

down:
	bash deploy/platform.sh down

lint: $(STAMP)
	$(BIN)/ruff check shared services tests
	$(BIN)/mypy shared

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
