"""Spark benchmark: the same dbt project built on DuckDB and on local Spark, 10M events.

Uses the data and warehouse of bench/cost.py (10M events over September 2026, 200 tenants,
a 202-GPU fleet and its hourly telemetry; generated and loaded on first use). Then, on this
machine:
  (a) the floor: one bare DuckDB query over the raw events giving usage and list cost per
      tenant, day and model (the core of what the billing models compute);
  (b) `meterhouse build --full-refresh` on DuckDB (every model, data test and unit test);
  (c) the same on `--target spark` (PySpark local[*], the raw tables exported to Parquet,
      Spark session start, every model, data test and unit test, the marts published).
It checks that both engines give the same invoice lines (count and sum of amounts) and prints
wall times, the models' own time from dbt's run_results.json, and ratios.
Run with `.venv/bin/python bench/spark.py` (needs the spark extra: make test-spark installs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from cost import DATA, DB, prepare
from meterhouse.warehouse.dbt import dbt_dir

FLOOR = """
select e.tenant_id, e.usage_date, e.model, count(*), sum(e.input_tokens), sum(e.output_tokens),
       sum(e.input_tokens * p.usd_per_1m_tokens) / 1000000
from raw.usage_events e
left join main.stg_meterhouse__price_book p
  on p.model_id = e.model and p.token_class = 'input' and p.service_tier = e.service_tier
 and p.min_context_tokens = 0
group by all
"""
LINES = "select count(*), sum(amount) from {} where line_type <> 'credit'"


def build(meterhouse: str, target: str) -> tuple[float, float]:
    """Wall seconds of the build, and the models' own seconds (dbt's run_results.json)."""
    begin = time.perf_counter()
    args = [meterhouse, "build", "--db", str(DB), "--contracts", str(DATA / "contracts"),
            "--full-refresh", "--target", target]  # fmt: skip
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - begin
    results = json.loads((dbt_dir(DB) / "target" / "run_results.json").read_text())["results"]
    models = sum(r["execution_time"] for r in results if r["unique_id"].startswith("model."))
    return wall, models


def main() -> None:
    meterhouse = str(Path(sys.executable).with_name("meterhouse"))
    prepare(meterhouse)
    with duckdb.connect(str(DB), read_only=True) as con:
        [(events,)] = con.execute("select count(*) from raw.usage_events").fetchall()
        begin = time.perf_counter()
        con.execute(FLOOR).fetchall()
        floor = time.perf_counter() - begin
    print(f"{events:,} events (bench/out, shared with bench/cost.py)")
    duck_wall, duck_models = build(meterhouse, "duckdb")
    spark_wall, spark_models = build(meterhouse, "spark")
    published = DB.with_name(f"{DB.stem}.spark") / "marts" / "fct_invoice_lines"
    with duckdb.connect(str(DB), read_only=True) as con:
        duck = con.execute(LINES.format("main.fct_invoice_lines")).fetchall()
        spark = con.execute(LINES.format(f"read_parquet('{published}/*.parquet')")).fetchall()
    print(f"(a) bare DuckDB query, usage and cost per tenant, day, model: {floor:8.2f} s")
    print(f"(b) DuckDB build, wall:                                     {duck_wall:8.2f} s")
    print(f"    its models' own time:                                   {duck_models:8.2f} s")
    print(f"(c) Spark build (local, {os.cpu_count()} cores), wall:                "
          f"{spark_wall:8.2f} s")  # fmt: skip
    print(f"    its models' own time:                                   {spark_models:8.2f} s")
    print(f"invoice lines, DuckDB: {duck[0][0]:,} lines, {duck[0][1]} in all currencies")
    print(f"invoice lines, Spark:  {spark[0][0]:,} lines, {spark[0][1]} in all currencies")
    print(f"same invoice lines: {duck == spark}")
    print(f"DuckDB build / bare query (b / a):      {duck_wall / floor:8.1f}")
    print(f"Spark build / bare query (c / a):       {spark_wall / floor:8.1f}")
    print(f"Spark / DuckDB, wall (c / b):           {spark_wall / duck_wall:8.1f}")
    print(f"Spark / DuckDB, models' own time:       {spark_models / duck_models:8.1f}")
    if duck != spark:
        raise SystemExit("the engines disagree on the invoice lines")


if __name__ == "__main__":
    main()
