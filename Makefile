# The two commands of the README: `make run` and `make test`. Everything else is a helper.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv from PATH if there is one, else a private copy installed with pip into .tools/.
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
PYTEST_ARGS ?=
PORT ?= 8000
# e.g. make bench BENCH_ARGS="--store redis --jobs 2000 --repeat 1"
BENCH_ARGS ?=

.PHONY: help install run demo test lint fmt typecheck bench bench-quick clean

help:
	@echo "make run    start the service: the HTTP API and a worker on SQLite (127.0.0.1:8000)"
	@echo "make demo   a worker on SQLite with a few jobs completing live in the terminal"
	@echo "make test   lint, type-check, check import layers, run the whole test suite"
	@echo "make bench  measure conveyor against its peers on every store (see docs/benchmarks.md)"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --group dev --compile-bytecode
	@touch $@

install: $(VENV)/.installed

# Local development only: no API keys on 127.0.0.1 (the command warns loudly about it).
run: install
	$(BIN)/conveyor serve --app examples.service:app --insecure-no-auth --port $(PORT)

demo: install
	$(BIN)/python examples/demo.py

lint: install
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy src tests examples bench

test: lint typecheck
	$(BIN)/pytest -n 2 --dist loadgroup --cov=conveyor --cov-report=term:skip-covered $(PYTEST_ARGS)

fmt: install
	$(BIN)/ruff format src tests examples bench
	$(BIN)/ruff check --fix src tests examples bench

# The harness creates the peers' venvs under bench/.peers/ itself (pinned requirements).
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .tools .mypy_cache .pytest_cache .ruff_cache .coverage*
