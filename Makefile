# harvester-manifests: every target a newcomer would guess.
# Go tools are built with `go install module/cmd@version` into bin/ (gitignored);
# each mk/*.mk file pins its tools and appends the files it produces to TOOLS.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

ROOT    := $(CURDIR)
BIN     := $(ROOT)/bin
CACHE   := $(ROOT)/.cache
VENV    := $(ROOT)/.venv
PY      := $(VENV)/bin/python
GEN     := $(VENV)/bin/harvester-gen
PYTHON  ?= python3
ENVS    := dev staging prod

export PATH := $(BIN):$(VENV)/bin:$(PATH)
# Go builds never fetch another toolchain and never record VCS stamps.
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false
export GOBIN := $(BIN)

TOOLS :=

include $(sort $(wildcard mk/*.mk))

VENV_STAMP := $(VENV)/.installed

.PHONY: help setup tools render validate test lint bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

setup: $(VENV_STAMP) tools ## virtualenv in .venv, editable install, pinned tools in bin/ (idempotent)

tools: $(TOOLS) ## build the pinned Go tools into bin/

# build/ is committed as rendered from .env.example (placeholders); `make render ENV_FILE=.env`
# renders real values, which stay in gitignored build/*/secrets/*.env files.
ENV_FILE ?= .env.example

render: setup ## render every environment into build/
	$(GEN) render --env all --env-file $(ENV_FILE)

validate: setup ## kustomize build + kubeconform -strict of every environment, every Kubernetes version
	$(GEN) validate --env all

test: setup lint ## lint, then the whole test suite (what CI runs)
	$(PY) -m pytest

lint: $(VENV_STAMP) ## mypy --strict and ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: setup ## render speed against one kustomize build, side by side
	$(PY) tools/bench.py

clean: ## remove the virtualenv, tools and caches (build/ is committed and stays)
	rm -rf $(VENV) $(BIN) $(CACHE) .pytest_cache .mypy_cache .ruff_cache .hypothesis
