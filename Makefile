# evaltui developer entry points. Every target creates .venv on demand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
RUNSTAMP := $(VENV)/.installed

.PHONY: demo demo-fresh test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[codebook]'
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUNSTAMP)

## make demo: install, load the bundled demo runs into the demo store (the first time
## only: your triage there is kept from one run to the next), open the app
demo: $(RUNSTAMP)
	$(BIN)/evaltui demo

## make demo-fresh: delete the demo store (and the triage in it), load it again, open the app
demo-fresh: $(RUNSTAMP)
	$(BIN)/evaltui demo --fresh

## make test: install with the dev extra and run the whole suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

## make bench: the benchmark harness (docs/performance.md). Runs in its own
## .venv-bench, which also holds inspect-ai (compared with, never a dependency).
BENCHVENV := .venv-bench
$(BENCHVENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCHVENV)
	$(BENCHVENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCHVENV)/bin/python -m pip install --quiet -e '.[codebook,team]' inspect-ai
	touch $@

bench: $(BENCHVENV)/.installed
	$(BENCHVENV)/bin/python bench/run.py

## make lint: ruff (lint + format check) and mypy
lint: $(STAMP)
	$(BIN)/ruff check evaltui tests bench fixtures
	$(BIN)/ruff format --check evaltui tests bench fixtures
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(BENCHVENV) .pytest_cache .mypy_cache .ruff_cache
