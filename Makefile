# The two commands of the README: `make run` and `make test`. Everything else is a helper.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv from PATH if there is one, else a private copy installed with pip into .tools/.
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
PYTEST_ARGS ?=
# e.g. make bench BENCH_ARGS="--store redis --jobs 2000 --repeat 1"
BENCH_ARGS ?=

.PHONY: help install run test lint fmt typecheck bench bench-quick clean

help:
	@echo "make run    start the demo: a worker on SQLite and a few jobs completing live"
	@echo "make test   lint, type-check, check import layers, run the whole test suite"
	@echo "make bench  measure conveyor against its peers on every store (see docs/benchmarks.md)"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --group dev
	@touch $@

install: $(VENV)/.installed

run: install
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
