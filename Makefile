# Set-up and checks. Only Python 3.11+ and make are needed: everything else is installed into
# .venv from the lock (constraints.txt).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= meterhouse.duckdb
SAMPLE ?= sample

.PHONY: demo test test-spark check lint typecheck layers sqllint bench bench-sources bench-spark lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# the spark target: PySpark and dbt-spark (PySpark runs on the machine's Java 17)
$(VENV)/.spark: $(VENV)/.dev
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $@

CATALOG ?= ../shared/data/litellm/model_prices_and_context_window.json

## demo: generate sample exports (events, GPU telemetry, a LiteLLM proxy's spend logs), load the
## spend logs with --source litellm, run the whole nightly job into $(DB),
## issue September's invoices and write them (JSON, CSV, PDF) under $(SAMPLE)/invoices, write
## the forecast charts under $(SAMPLE)/forecast, print the margin and cost reports, and
## reconcile a demo vendor bill with injected discrepancies
## (list prices: the full LiteLLM catalog when ../shared is there, else the shipped snapshot)
demo: $(VENV)/.runtime
	$(BIN)/meterhouse generate --out $(SAMPLE) --days 45 --tenants 25 --events-per-day 20000
	@if [ -f "$(CATALOG)" ]; then \
	  $(BIN)/meterhouse prices import --litellm "$(CATALOG)" --effective-from 2026-07-24 --db $(DB); \
	else echo "no LiteLLM catalog at $(CATALOG): pricing with seeds/reference/price_book_snapshot.csv"; fi
	$(BIN)/meterhouse sample litellm --out $(SAMPLE)/litellm --days 45
	$(BIN)/meterhouse ingest --source litellm $(SAMPLE)/litellm --db $(DB)
	$(BIN)/meterhouse nightly --events $(SAMPLE)/events --gpu-hours $(SAMPLE)/gpu_hours \
	  --contracts $(SAMPLE)/contracts --db $(DB)
	$(BIN)/meterhouse invoice issue --month 2026-09 --db $(DB) --issuer "Example AI Ltd"
	$(BIN)/meterhouse invoice --month 2026-09 --db $(DB) --out $(SAMPLE)/invoices
	$(BIN)/meterhouse forecast --db $(DB) --out $(SAMPLE)/forecast
	$(BIN)/meterhouse report margin --month 2026-09 --db $(DB) --out $(SAMPLE)/margin-2026-09.csv
	$(BIN)/meterhouse report cost --month 2026-09 --db $(DB) --out $(SAMPLE)/cost-2026-09.csv
	$(BIN)/meterhouse sample vendor-bill --sample $(SAMPLE) --month 2026-09 \
	  $$([ -f "$(CATALOG)" ] && echo --catalog "$(CATALOG)")
	$(BIN)/meterhouse reconcile --vendor-bill $(SAMPLE)/vendor_bills/openai-2026-09.csv \
	  --month 2026-09 --db $(DB) --out $(SAMPLE)/vendor_bills/variances.csv \
	  || echo "reconcile exit 1: the demo bill carries injected discrepancies (listed above)"

## check: lint, format, type, layering (import-linter) and SQL style (sqlfluff) checks
check: lint typecheck layers sqllint

lint: $(VENV)/.dev
	$(BIN)/ruff check cli tests bench
	$(BIN)/ruff format --check cli tests bench

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# which package may import which: the contracts in pyproject.toml (docs/decisions/0014)
layers: $(VENV)/.dev
	$(BIN)/lint-imports

# the dbt SQL: lowercase, explicit aliases, 100 columns (.sqlfluff; jinja templater)
sqllint: $(VENV)/.dev
	$(BIN)/sqlfluff lint models macros analyses tests/dbt

## test: checks, then every test, the DuckDB = Spark comparison of test-spark included
## (pytest's exit 5, "no tests ran", is a failure too)
test: check $(VENV)/.spark
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

## test-spark: build the project on DuckDB and on Spark from one data set and compare every
## mart row by row (tests/spark; about 6 minutes)
test-spark: $(VENV)/.spark
	$(BIN)/python -m pytest -m spark; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

## bench: the ingest benchmark (10M events; minutes, several GB of disk in bench/out)
bench: $(VENV)/.runtime
	$(BIN)/python bench/ingest.py

## bench-sources: the litellm and otel sources against native ingest and bare reads of the same
## 1M requests (5-9 min; 5.3 GB of generated files kept in bench/out/sources)
bench-sources: $(VENV)/.runtime
	$(BIN)/python bench/sources.py

## bench-spark: DuckDB and local Spark builds of the same 10M events (tens of minutes)
bench-spark: $(VENV)/.spark
	$(BIN)/python bench/spark.py

## lock: re-resolve the newest versions allowed by pyproject.toml into constraints.txt
lock:
	rm -rf /tmp/meterhouse-lock && $(PYTHON) -m venv /tmp/meterhouse-lock
	/tmp/meterhouse-lock/bin/pip install --quiet --upgrade pip
	/tmp/meterhouse-lock/bin/pip install --quiet -e '.[dev,spark]'
	{ echo "# Lock: exact versions tested together (regenerate with 'make lock')."; \
	  /tmp/meterhouse-lock/bin/pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) target logs $(SAMPLE) $(DB) $(DB:.duckdb=.spark) $(DB:.duckdb=.dbt) bench/out
