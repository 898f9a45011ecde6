"""Build benchmark: `meterhouse build` (dbt) against one hand-written DuckDB query.

Needs the 10M-event warehouse that bench/ingest.py leaves in bench/out/mh.duckdb. Makes a new
warehouse, imports the real LiteLLM catalog into it when ../shared is there (else the snapshot
seed prices; prices must be in before the usage they price), copies the loaded events in, then,
each in a fresh process:
  (a) the floor: one SQL statement computing fct_usage_daily with prices, given the small
      resolution and price-version tables (materialized beforehand, not timed);
  (b) `meterhouse build`: every model and every data and unit test;
  (c) the same build after one more day (350k events) is ingested;
  (d) the same build, run a second time, on a warehouse with no events: dbt's fixed cost
      (start-up, about 3 s of imports alone on this machine, and per-node overhead), which no
      data volume changes.
(c) re-rates only the days that received the new events (docs/decisions/0004).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from meterhouse.warehouse.dbt import dbt_dir

OUT = Path(__file__).resolve().parent / "out"
CATALOG = (
    Path(__file__).resolve().parents[2] / "shared/data/litellm/model_prices_and_context_window.json"
)
FLOOR = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
con.execute('''
create or replace table bench_usage_daily as
select e.tenant_id, coalesce(r.model_id, e.model) as model_id, e.usage_date, e.service_tier,
       count(*) as request_count, sum(e.input_tokens), sum(e.output_tokens),
       sum(e.cache_read_tokens), sum(e.cache_write_tokens), sum(e.reasoning_tokens),
       sum(cast(e.input_tokens - e.cache_read_tokens - e.cache_write_tokens as decimal(38,0))
             * p.input_usd_per_1m_tokens
           + cast(e.cache_read_tokens as decimal(38,0))
             * coalesce(p.cache_read_usd_per_1m_tokens, p.input_usd_per_1m_tokens)
           + cast(e.cache_write_tokens - e.cache_write_1h_tokens as decimal(38,0))
             * coalesce(p.cache_write_usd_per_1m_tokens, p.input_usd_per_1m_tokens)
           + cast(e.cache_write_1h_tokens as decimal(38,0))
             * coalesce(p.cache_write_1h_usd_per_1m_tokens, p.cache_write_usd_per_1m_tokens,
                        p.input_usd_per_1m_tokens)
           + cast(e.reasoning_tokens as decimal(38,0))
             * coalesce(p.reasoning_usd_per_1m_tokens, p.output_usd_per_1m_tokens)
           + cast(e.output_tokens - e.reasoning_tokens as decimal(38,0))
             * p.output_usd_per_1m_tokens) * 0.000001::decimal(7,6) as api_cost_usd
from raw.usage_events e
left join bench_resolved r on r.model_name = e.model
left join bench_versions p
  on p.model_id = r.model_id and p.service_tier = 'standard' and p.min_context_tokens = 0
 and p.valid_from <= e.event_at and (p.valid_to is null or p.valid_to > e.event_at)
group by all
''')
"""
COPY_RAW = """
import sys
from pathlib import Path

from meterhouse.warehouse.dbt import dbt_dir
from meterhouse.warehouse.db import connect
with connect(Path(sys.argv[1])) as con:  # creates the raw tables when no import did
    con.execute(f"attach '{sys.argv[2]}' as src (read_only)")
    for table in ("usage_events", "quarantined_events", "load_manifest"):
        con.execute(f"insert into raw.{table} select * from src.raw.{table}")
"""
PREPARE = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
con.execute("create or replace table bench_resolved as from main.int_model_names_resolved")
con.execute("create or replace table bench_versions as from main.int_price_versions_pivoted")
"""


def timed(cmd: list[str]) -> float:
    begin = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)} (run it by hand to see why)")
    return time.perf_counter() - begin


def main() -> None:
    source, day = OUT / "mh.duckdb", OUT / "day-350000" / "events"
    if not source.exists() or not day.exists():
        sys.exit("run bench/ingest.py first: it leaves the 10M-event warehouse in bench/out")
    db = OUT / "build.duckdb"
    db.unlink(missing_ok=True)
    meterhouse = str(Path(sys.executable).with_name("meterhouse"))
    if CATALOG.exists():
        subprocess.run([meterhouse, "prices", "import", "--litellm", str(CATALOG),
                        "--effective-from", "2026-07-24", "--db", str(db)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    subprocess.run([sys.executable, "-c", COPY_RAW, str(db), str(source)], check=True)
    b = timed([meterhouse, "build", "--db", str(db)])
    results = dbt_dir(db) / "target" / "run_results.json"
    nodes = {r["unique_id"].split(".")[-1]: r["execution_time"]
             for r in json.loads(results.read_text())["results"]}  # fmt: skip
    rating = nodes["int_usage_days_rated"] + nodes["fct_usage_daily"]
    subprocess.run([sys.executable, "-c", PREPARE, str(db)], check=True)
    a = timed([sys.executable, "-c", FLOOR, str(db)])
    subprocess.run([meterhouse, "ingest", str(day), "--db", str(db)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    c = timed([meterhouse, "build", "--db", str(db)])
    empty = OUT / "build_empty.duckdb"
    empty.unlink(missing_ok=True)
    timed([meterhouse, "build", "--db", str(empty)])  # loads the seeds, parses for this file
    d = timed([meterhouse, "build", "--db", str(empty)])
    print(f"(a) one DuckDB query, fct_usage_daily with prices:  {a:7.2f} s")
    print(f"(b) meterhouse build (all models and tests):         {b:7.2f} s")
    print(f"(c) meterhouse build after one more day:             {c:7.2f} s")
    print(f"(d) meterhouse build on a warehouse with no events:   {d:7.2f} s")
    print(
        f"    of which rating the events (int_usage_days_rated + fct_usage_daily): {rating:.2f} s"
    )
    print(f"full build / bare query (b/a):   {b / a:6.2f}   target <= 3")
    print(f"rating models / bare query:      {rating / a:6.2f}   (the rest is dbt start-up, tests)")
    print(f"next-day build / full (c/b):     {c / b:6.2%}   target <= 25%")
    print(f"fixed cost / bare query (d/a):   {d / a:6.2f}   (over 3: below dbt's floor)")
    print(f"data-driven part (b-d)/a:        {(b - d) / a:6.2f}")
    print(f"next day's data-driven part (c-d)/(b-d): {(c - d) / (b - d):6.2%}")


if __name__ == "__main__":
    main()
