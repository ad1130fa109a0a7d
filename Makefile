# The README's two commands: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Installs are pinned, with hashes: requirements-dev.txt (requirements.txt for the
# service alone, as the Dockerfile installs it, at the same versions). `make lock` pins
# what pyproject adds; `make upgrade` moves every pin to its newest release. Both on purpose.
UV_VERSION := $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements-dev.txt)
UV := $(BIN)/uv
COMPILE := $(UV) pip compile --quiet --universal --generate-hashes pyproject.toml

.PHONY: run test lint lock upgrade vendor bench bench-load demo clean test-tools

# The venv holds exactly the lock (uv pip sync), then the project itself, editable.
# Compiled to bytecode, as pip compiles the image's (Dockerfile): uv does not by default,
# and where PYTHONDONTWRITEBYTECODE is set (these machines) every process would compile
# SQLAlchemy, pydantic and the rest again as it starts, 3 s of CPU each
# (bench/HISTORY.md, 2026-12-07).
$(STAMP): pyproject.toml requirements-dev.txt Makefile
	test -x $(UV) || ($(PYTHON) -m venv $(VENV) && \
		$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION))
	$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python --require-hashes requirements-dev.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $(STAMP)

lock: $(STAMP)
	$(COMPILE) --extra dev -o requirements-dev.txt
	$(COMPILE) --constraint requirements-dev.txt -o requirements.txt

upgrade: $(STAMP)
	$(COMPILE) --upgrade --extra dev -o requirements-dev.txt
	$(COMPILE) --constraint requirements-dev.txt -o requirements.txt

# Browser libraries, pinned in browser/package-lock.json, copied with their licences into
# service/consoles/web/vendor/ (committed: serving needs neither npm nor a network).
vendor:
	cd browser && npm ci --ignore-scripts --no-audit --no-fund && node vendor.mjs

run: $(STAMP)
	$(BIN)/corespond serve

demo: $(STAMP)
	$(BIN)/corespond demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

# The browser tests drive Debian's chromium (Playwright's own download does not work
# here); the README's tour, run as a test, uses jq as a reader would.
test-tools:
	@command -v chromium >/dev/null && command -v jq >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium jq)

# Every test on the embedded SQLite default, then again on PostgreSQL (skipped, with
# the reason, where none runs; with CI=true a missing PostgreSQL fails the run). Each
# run spreads its test files over PYTEST_WORKERS processes (pytest-xdist; 0: one
# process), each with servers, databases and a browser of its own (docs/testing.md).
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadfile
test: lint test-tools
	$(BIN)/pytest $(XDIST)
	$(BIN)/pytest $(XDIST) --backend postgres -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python -m bench.dispatch_decision

bench-load: $(STAMP)
	$(BIN)/python -m bench.load

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
