# The README's two commands: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs exactly what uv.lock pins (`make lock` updates it, on purpose).
UV_VERSION := 0.13.8
UV := $(BIN)/uv

.PHONY: run test lint lock vendor bench bench-load demo clean chromium

$(STAMP): pyproject.toml uv.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --locked --inexact --extra dev \
		--python $(BIN)/python
	touch $(STAMP)

# Every dependency to its newest release within pyproject's ranges; review the diff.
lock: $(STAMP)
	$(UV) lock --upgrade

run: $(STAMP)
	$(BIN)/corespond serve

demo: $(STAMP)
	$(BIN)/corespond demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

# The browser tests drive Debian's chromium (Playwright's own download does not work here).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# Every test on the embedded SQLite default, then again on PostgreSQL (skipped, with
# the reason, where none runs; with CI=true a missing PostgreSQL fails the run).
test: lint chromium
	$(BIN)/pytest
	$(BIN)/pytest --backend postgres -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python -m bench.dispatch_decision

bench-load: $(STAMP)
	$(BIN)/python -m bench.load

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
