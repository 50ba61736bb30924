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

# The suite runs in two passes (tests/README.md): every test not marked `serial` on
# TEST_WORKERS processes (worksteal: no worker idles while the other has a queue), then
# the `serial` ones (timings, rates, memory) alone. Both run and both must pass;
# PYTEST_ARGS goes to both, and a pass it leaves empty (exit 5) is fine as long as the
# other ran something. ruff goes first (it takes no time); mypy, ~15 s on a
# clean checkout, runs beside the first pass (whose tests put up with a neighbour) and
# says what it found once that pass is over.
TEST_WORKERS ?= 2
PYTEST := QT_QPA_PLATFORM=offscreen $(PY) -m pytest
MYPY_OUTPUT := $(VENV)/.mypy-output

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy > $(MYPY_OUTPUT) 2>&1 & mypy=$$!; \
	$(PYTEST) -n $(TEST_WORKERS) --dist worksteal --suite-pass=parallel $(PYTEST_ARGS); parallel=$$?; \
	wait $$mypy; typed=$$?; echo "mypy:"; cat $(MYPY_OUTPUT); \
	$(PYTEST) --suite-pass=serial $(PYTEST_ARGS); serial=$$?; \
	if [ $$typed -ne 0 ]; then exit $$typed; fi; \
	for code in $$parallel $$serial; do \
		if [ $$code -ne 0 ] && [ $$code -ne 5 ]; then exit $$code; fi; \
	done; \
	if [ $$parallel -eq 5 ] && [ $$serial -eq 5 ]; then echo "make test: no test selected"; exit 5; fi

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
