"""Ingest benchmark: `meterhouse ingest` against a bare DuckDB load of the same files.

Generates 10M events over 30 days (kept in bench/out between runs), then, each step in a fresh
process so times and peak memory are its own:
  (a) bare DuckDB: create table ... as select * from read_parquet(...) into a new file;
  (b) meterhouse ingest of the same files into a new warehouse;
  (c) the same ingest again (every file already loaded);
  (d) one more day of 350k events on top of the 10M; (e) that day loaded bare on its own, and
  (f) by meterhouse into an empty warehouse: d/f near 1 means a night costs what the night
  holds, whatever the history.
Prints times, rows per second, peak memory and the ratios the issue sets targets for.
Run with `make bench` or `.venv/bin/python bench/ingest.py [--events N]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from meterhouse.paths import shared_data_dir
from meterhouse.sample import generate_sample

OUT = Path(__file__).resolve().parent / "out"
START = date(2026, 9, 1)
DAYS = 30
BARE = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
con.execute("create table events as select * from read_parquet(?)", [sys.argv[2]])
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of one fresh process."""
    begin = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - begin
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)} (run it by hand to see why)")
    return seconds, usage.ru_maxrss / 2**20


def fresh(path: Path) -> Path:
    for p in (path, path.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events in 30 days")
    parser.add_argument("--day-events", type=int, default=350_000, help="events of the extra day")
    args = parser.parse_args()
    data, extra = OUT / f"events-{args.events}", OUT / f"day-{args.day_events}"
    meterhouse = str(Path(sys.executable).with_name("meterhouse"))

    if not (data / "reference" / "generator.json").exists():
        shutil.rmtree(data, ignore_errors=True)
        begin = time.perf_counter()
        s = generate_sample(data, days=DAYS, tenants=200, events_per_day=args.events // DAYS,
                            seed=1, start=START, shared_data=shared_data_dir())  # fmt: skip
        print(f"generated {s.rows_written:,} rows in {time.perf_counter() - begin:.1f} s")
    if not (extra / "reference" / "generator.json").exists():
        shutil.rmtree(extra, ignore_errors=True)
        next_day = START + timedelta(days=DAYS)
        generate_sample(extra, days=1, tenants=200, events_per_day=args.day_events, seed=2,
                        start=next_day, shared_data=shared_data_dir())  # fmt: skip
    files = sorted((data / "events").rglob("*.parquet"))
    day_files = sorted((extra / "events").rglob("*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    day_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in day_files)
    size = sum(f.stat().st_size for f in files) / 2**20
    print(f"{rows:,} rows in {len(files)} files ({size:,.0f} MiB); extra day {day_rows:,} rows")

    bare_db, bare_day_db, mh_db = OUT / "bare.duckdb", OUT / "bare_day.duckdb", OUT / "mh.duckdb"
    day_db = OUT / "mh_day.duckdb"
    glob = f"{data}/events/*/*.parquet"
    a = timed([sys.executable, "-c", BARE, str(fresh(bare_db)), glob])
    b = timed([meterhouse, "ingest", str(data / "events"), "--db", str(fresh(mh_db))])
    c = timed([meterhouse, "ingest", str(data / "events"), "--db", str(mh_db)])
    d = timed([meterhouse, "ingest", str(extra / "events"), "--db", str(mh_db)])
    e = timed([sys.executable, "-c", BARE, str(fresh(bare_day_db)), f"{extra}/events/*/*.parquet"])
    f = timed([meterhouse, "ingest", str(extra / "events"), "--db", str(fresh(day_db))])

    def line(name: str, t: tuple[float, float], n: int) -> None:
        print(f"{name:<44} {t[0]:8.2f} s {n / t[0]:>12,.0f} rows/s  peak {t[1]:5.2f} GiB")

    print()
    line("(a) bare DuckDB CTAS of the 30 days", a, rows)
    line("(b) meterhouse ingest of the 30 days", b, rows)
    line("(c) meterhouse ingest again (no-op)", c, rows)
    line("(d) meterhouse ingest of 1 more day on top", d, day_rows)
    line("(e) bare DuckDB CTAS of that day alone", e, day_rows)
    line("(f) meterhouse ingest of that day, empty db", f, day_rows)
    print()
    print(f"ingest / bare (b/a):                          {b[0] / a[0]:6.2f}   target <= 3")
    print(f"re-ingest / first ingest (c/b):               {c[0] / b[0]:6.2%}   target <= 2%")
    print(f"next day on 10M / same day on empty (d/f):    {d[0] / f[0]:6.2f}   1 = history-free")
    print(f"next day on 10M / same day bare (d/e):        {d[0] / e[0]:6.2f}")
    per_row = (d[0] / day_rows) / (b[0] / rows)
    print(f"next day's cost per row / first load's (d/b): {per_row:6.2f}   (fixed start-up inside)")


if __name__ == "__main__":
    main()
