# `make demo` and `make test` set up .venv on first use (the pinned toolchain + this package, editable).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup bindings-setup demo test bench clean

$(STAMP): requirements.txt setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/moebius-edge demo

# CMake, a compiler, a JDK and kotlinc, Chromium and the web package's npm dependencies for the bindings' tests (no-op once present).
bindings-setup:
	bash bindings/setup.sh

test: $(STAMP) bindings-setup
	$(PY) -m pytest -q --durations=30  # the slowest 30 listed: the suite must stay well inside CI's time

clean:
	rm -rf $(VENV) build *.egg-info demo-output
