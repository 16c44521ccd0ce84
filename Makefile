# One entry point for people and CI. Every target installs what it needs into .venv by itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
SOAK_STAMP := $(VENV)/.stamp-soak
DEMO_STAMP := $(VENV)/.stamp-demo

.PHONY: install test lint typecheck check bench soak demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench tools soak
	$(BIN)/ruff check src tests bench tools soak

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m bench

# Minutes, not seconds: a seeded soak under faults (see soak/__init__.py); writes soak-report.png.
$(SOAK_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,soak]'
	touch $(SOAK_STAMP)

soak: $(SOAK_STAMP)
	$(BIN)/python -m soak

# The demo needs binguard and its runtime dependencies only (no test tools): a first run takes
# about a minute, and says what it is doing at each step.
$(DEMO_STAMP): pyproject.toml
	@echo "make demo: installing binguard and its runtime dependencies into $(VENV) (first run, or pyproject.toml changed)"
	@test -x $(BIN)/python || { echo "==> $(PY) -m venv $(VENV)"; $(PY) -m venv $(VENV); }
	@echo "==> pip install -e '.[demo]' (aiohttp, orjson, rich, cryptography, PyYAML, hyperscan; ccxt for demo --gateway)"
	$(BIN)/python -m pip install --progress-bar on -e '.[demo]'
	@touch $@

demo: $(DEMO_STAMP)
	@echo "==> binguard demo (60 s of trading, then the verdict)"
	$(BIN)/binguard demo

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
