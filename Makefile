# The project's single entry point. Every target creates or reuses .venv from pyproject.toml,
# so a fresh clone needs nothing but Python 3.11 and Java 17.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lab bench clean venv browser graphviz fonts

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## demo: run the main job on the embedded local stack
demo: $(STAMP)
	$(BIN)/python -m toolkit.cli demo

## test: the whole test suite (what CI runs), slow cases included
test: $(STAMP) browser graphviz fonts
	$(BIN)/python -m pytest -q

## browser: Debian's Chromium for the dashboard's browser test (installed once, if missing)
browser:
	bash scripts/install-system-packages.sh chromium

## graphviz: Debian's graphviz (`dot`) for the dashboard's state graph (installed once, if missing)
graphviz:
	bash scripts/install-system-packages.sh graphviz

## fonts: Debian's CJK and emoji fonts for the notebooks' plots (installed once, if missing)
fonts:
	bash scripts/install-system-packages.sh fonts

## test-fast: skip the slow end-to-end cases while developing
test-fast: $(STAMP) graphviz fonts
	$(BIN)/python -m pytest -q -m "not slow"

## lab: JupyterLab on the project's kernel with the local stack running (stopped when Lab exits,
## unless it was already running); the notebooks in notebooks/ find the stack by themselves.
## Extra JupyterLab options go in LAB_ARGS (e.g. make lab LAB_ARGS=--no-browser).
lab: $(STAMP) graphviz fonts
	@if $(BIN)/python -m toolkit.cli local status >/dev/null 2>&1; then started=; \
	else $(BIN)/python -m toolkit.cli local up --detach || exit 1; started=1; fi; \
	trap 'test -z "$$started" || $(BIN)/python -m toolkit.cli local down' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

## bench: every bench/ script (tables printed, JSON in bench/results/)
bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache bench/results
