# amtspuls — the two Quickstart commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo-data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Simulate Musterstadt, import, analyse, serve the dashboard.
demo: install
	$(PY) -m amtspuls.demo --dir $(DEMO_DIR) --host $(HOST) --port $(PORT)

# Everything the tests need (Debian's chromium for the browser tests), then the suite.
test: install
	@bash scripts/ensure-system-packages.sh
	$(VENV)/bin/ruff check src tests bench
	$(PY) -m pytest -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check src tests bench

bench: install
	$(PY) bench/log_import.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache test-artifacts
