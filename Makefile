# harvester-manifests: every target a newcomer would guess, each building only what it uses.
# Go tools are built with `go install module/cmd@version` into bin/ (gitignored);
# each mk/*.mk file pins its tools and appends the files it produces to TOOLS, and, when
# `harvester-gen validate` needs them (kustomize, kubeconform, the schemas), to
# VALIDATE_TOOLS as well:
#   render   -> the runtime virtualenv only (`pip install -e .`: seconds, no Go)
#   validate -> that, plus VALIDATE_TOOLS
#   test/e2e -> the dev virtualenv plus every TOOLS (which includes VALIDATE_TOOLS)

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
# pytest-xdist workers for `make test` and `make e2e`: the e2e tests mostly wait on
# servers (start-ups, Argo CD's reconciliations), so more workers than cores pay off.
# --dist loadfile: the tests of one file run in one worker, in order, as their
# module-scoped servers (and tests that read what an earlier one stored) require.
# `make test PYTEST_WORKERS=` runs everything in one process.
PYTEST_WORKERS ?= -n 4 --dist loadfile
ENVS    := dev staging prod

export PATH := $(BIN):$(VENV)/bin:$(PATH)
# Go builds never fetch another toolchain and never record VCS stamps.
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false
export GOBIN := $(BIN)

# Two stamps for one .venv: the runtime dependencies (what render needs), then the dev
# extra on top (pytest, mypy, ruff, kubernetes-validate). Defined before the mk files,
# which may name them as prerequisites.
VENV_RUNTIME := $(VENV)/.installed-runtime
VENV_STAMP   := $(VENV)/.installed
PIP          := $(VENV)/bin/pip install --quiet --disable-pip-version-check

TOOLS :=
VALIDATE_TOOLS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: help setup tools render validate test lint bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV_RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $@

$(VENV_STAMP): $(VENV_RUNTIME)
	$(PIP) -e '.[dev]'
	touch $@

setup: $(VENV_STAMP) tools ## virtualenv in .venv, editable install, pinned tools in bin/ (idempotent)

tools: $(TOOLS) ## build the pinned Go tools into bin/

# build/ is committed as rendered from .env.example (placeholders); `make render ENV_FILE=.env`
# renders real values, which stay in gitignored build/*/secrets/*.env files.
ENV_FILE ?= .env.example

render: $(VENV_RUNTIME) ## render every environment into build/ (needs only the runtime venv)
	$(GEN) render --env all --env-file $(ENV_FILE)

validate: $(VENV_RUNTIME) $(VALIDATE_TOOLS) ## kustomize build + kubeconform -strict of every environment, every Kubernetes version
	$(GEN) validate --env all

test: setup lint ## lint, then the whole test suite (what CI runs)
	$(PY) -m pytest $(PYTEST_WORKERS)

lint: $(VENV_STAMP) ## mypy --strict and ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(VENV_RUNTIME) ## render speed against one kustomize build, side by side
	$(PY) tools/bench.py

clean: ## remove the virtualenv, tools and caches (build/ is committed and stays)
	rm -rf $(VENV) $(BIN) $(CACHE) .pytest_cache .mypy_cache .ruff_cache .hypothesis
