# The two commands a newcomer needs: `make run` and `make test`. Both install whatever is missing first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp

.PHONY: setup system-packages run test test-unit test-integration test-e2e typecheck bench bench-backtest soak acceptance clean

setup: system-packages $(STAMP)

system-packages:
	@bash scripts/install_system_packages.sh

# Reinstalled only when a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $(STAMP)

run: setup
	$(PY) main.py up

# Types first (mypy with the pydantic plugin, mypy.ini), then the suite. Long fault soaks (marker `soak`)
# run in `make soak`, not here.
test: setup
	$(PY) -m mypy
	$(PY) -m pytest -m "not soak"

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup
	$(PY) -m pytest tests/integration tests/contract

test-e2e: setup
	$(PY) -m pytest tests/e2e

# mypy with the pydantic plugin, as mypy.ini says (not yet part of `make test`).
typecheck: setup
	$(PY) -m mypy

bench: setup
	$(PY) -m benchmarks
	$(PY) -m benchmarks.alerts_tick
	$(PY) -m benchmarks.dashboard

# Backtest speed and memory, and backtrader / nautilus_trader on the same rules, each in a bench-only venv
# under var/bench-venvs (installed here on first use, never into requirements).
bench-backtest: setup
	@bash benchmarks/compare/setup_venvs.sh
	$(PY) -m benchmarks.backtest

# The long fault tests (Redis frozen 60 s…), then the safety core under venue faults with real processes:
# 50 kill switches and a 10-minute soak (about 16 minutes in all).
soak: setup
	$(PY) -m pytest -m soak
	$(PY) -m benchmarks.fault_soak

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# Issue 12's acceptance: every kline file through the real bot in ghost and paper mode (about 15 minutes)
acceptance: setup
	$(PY) -m benchmarks.acceptance_replay
