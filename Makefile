# The two commands of the README: `make test` and `make run`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-quick lint types pytest tools run install clean chaos bench bench-quick

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

# --durations: the slowest tests, to keep make test within its ~15 minutes.
pytest: $(STAMP) tools
	$(BIN)/pytest --durations=20

# Tools the tests drive for real, from Debian's packages: promtool and prometheus (package
# prometheus) test the alert rules and evaluate them on a real scrape; chromium shows the
# Temporal Web UI decoding through the codec server. Installed with apt-get when missing and
# this is root on Debian; otherwise the run stops and says what to install.
TOOL_PACKAGES := promtool:prometheus prometheus:prometheus chromium:chromium
tools:
	@missing=""; for pair in $(TOOL_PACKAGES); do \
		command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		missing=$$(echo $$missing | tr ' ' '\n' | sort -u | xargs); \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's $$missing for the tests (make tools)"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && \
			  apt-get install -y -q --no-install-recommends $$missing >/dev/null; }; \
		else \
			echo "missing for the tests: Debian's $$missing (apt-get install $$missing)" >&2; \
			exit 1; \
		fi; \
	fi

test: lint types pytest

# For iteration: everything but the end-to-end tests marked slow (chaos, the SDK's live suite,
# the browser, Temporal outages). make test runs them all.
test-quick: $(STAMP) tools
	$(BIN)/pytest -m "not slow"

# The whole system on this machine: dev server, emulator, worker, ingress; a sample ticket end to end.
run: $(STAMP)
	$(BIN)/numberflow demo

# The long chaos runs (the quick one is part of `make test`): CHAOS_RUNS seeds in a row, each
# 100 sagas, 12 worker SIGKILLs, two Temporal restarts (SIGTERM, then SIGKILL), seeded ACS
# faults, half the tickets as webhooks through the ingress; about 2 minutes a seed. Every seed
# runs; the target fails if any had a violation. CHAOS_SEED=n CHAOS_RUNS=1 replays one run.
# CHAOS_LIMITS=30,10 holds the tenant to 30 searches and 10 purchases a week (emulator and
# workers alike) until Microsoft raises them half way through the run.
CHAOS_SEED ?= $(shell date +%s)
CHAOS_RUNS ?= 10
CHAOS_LIMITS ?=
chaos: $(STAMP)
	@failed=0; for seed in $$(seq $(CHAOS_SEED) $$(($(CHAOS_SEED) + $(CHAOS_RUNS) - 1))); do \
		$(BIN)/python -m tests.chaos --seed $$seed --sagas 100 --kills 12 --restarts term,kill \
			--limits "$(CHAOS_LIMITS)" --report .numberflow/chaos/report-$$seed.json || failed=$$((failed + 1)); \
	done; echo "chaos: $$failed of $(CHAOS_RUNS) seeds had violations"; test $$failed -eq 0

# Benchmarks (bench/): ratios taken side by side in one run, written to bench/results/latest.json
# and bench/REPORT.md with plots. Bounded: about 22 minutes (5,000 parked sagas take 14), or 2
# for the quick one.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .numberflow .mypy_cache .ruff_cache .pytest_cache
