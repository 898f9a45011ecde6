"""Forecast benchmark: 2,000 tenant series x 90 days of history on this machine's cores.

Generates 90 days of events of 2,000 tenants (kept in bench/out between runs) and builds the
marts once. Then times, on the tenants' daily series:
  (a) seasonal naive for every series;
  (b) the chosen method ("auto": ETS or seasonal naive per series, on every core);
  (c) the same on one core, over the first 100 series (what the process pool gains);
  (d) the whole forecast step of the nightly job (`meterhouse forecast`: tenants and models,
      read, fit, store), in a fresh process.
Prints series per second for each, and the methods chosen.
Run with `.venv/bin/python bench/forecast.py`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

from meterhouse.core.forecast import _forecast_chunk, forecast_all
from meterhouse.paths import shared_data_dir
from meterhouse.sample import generate_sample
from meterhouse.warehouse.db import connect
from meterhouse.warehouse.forecast import read_series

OUT = Path(__file__).resolve().parent / "out"
TENANTS, DAYS, EVENTS_PER_DAY, H = 2_000, 90, 20_000, 30


def warehouse() -> Path:
    data, db = OUT / f"forecast-{TENANTS}", OUT / f"forecast-{TENANTS}.duckdb"
    meterhouse = str(Path(sys.executable).with_name("meterhouse"))
    if not (data / "events").is_dir():
        print(f"generating {DAYS} days of {TENANTS:,} tenants under {data} ...", flush=True)
        generate_sample(data, days=DAYS, tenants=TENANTS, events_per_day=EVENTS_PER_DAY,
                        seed=9, start=date(2026, 8, 1), shared_data=shared_data_dir())  # fmt: skip
    if not db.exists():
        print(f"loading and building {db} ...", flush=True)
        for step in (["ingest", str(data / "events")],
                     ["build", "--contracts", str(data / "contracts")]):  # fmt: skip
            subprocess.run([meterhouse, *step, "--db", str(db)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return db


def timed(step: object) -> tuple[float, object]:
    assert callable(step)
    begin = time.perf_counter()
    result = step()
    return time.perf_counter() - begin, result


def main() -> None:
    db = warehouse()
    with connect(db, read_only=True) as con:
        series = read_series(con, [], with_models=False)
    items = series.items
    n = len(items)
    a, _ = timed(lambda: forecast_all(items, H, "seasonal_naive"))
    b, made = timed(lambda: forecast_all(items, H, "auto"))
    assert isinstance(made, list)
    c, _ = timed(lambda: _forecast_chunk(items[:100], H, "auto"))
    command = [str(Path(sys.executable).with_name("meterhouse")), "forecast", "--db", str(db)]
    d, _ = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    chosen = Counter(f.method for _, f in made)
    print(f"{n:,} tenant series, {len(items[0][1])} days of history at most, {H} days ahead")
    print(f"(a) seasonal naive, all series:            {a:7.1f} s  {n / a:8.1f} series/s")
    print(f"(b) chosen method (auto), every core:      {b:7.1f} s  {n / b:8.1f} series/s")
    print(f"(c) chosen method, one core, 100 series:   {c:7.1f} s  {100 / c:8.1f} series/s")
    print(f"(d) the nightly forecast step (tenants and models, stored): {d:.1f} s")
    print("methods chosen: " + ", ".join(f"{m} {k:,}" for m, k in chosen.most_common()))


if __name__ == "__main__":
    main()
