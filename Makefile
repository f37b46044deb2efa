# paybridge — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint typecheck check install bench lock clean

# Runtime dependencies only (what `make run` needs), and the development set (a superset).
$(BIN)/.runtime: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	touch $@

$(BIN)/.installed: requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	touch $@ $(BIN)/.runtime

install: $(BIN)/.installed

## make run: migrate, seed a demo agency/client/sandbox account and serve on SQLite (sandbox mode)
run: $(BIN)/.runtime
	PAYBRIDGE_SANDBOX=true $(BIN)/python -m app migrate
	PAYBRIDGE_SANDBOX=true $(BIN)/python -m app seed-demo --base-url http://$(HOST):$(PORT)
	PAYBRIDGE_SANDBOX=true PAYBRIDGE_PUBLIC_BASE_URL=http://$(HOST):$(PORT) $(BIN)/python -m app serve --host $(HOST) --port $(PORT)

## make test: the whole suite (SQLite always; PostgreSQL too when PAYBRIDGE_TEST_DATABASE_URL is set)
test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/ruff format --check app tests bench migrations

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

bench: install
	$(BIN)/python bench/run.py

## make lock: re-resolve pinned dependencies after editing pyproject.toml
lock: install
	$(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe -o requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache paybridge.db*
