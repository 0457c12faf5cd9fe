# The project's single entry point. Every target creates or reuses .venv from pyproject.toml,
# so a fresh clone needs nothing but Python 3.11 and Java 17.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lab bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## demo: run the main job on the embedded local stack
demo: $(STAMP)
	$(BIN)/python -m toolkit.demo

## test: the whole test suite (what CI runs), slow cases included
test: $(STAMP)
	$(BIN)/python -m pytest -q

## test-fast: skip the slow end-to-end cases while developing
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

## bench: every bench/ script (tables printed, JSON in bench/results/)
bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache bench/results
