# framewire: `make run` launches the app against the built-in demo server,
# `make test` runs lint and the whole test suite. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Benchmarks get a venv of their own: qtrio (bench extra) pulls in trio-typing, whose old
# trio-stubs would shadow trio's own types and break mypy in .venv.
BENCH_VENV := .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: run test lint bench bench-quick headless clean screenshots

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m tools.launch $(ARGS)

headless: $(STAMP)
	$(PY) -m tools.launch --headless $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks compare with Twisted, qt-reactor, qtrio and qasync: the bench extra adds them.
$(BENCH_STAMP): pyproject.toml
	test -x $(BENCH_PY) || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

# Every benchmark, each run once, then the report (docs/benchmarks.md) made of them;
# ARGS="--only receive" and the like run just those.
bench: $(BENCH_STAMP)
	$(BENCH_PY) -m tools.bench $(ARGS)

bench-quick: $(BENCH_STAMP)
	$(BENCH_PY) -m tools.bench --quick $(ARGS)

# docs/img's screenshots of the window (tools/screenshots.py). Assumes xvfb-run (Debian:
# apt install xvfb) and ImageMagick's import (apt install imagemagick) are installed.
screenshots: $(STAMP)
	xvfb-run -a -s "-screen 0 1280x800x24" $(PY) -m tools.screenshots --out docs/img $(ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) build *.egg-info .pytest_cache .ruff_cache
