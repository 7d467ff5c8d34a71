# slaclock: `make run` shows the engine on the bundled sample, `make test` runs everything,
# `make test-unit` the fast tests (tests/unit) with no service started. All create .venv and
# install the project first; `make test` also starts the PostgreSQL server (Debian packages,
# wal_level=logical), the Kafka broker and the Kafka Connect worker with Debezium (Maven jars)
# and Chromium that tests/integration and tests/e2e use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE_STORE := var/run/sample.db
SAMPLE := --config examples/slaclock.toml --store sqlite:///$(SAMPLE_STORE)

.PHONY: venv run test test-unit lint contract postgres postgres-stop kafka kafka-stop connect \
	connect-stop bench clean

# The editable install maps slaclock's subpackages to their folders with setuptools' import
# finder, whose one notice ("Editable installation ... folders with the same name") is silenced.
$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	@PYTHONWARNINGS="ignore:Editable installation" \
		$(BIN)/pip install -q --disable-pip-version-check -e ".[test]"
	@touch $@

venv: $(BIN)/.installed

run: venv
	@mkdir -p var/run && rm -f $(SAMPLE_STORE) $(SAMPLE_STORE)-wal $(SAMPLE_STORE)-shm
	@$(BIN)/slaclock $(SAMPLE) ingest examples/events.jsonl --dead-letter var/run/rejected.jsonl
	@$(BIN)/slaclock $(SAMPLE) report compliance --month 2025-09
	@$(BIN)/slaclock $(SAMPLE) report credits --month 2025-09
	@$(BIN)/slaclock $(SAMPLE) report credits --month 2025-10

lint: venv
	$(BIN)/ruff check .

# Debian's Chromium for the dashboard's browser test (Playwright drives it; no browser download).
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium chromium-driver)

postgres:
	scripts/postgres.sh start

postgres-stop:
	scripts/postgres.sh stop

kafka: venv
	services/kafka/kafka.sh start

kafka-stop:
	services/kafka/kafka.sh stop

# Kafka Connect (standalone) with the Debezium PostgreSQL connector, for change-data capture;
# needs the broker. Connectors are added through its REST API (docs/cdc.md).
connect: kafka
	services/connect/connect.sh start

connect-stop:
	services/connect/connect.sh stop

# No service: tests/unit needs none (and must not need one).
test-unit: venv
	$(BIN)/python -m pytest -q tests/unit

# The suite mostly waits (subprocesses, the broker, timers), so it runs on TEST_WORKERS
# pytest-xdist workers, a test file each at a time (module fixtures start once per file).
TEST_WORKERS ?= 3
test: venv lint postgres kafka connect browser
	SLACLOCK_TEST_POSTGRES_URL=$$(scripts/postgres.sh url) $(BIN)/python -m pytest -q \
		-n $(TEST_WORKERS) --dist loadfile --durations=25

bench: venv
	$(BIN)/python bench/run.py

clean:
	rm -rf var/run .pytest_cache .hypothesis
