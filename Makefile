# paybridge — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Local state: the embedded PostgreSQL's data (pgdata) and the demo's secrets (demo.env).
DATA   ?= .paybridge
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
DEMO   := PAYBRIDGE_SANDBOX=true PAYBRIDGE_PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) PAYBRIDGE_DATA_DIR=$(DATA)

.PHONY: run test lint typecheck check install bench lock clean

# pip, showing one line per package (what is being fetched and installed) and failing when it fails.
define pip_install
{ $(BIN)/pip install --disable-pip-version-check --no-input --progress-bar off --require-hashes -r $(1); \
  echo $$? > $(VENV)/.pip-status; } | grep --line-buffered -E '^(Collecting|Installing|Successfully)' | cut -c1-100; \
  exit $$(cat $(VENV)/.pip-status)
endef

# Runtime dependencies only (what `make run` needs), and the development set (a superset).
$(BIN)/.runtime: requirements.lock
	@echo "==> creating $(VENV) and installing the runtime dependencies from requirements.lock"
	@echo "    (about 30 s the first time: FastAPI, SQLAlchemy, asyncpg, the embedded PostgreSQL server, ...)"
	@$(PYTHON) -m venv $(VENV)
	@$(call pip_install,requirements.lock)
	@touch $@

$(BIN)/.installed: requirements-dev.lock
	@echo "==> creating $(VENV) and installing the development dependencies from requirements-dev.lock"
	@$(PYTHON) -m venv $(VENV)
	@$(call pip_install,requirements-dev.lock)
	@touch $@ $(BIN)/.runtime

install: $(BIN)/.installed

## make run: migrate, seed the demo (sandbox mode) and serve on $(PUBLIC_BASE_URL). The database is
## PAYBRIDGE_DATABASE_URL, or the embedded PostgreSQL in $(DATA)/pgdata (started here, stopped by Ctrl-C).
## Reruns keep everything: the same demo key and operator token ($(DATA)/demo.env), URLs follow PORT.
run: $(BIN)/.runtime
	@echo "==> database: migrations and reference catalogues"
	@$(DEMO) PAYBRIDGE_LOG_LEVEL=WARNING $(BIN)/python -m app migrate
	@echo "==> demo: agency, client, sandbox gateway account, one payment"
	@$(DEMO) PAYBRIDGE_LOG_LEVEL=WARNING $(BIN)/python -m app seed-demo --env-file $(DATA)/demo.env
	@echo "==> serving $(PUBLIC_BASE_URL) (Ctrl-C stops it, and the embedded PostgreSQL)"
	@. "$(abspath $(DATA))/demo.env" && $(DEMO) PAYBRIDGE_ADMIN_TOKEN="$$ADMIN" \
		exec $(BIN)/python -m app serve --host $(HOST) --port $(PORT)

## make test: the whole suite on PostgreSQL: PAYBRIDGE_TEST_DATABASE_URL, or an embedded server
## started for the run (data in a temporary folder)
test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/ruff format --check app tests bench migrations
	$(BIN)/lint-imports --no-logo

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

bench: install
	$(BIN)/python bench/run.py

## make lock: re-resolve pinned dependencies after editing pyproject.toml
lock: install
	$(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe -o requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --extra dev -o requirements-dev.lock pyproject.toml

## make clean: the venv, the caches and $(DATA) (the embedded database is stopped first)
clean:
	@if [ -d "$(DATA)/pgdata" ] && [ -x $(BIN)/python ]; then \
		$(BIN)/python -c 'import sys, pathlib; from app.embedded_pg import EmbeddedPostgres; EmbeddedPostgres(pathlib.Path(sys.argv[1])).remove()' "$(DATA)/pgdata"; \
	fi
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(DATA)
