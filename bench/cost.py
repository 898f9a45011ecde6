"""Cost benchmark: the GPU cost mapping and a vendor-bill reconciliation against bare DuckDB.

Generates (once, kept in bench/out) 10M events over September 2026 with a self-hosted fleet of
200 GPUs (fleet scale 20, plus a spare of each kind) and their 30 days of hourly telemetry,
loads both, builds every model, and writes the demo OpenAI bill for September. Then:
  (a) the floor: one DuckDB query giving each tenant's GPU cost per month from the raw tables
      (hour cost x tenant's weighted tokens / hour's weighted tokens);
  (b) the GPU cost mapping: `meterhouse build --select` its three models (and their tests),
      wall time, and the three models' own time from dbt's run_results.json;
  (c) the floor of reconciliation: one DuckDB query reading the bill CSV and joining it to the
      metered usage per day, model and token class;
  (d) `reconcile_bill` (what `meterhouse reconcile` runs), in this process.
It checks that (a) and (b) give the same tenant totals, and prints times and ratios.
Run with `.venv/bin/python bench/cost.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from meterhouse.paths import shared_data_dir
from meterhouse.sample import generate_sample
from meterhouse.sample.vendor_bill import write_vendor_bill
from meterhouse.warehouse.dbt import dbt_dir
from meterhouse.warehouse.reconcile import reconcile_bill

OUT = Path(__file__).resolve().parent / "out"
DATA, DB = OUT / "cost-10000000", OUT / "cost.duckdb"
MONTH = date(2026, 9, 1)
GPU_FLOOR = """
with hour_costs as (
    select h.gpu_id, h.hour_at,
           coalesce(i.contract_usd_per_gpu_hour, r.usd_per_gpu_hour)
             * cast(h.powered_seconds as decimal(18, 3)) / 3600 as cost
    from raw.gpu_hours h
    join main.gpu_inventory i on i.gpu_id = h.gpu_id and i.effective_from <= h.hour_at
     and (i.effective_to is null or i.effective_to > h.hour_at)
    left join main.gpu_list_rates r on r.gpu_type = i.gpu_type
),
weights as (
    select gpu_id, date_trunc('hour', event_at) as hour_at, tenant_id,
           sum(input_tokens + 4 * output_tokens) as w
    from raw.usage_events where gpu_id is not null group by all
),
shares as (
    select tenant_id, date_trunc('month', hour_at) as month,
           cost * w / sum(w) over (partition by gpu_id, hour_at) as share
    from weights join hour_costs using (gpu_id, hour_at)
)
select tenant_id, month::date, sum(share) from shares group by all
"""
BILL_FLOOR = """
with bill as (
    select cast(cast(ChargePeriodStart as timestamp) as date) as usage_date,
           json_extract_string(SkuPriceDetails, '$.ModelId') as model_id,
           case when json_extract_string(SkuPriceDetails, '$.TokenDirection') = 'Output'
                then 'output'
                when json_extract_string(SkuPriceDetails, '$.TokenCacheAction') = 'Read'
                then 'cache_read'
                when json_extract_string(SkuPriceDetails, '$.TokenCacheAction') = 'Write'
                then 'cache_write'
                else 'input' end as token_class,
           sum(cast(ConsumedQuantity as bigint)) as billed_tokens,
           sum(cast(BilledCost as decimal(38, 12))) as billed_usd
    from read_csv($bill, all_varchar = true)
    where ChargeCategory = 'Usage'
    group by all
),
metered as (
    unpivot (
        select usage_date, model_id, sum(uncached_input_tokens) as input,
               sum(output_tokens) as output, sum(cache_read_tokens) as cache_read,
               sum(cache_write_tokens) as cache_write
        from main.int_usage_priced_daily
        where provider = 'openai' and not is_self_hosted
          and usage_date >= $month and usage_date < $month + interval 1 month
        group by all
    ) on input, output, cache_read, cache_write into name token_class value metered_tokens
)
select count(*), sum(abs(coalesce(billed_tokens, 0) - coalesce(metered_tokens, 0)))
from bill full join metered using (usage_date, model_id, token_class)
"""


def run(*args: str) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed_query(sql: str, **params: object) -> tuple[float, list[tuple[object, ...]]]:
    with duckdb.connect(str(DB), read_only=True) as con:
        begin = time.perf_counter()
        rows = con.execute(sql, params).fetchall()
        return time.perf_counter() - begin, rows


def prepare(meterhouse: str) -> Path:
    if not (DATA / "reference" / "generator.json").exists():
        begin = time.perf_counter()
        s = generate_sample(DATA, days=30, tenants=200, events_per_day=10_000_000 // 30, seed=1,
                            start=MONTH, shared_data=shared_data_dir(), fleet_scale=20)  # fmt: skip
        print(f"generated {s.rows_written:,} event rows, {s.gpu_hours.rows_written:,} GPU-hour "
              f"rows in {time.perf_counter() - begin:.0f} s")  # fmt: skip
    if not DB.exists():
        run(meterhouse, "ingest", str(DATA / "events"), "--db", str(DB))
        run(meterhouse, "ingest", "--gpu-hours", str(DATA / "gpu_hours"), "--db", str(DB))
        run(meterhouse, "build", "--db", str(DB), "--contracts", str(DATA / "contracts"))
    bill = DATA / "vendor_bills" / f"openai-{MONTH:%Y-%m}.csv"
    if not bill.exists():
        write_vendor_bill(DATA, MONTH)  # the warehouse priced with the shipped snapshot
    return bill


def main() -> None:
    meterhouse = str(Path(sys.executable).with_name("meterhouse"))
    bill = prepare(meterhouse)
    with duckdb.connect(str(DB), read_only=True) as con:
        [(events, gpus, hours)] = con.execute(
            "select (select count(*) from raw.usage_events), "
            "count(distinct gpu_id), count(*) from raw.gpu_hours"
        ).fetchall()
    print(f"{events:,} events, {gpus} GPUs, {hours:,} GPU-hours, bill {bill.name}")

    a, floor_rows = timed_query(GPU_FLOOR)
    models = "int_gpu_hour_costs int_gpu_hour_usage int_gpu_cost_allocated"
    begin = time.perf_counter()
    run(meterhouse, "build", "--db", str(DB), "--contracts", str(DATA / "contracts"),
        "--select", models)  # fmt: skip
    b_wall = time.perf_counter() - begin
    results = dbt_dir(DB) / "target" / "run_results.json"
    nodes = {r["unique_id"].split(".")[-1]: r["execution_time"]
             for r in json.loads(results.read_text())["results"]}  # fmt: skip
    b_models = sum(nodes[m] for m in models.split())
    run(meterhouse, "build", "--db", str(DB), "--contracts", str(DATA / "contracts"),
        "--select", "int_gpu_cost_allocated+")  # fmt: skip
    with duckdb.connect(str(DB), read_only=True) as con:
        mart = {
            (t, m): v
            for t, m, v in con.execute(
                "select tenant_id, billing_month, gpu_cost_usd from main.fct_tenant_margin "
                "where gpu_cost_usd > 0"
            ).fetchall()
        }
    worst = max(abs(Decimal(str(v)) - mart[(t, m)]) for t, m, v in floor_rows)
    c, _ = timed_query(BILL_FLOOR, bill=str(bill), month=MONTH)
    with duckdb.connect(str(DB), read_only=True) as con:
        begin = time.perf_counter()
        done = reconcile_bill(con, bill, MONTH, Decimal("0.005"))
        d = time.perf_counter() - begin
    failing = int(done.result.rows["is_failing"].sum())

    print(f"(a) bare query, GPU cost per tenant and month:        {a:7.2f} s")
    print(f"(b) meterhouse build of the GPU cost models (wall):   {b_wall:7.2f} s")
    print(f"    the three models' own time (dbt run_results):     {b_models:7.2f} s")
    print(f"    largest tenant-month difference (a) vs mart: {worst} USD")
    print(f"(c) bare query, bill joined to metered usage:         {c:7.2f} s")
    print(f"(d) reconcile_bill (meterhouse reconcile's work):     {d:7.2f} s "
          f"({len(done.result.rows):,} keys, {failing} beyond tolerance)")  # fmt: skip
    print(f"GPU cost models / bare query (b models / a): {b_models / a:6.2f}   target <= 3")
    print(f"GPU cost build wall / bare query (b / a):    {b_wall / a:6.2f}   (dbt start-up incl.)")
    print(f"reconcile / bare query (d / c):              {d / c:6.2f}   target <= 3")


if __name__ == "__main__":
    main()
