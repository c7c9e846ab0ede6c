# The two commands a newcomer needs: `make run` and `make test`. Both install whatever is missing first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp

.PHONY: setup system-packages run test test-unit test-integration test-e2e bench soak clean

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

test: setup
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup
	$(PY) -m pytest tests/integration

test-e2e: setup
	$(PY) -m pytest tests/e2e

bench: setup
	$(PY) -m benchmarks

# The safety core under venue faults with real processes: 50 kill switches, then a 10-minute soak (~14 min).
soak: setup
	$(PY) -m benchmarks.fault_soak

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
