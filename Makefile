# The README's two commands: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-load demo clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/corespond serve

demo: $(STAMP)
	$(BIN)/corespond demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

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
