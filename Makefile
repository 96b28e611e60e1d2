# crowdmarket: `make run` serves a demo on embedded SQLite; `make test` runs the whole suite on PostgreSQL and on SQLite.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

# The test suite runs against the real services at their default local addresses unless told otherwise.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://root@127.0.0.1:5432/crowdmarket)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/15)
# `make run PORT=8001` when 8000 is taken.
PORT ?= 8000

.PHONY: install run test test-postgresql test-sqlite faults lint format bench clean demo fuzz chromium

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	DEBUG=1 $(PY) manage.py migrate --verbosity 0
	DEBUG=1 $(PY) manage.py seed_demo --base-url http://127.0.0.1:$(PORT)
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:$(PORT)

# The end-to-end demo: a requester and a simulated crowd through the HTTP API, in process (SQLite, in-process tasks).
# With DATABASE_URL / REDIS_URL it runs on PostgreSQL + Redis (then CELERY_TASK_ALWAYS_EAGER=1, or run a worker).
demo: install
	DEBUG=1 $(PY) manage.py migrate --verbosity 0
	DEBUG=1 $(PY) manage.py simulate $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	SECRET_KEY=mypy-only-secret $(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work offline): installed here
# when missing, as root through apt (CI and fresh machines), or point CHROMIUM_PATH at another Chromium.
CHROMIUM_PATH ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM_PATH) || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# The suite runs twice, side by side (each run's output printed whole when it ends): on PostgreSQL (production's
# database; the browser tests too), and on the embedded SQLite file that `make run` and `make demo` use: there the
# tests that use the database, but for those marked `postgresql_only` (row-lock races, triggers, COPY, query plans),
# skipped with their reason. Each run has its own Redis database, which each of its tests clears.
TEST_REDIS_URL_SQLITE ?= redis://127.0.0.1:6379/12
TEST_ENV = CHROMIUM_PATH=$(CHROMIUM_PATH) SECRET_KEY=test-only-secret CELERY_TASK_ALWAYS_EAGER=1
test: lint chromium
	$(MAKE) --no-print-directory -j2 --output-sync=target test-postgresql test-sqlite

test-postgresql: install
	$(TEST_ENV) REDIS_URL=$(TEST_REDIS_URL) DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -m "not faults" $(PYTEST_ARGS)

test-sqlite: install
	env -u DATABASE_URL $(TEST_ENV) REDIS_URL=$(TEST_REDIS_URL_SQLITE) $(BIN)/pytest -m "not faults and not browser" --database-tests-only $(PYTEST_ARGS)

# The fault tests (tests/faults, marked `faults`): real processes started, stopped and killed by PID: private
# redis-server instances on FAULTS_PORTS (default 16420-16439, never the shared Redis), Celery workers, beat, an
# ingest killed with SIGKILL. Slower (a minute or two); needs redis-server on PATH.
faults: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SECRET_KEY=test-only-secret \
	CELERY_TASK_ALWAYS_EAGER=1 $(BIN)/pytest -m faults tests/faults $(PYTEST_ARGS)

# A longer schemathesis run against the OpenAPI schema, as every role (FUZZ_EXAMPLES per operation; FUZZ_SEED replays),
# and every value of the hostile corpus (tests/hostile.py) in every body field, query parameter and upload.
fuzz: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SECRET_KEY=test-only-secret CELERY_TASK_ALWAYS_EAGER=1 \
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),200) $(BIN)/pytest tests/fuzz/test_schema_fuzz.py tests/fuzz/test_hostile_inputs.py -q

bench: install
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	DATABASE_URL=$(TEST_DATABASE_URL) SECRET_KEY=bench-only-secret $(PY) bench/ingest.py
	$(PY) bench/aggregate.py
	$(PY) bench/answer_types.py
	$(PY) bench/spatial.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m bench.claims

clean:
	rm -rf $(VENV) db.sqlite3* var .pytest_cache .ruff_cache .mypy_cache
