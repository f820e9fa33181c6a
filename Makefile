# evaltui developer entry points. Every target creates .venv on demand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
RUNSTAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUNSTAMP)

## make demo: install, load the bundled demo runs into a fresh demo store, open the app
demo: $(RUNSTAMP)
	$(BIN)/evaltui demo --fresh

## make test: install with the dev extra and run the whole suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

## make bench: the benchmark harness (1,000,000 results by default; BENCH_N to change)
bench: $(STAMP)
	$(BIN)/python bench/run.py

## make lint: ruff (lint + format check) and mypy
lint: $(STAMP)
	$(BIN)/ruff check evaltui tests bench fixtures
	$(BIN)/ruff format --check evaltui tests bench fixtures
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
