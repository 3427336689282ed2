# The two commands of the README: `make demo` (main job) and `make test` (all tests).
# Both set up everything they need on a fresh machine (a virtualenv in .venv, the interop kit for tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
KIT    := ../shared/interop
# pytest-xdist processes for `make test` (the machines here have 2 cores); 0 runs the suite in one process.
TEST_WORKERS ?= 2

.PHONY: install demo test lint interop-setup system-packages bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
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
