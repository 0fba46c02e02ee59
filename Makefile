# One entry point for everything. `make demo` and `make test` set themselves up on a fresh machine:
# they find python3.13, install uv into .tools/, and sync .venv/ from uv.lock.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
PYTHON313 ?= $(shell scripts/find-python313)
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
# sam build resolves the python3.13 runtime and pip from PATH: the venv provides both.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help setup test check lint typecheck template unit fast-tests demo bench clean layer-requirements

help:
	@echo "make demo   - run the whole pipeline locally on the embedded AWS emulator"
	@echo "              (MODE=existing: attached to a bucket that already has notifications;"
	@echo "              ARGS=\"--key-prefix site/ ...\": any template parameter, ARGS=--help lists them)"
	@echo "make test   - lint, type-check, validate and build the template, run the tests"
	@echo "make check  - the fast loop (under a minute): lint, type-check, unit and handler tests"
	@echo "make bench  - compare strategies and measure the handler; writes docs/benchmarks.md"

$(UV):
	@test -n "$(PYTHON313)" || { echo "error: python3.13 is required (see scripts/find-python313)" >&2; exit 1; }
	$(PYTHON313) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON313)
	@touch $@

setup: $(VENV)/.synced

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy layers/shared functions cfinv emulator scripts tests

template: setup
	$(VENV)/bin/sam validate --lint --template template.yaml
	$(VENV)/bin/sam build --template template.yaml

unit: setup
	$(PY) -m pytest

test: lint typecheck template unit

# The fast loop beside the full gate: no sam, no Step Functions executions, no simulation.
FAST_TESTS := tests/unit tests/integration/test_handler.py tests/emulator/test_memory_contract.py

fast-tests: setup
	$(PY) -m pytest -q $(FAST_TESTS)

check: lint typecheck fast-tests

# MODE=existing attaches the stack to a bucket it did not create (through EventBridge).
# ARGS passes flags: one per template parameter (ARGS="--key-prefix site/ --origin-path /site");
# make demo ARGS=--help lists them.
MODE ?= created
demo: setup
	$(PY) -m scripts.demo --mode $(MODE) $(ARGS)

# About three and a half minutes on 2 cores; pass options with BENCH_ARGS="--scale 0.1". sam build
# first: the handler is measured with the packages the built layer ships, not the dev virtualenv's.
# The service's own log lines (every retry of the simulated 503s) are left out of its output.
bench: setup
	$(VENV)/bin/sam build --template template.yaml
	POWERTOOLS_LOG_LEVEL=ERROR PYTHONPATH=layers/shared:functions/batcher:. $(PY) -m scripts.bench $(BENCH_ARGS)

# Regenerate the layer's pinned requirements from the lock (run after changing dependencies).
# boto3 and botocore are shipped in the layer on purpose: the handler then runs on the SDK the
# tests ran on, not on whichever version the Lambda runtime bundles.
layer-requirements: $(UV)
	$(UV) export --frozen --only-group layer --no-hashes --no-emit-project --no-header --no-annotate \
		> layers/shared/requirements.txt

clean:
	rm -rf .aws-sam .venv .tools .mypy_cache .pytest_cache .ruff_cache .hypothesis
