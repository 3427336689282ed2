# The two commands of the README: `make demo` (main job) and `make test` (all tests).
# Both set up everything they need on a fresh machine (a virtualenv in .venv, the interop kit for tests).
# The virtualenv's interpreter: the distribution's /usr/bin/python3 when it is CPython >= 3.11 with venv,
# else the first python3 on PATH (`make PYTHON=...`, or PYTHON in the environment, chooses). Distributions
# build theirs with PGO and LTO, as the official python:3.11 image of docker/Dockerfile is built; pyenv's
# default build is not, and runs the gateway's own code about a fifth slower (README, *Which Python*).
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in /usr/bin/python3 python3; do $$p -c 'import sys, ensurepip, venv; \
	sys.exit(sys.implementation.name != "cpython" or sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
endif
VENV   := .venv
BIN    := $(VENV)/bin
# The interpreter itself (a pyenv shim resolved) and its version: another one makes a new virtualenv.
PYTHON_ID := $(shell $(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable), *sys.version_info[:3])' \
	2>/dev/null)
STAMP  := $(VENV)/.installed-$(shell (cat pyproject.toml; echo "$(PYTHON_ID)") | sha256sum | cut -c1-12)
KIT    := ../shared/interop
# pytest-xdist processes for `make test` (the machines here have 2 cores); 0 runs the suite in one process.
TEST_WORKERS ?= 2

.PHONY: install demo test lint interop-setup system-packages bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON_ID)" || { echo "no CPython >= 3.11 with venv found: apt-get install python3-venv," \
		"or make PYTHON=/path/to/python3 install" >&2; exit 1; }
	if [ "$$(cat $(VENV)/.interpreter 2>/dev/null)" != "$(PYTHON_ID)" ]; then \
		$(PYTHON) -m venv --clear $(VENV) && echo "$(PYTHON_ID)" > $(VENV)/.interpreter; fi
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/python -m pip install -q --no-input --upgrade pip
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/python -m pip install -q --no-input -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP) system-packages
	$(BIN)/gateway demo

interop-setup:
	@if [ -x $(KIT)/setup.sh ] || [ -f $(KIT)/setup.sh ]; then bash $(KIT)/setup.sh; \
	else echo "interop kit not found at $(KIT): interop tests will be skipped"; fi

system-packages:
	bash .ci/system-packages.sh

test: $(STAMP) system-packages interop-setup
	$(BIN)/pytest -q -n $(TEST_WORKERS) --durations=25

lint: $(STAMP)
	$(BIN)/ruff check gateway tests
	$(BIN)/ruff format --check gateway tests
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/gateway bench validation
	$(BIN)/gateway bench as4

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
