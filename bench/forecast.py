"""Forecast benchmark: accuracy against the baselines on three generated fleets, and the speed
of the nightly forecast of 2,000 tenants.

Accuracy: for each of SEEDS (fixed before the method was chosen: docs/forecasting.md), 90
days of TENANTS_ACCURACY tenants, built once into bench/out. A rolling-origin backtest of
every tenant's series (ORIGINS origins a week apart, each forecast seeing only the days
before its origin, storm flags included), at horizons 7, 14 and 30 days, scores the chosen
method ("auto") and each baseline (naive: the last day; seasonal naive: the same weekday last
week) with MASE (mean absolute error over the in-sample mean absolute week-on-week change,
averaged over series and origins). Prints, per horizon, auto's MASE over the better baseline's
(the target: <= 0.85) and auto's 80% and 95% interval coverage (target for 80%: 75-85%),
over all seeds and per seed.

Speed: 90 days of 2,000 tenants (seed SEEDS[0]); times the nightly forecast step
(`meterhouse forecast`: tenants and models, read, fit, store) in a fresh process, the median
of SPEED_RUNS, and the fit alone in this process.

The warehouses are kept in bench/out between runs; delete them when the generator changes
(the bench prints the generator's commit it ran on). Run with `.venv/bin/python bench/forecast.py`
(`--quick`: one seed, horizon 14, no timing).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import polars as pl

from meterhouse.core.forecast import BASELINES, backtest, forecast_all
from meterhouse.paths import shared_data_dir
from meterhouse.sample import generate_sample
from meterhouse.warehouse.db import connect
from meterhouse.warehouse.forecast import Series, read_series

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SEEDS = (9, 21, 33)
# What SEEDS were run on; ea688bc (GPU fleet and contracts only) writes the same events.
GENERATOR = "cli/meterhouse/sample at commit 1cba244 (package 0.1.0)"
TENANTS_ACCURACY, TENANTS_SPEED, DAYS, EVENTS_PER_TENANT_DAY = 500, 2_000, 90, 10
HORIZONS, ORIGINS, SPEED_RUNS = (7, 14, 30), 4, 3
METER = str(Path(sys.executable).with_name("meterhouse"))


def warehouse(tenants: int, seed: int) -> Path:
    data = OUT / f"forecast-{tenants}-seed{seed}"
    db = data.with_suffix(".duckdb")
    if not (data / "events").is_dir():
        print(f"generating {DAYS} days of {tenants:,} tenants, seed {seed} ...", flush=True)
        generate_sample(data, days=DAYS, tenants=tenants, seed=seed, start=date(2026, 8, 1),
                        events_per_day=EVENTS_PER_TENANT_DAY * tenants,
                        shared_data=shared_data_dir())  # fmt: skip
    if not db.exists():
        print(f"loading and building {db.name} ...", flush=True)
        for step in (["ingest", str(data / "events")],
                     ["build", "--contracts", str(data / "contracts")]):  # fmt: skip
            subprocess.run([METER, *step, "--db", str(db)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return db


def tenant_series(db: Path) -> Series:
    with connect(db, read_only=True) as con:
        return read_series(con, [], with_models=False)


def scores(series: Series, horizons: tuple[int, ...]) -> pl.DataFrame:
    """One row per tenant, horizon, origin and method: abs_error / scale and coverage."""
    rows = backtest(series.items, horizons, ORIGINS, series.storms, ("auto", *BASELINES))
    return pl.DataFrame(
        [(key, h, origin, asked, s.abs_error / s.scale if s.scale > 0 else None, s.covered_80,
          s.covered_95) for key, h, origin, asked, _, s in rows],
        schema=["series", "horizon_days", "origin", "method", "scaled_error", "covered_80",
                "covered_95"], orient="row",
    )  # fmt: skip


def accuracy(scored: pl.DataFrame) -> pl.DataFrame:
    """Per horizon: MASE of auto and of each baseline, auto over the better, coverage."""
    table = (
        scored.filter(pl.col("scaled_error").is_not_null())
        .group_by("horizon_days")
        .agg(
            pl.col("scaled_error").filter(pl.col("method") == m).mean().alias(m)
            for m in ("auto", *BASELINES)
        )
        .join(
            scored.filter(pl.col("method") == "auto")
            .group_by("horizon_days")
            .agg(
                pl.len().alias("forecasts"),
                pl.col("covered_80").mean(),
                pl.col("covered_95").mean(),
            ),
            on="horizon_days",
        )
        .with_columns(ratio=pl.col("auto") / pl.min_horizontal(*BASELINES))
        .sort("horizon_days")
    )
    return table


def print_accuracy(title: str, table: pl.DataFrame) -> None:
    print(title)
    print("  horizon  forecasts  MASE auto  naive  seasonal naive  auto/better  80% cov  95% cov")
    for r in table.iter_rows(named=True):
        print(f"  {r['horizon_days']:4d} d  {r['forecasts']:9,d}  {r['auto']:9.3f}  "
              f"{r['naive']:5.3f}  {r['seasonal_naive']:14.3f}  {r['ratio']:10.2f}x  "
              f"{r['covered_80']:7.1%}  {r['covered_95']:7.1%}")  # fmt: skip


def generator_commit() -> str:
    done = subprocess.run(["git", "log", "-1", "--format=%h", "--", "cli/meterhouse/sample"],
                          cwd=ROOT, capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip() or "unknown"


def main() -> None:
    quick = "--quick" in sys.argv
    seeds, horizons = (SEEDS[:1], (14,)) if quick else (SEEDS, HORIZONS)
    print(f"seeds {', '.join(map(str, seeds))}; generator recorded: {GENERATOR}; "
          f"generator now: commit {generator_commit()}")  # fmt: skip
    per_seed = []
    for seed in seeds:
        series = tenant_series(warehouse(TENANTS_ACCURACY, seed))
        begin = time.perf_counter()
        scored = scores(series, horizons).with_columns(seed=pl.lit(seed))
        print(f"seed {seed}: {len(series.items):,} tenants, {len(series.storms)} with storms, "
              f"backtest {time.perf_counter() - begin:.1f} s")  # fmt: skip
        per_seed.append(scored)
    everything = pl.concat(per_seed)
    print_accuracy(
        f"all seeds ({DAYS} days, {ORIGINS} origins a week apart):", accuracy(everything)
    )
    for seed, part in everything.partition_by("seed", as_dict=True, maintain_order=True).items():
        print_accuracy(f"seed {seed[0]}:", accuracy(part))
    if quick:
        return

    db = warehouse(TENANTS_SPEED, SEEDS[0])
    with connect(db, read_only=True) as con:
        series = read_series(con, [])
    begin = time.perf_counter()
    made = forecast_all(series.items, 30, storms=series.storms)
    fit = time.perf_counter() - begin
    nightly = []
    for _ in range(SPEED_RUNS):
        begin = time.perf_counter()
        subprocess.run([METER, "forecast", "--db", str(db)], check=True, capture_output=True)
        nightly.append(time.perf_counter() - begin)
    chosen = Counter(f.method for _, f in made)
    print(f"speed: {len(series.items):,} series (tenants and models), 30 days ahead")
    print(f"  fit and forecast, every core, in this process: {fit:6.1f} s")
    print(f"  the nightly forecast step (`meterhouse forecast`, fresh process, read, fit, "
          f"store), median of {SPEED_RUNS}: {statistics.median(nightly):.1f} s "
          f"(runs: {', '.join(f'{t:.1f}' for t in nightly)})")  # fmt: skip
    print("  methods: " + ", ".join(f"{m} {k:,}" for m, k in chosen.most_common()))


if __name__ == "__main__":
    main()
