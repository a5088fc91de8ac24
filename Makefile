# The two commands of the README: `make test` and `make run`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint types pytest run install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy .

pytest: $(STAMP)
	$(BIN)/pytest

test: lint types pytest

# The whole system on this machine: dev server, emulator, worker, ingress; a sample ticket end to end.
run: $(STAMP)
	$(BIN)/numberflow demo

clean:
	rm -rf $(VENV) .numberflow .mypy_cache .ruff_cache .pytest_cache
