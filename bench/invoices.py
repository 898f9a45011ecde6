"""Invoice benchmark: drafting a month's invoices (JSON and CSV) against a bare DuckDB group-by.

Generates 10M events of 2,000 tenants over September 2026, with their contracts (kept in
bench/out between runs), and runs the nightly job on them once. Then, in one process, on the
built warehouse:
  (a) the floor: one DuckDB query over fct_invoice_lines giving every invoice's totals by line
      type and its line count (what the documents must agree with);
  (b) what `meterhouse invoice --format json,csv` does for the month before writing: read and
      check the marts (Pandera), assemble every JSON document and CSV text in Polars, check;
  (c) writing those 2 files per invoice into a new folder (staged, then renamed into place),
      and (f) the file system's floor: the same bytes to as many new files, bare Python;
  (d) PDF rendering, per invoice, over the 50 invoices with the most lines;
  (e) every PDF of the month as `meterhouse invoice --format pdf` draws them, on every core,
      against the same drawn on one core (one run each: target, the one-core time / cores).
(a), (b), (c) and (f) are each the best of 3 runs. Prints times, the ratios b/a (target <= 3) and
(b + c)/(a + f), and what one PDF costs. Run with `.venv/bin/python bench/invoices.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from meterhouse import documents
from meterhouse.documents import render_invoices, render_pdf
from meterhouse.files import write_files
from meterhouse.paths import shared_data_dir
from meterhouse.sample import generate_sample
from meterhouse.warehouse.db import connect
from meterhouse.warehouse.invoices import read_month

OUT = Path(__file__).resolve().parent / "out"
MONTH = date(2026, 9, 1)
TENANTS, EVENTS, DAYS = 2_000, 10_000_000, 30
BARE = """
select tenant_id, invoice_month, max(currency),
       sum(amount) filter (line_type = 'usage') as subtotal,
       sum(amount) filter (line_type in ('free_allowance', 'tier_discount', 'discount')),
       sum(amount) filter (line_type = 'credit'),
       sum(amount) filter (line_type = 'commitment_shortfall'),
       sum(amount) filter (line_type = 'correction'),
       sum(amount) as total, count(*) as line_count
from main.fct_invoice_lines
where invoice_month = $month
group by tenant_id, invoice_month
"""


def best_of(runs: int, step: object) -> tuple[float, object]:
    assert callable(step)
    times, result = [], None
    for _ in range(runs):
        begin = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - begin)
    return min(times), result


def warehouse() -> Path:
    data, db = OUT / f"tenants-{TENANTS}", OUT / f"invoices-{TENANTS}.duckdb"
    if not (data / "events").is_dir():
        print(f"generating {EVENTS:,} events of {TENANTS:,} tenants under {data} ...", flush=True)
        generate_sample(data, days=DAYS, tenants=TENANTS, events_per_day=EVENTS // DAYS, seed=7,
                        start=MONTH, shared_data=shared_data_dir())  # fmt: skip
    if not db.exists():
        meterhouse = str(Path(sys.executable).with_name("meterhouse"))
        catalog = shared_data_dir()
        if catalog is not None and (catalog / "litellm").is_dir():
            subprocess.run([meterhouse, "prices", "import", "--litellm",
                            str(catalog / "litellm/model_prices_and_context_window.json"),
                            "--effective-from", "2026-07-24", "--db", str(db)],
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        print(f"nightly job into {db} ...", flush=True)
        subprocess.run([meterhouse, "nightly", "--events", str(data / "events"), "--contracts",
                        str(data / "contracts"), "--db", str(db)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return db


def main() -> None:
    db = warehouse()
    with connect(db, read_only=True) as con, tempfile.TemporaryDirectory() as tmp:
        a, totals = best_of(3, lambda: con.sql(BARE, params={"month": MONTH}).fetchall())
        assert isinstance(totals, list)

        def assemble() -> dict[str, bytes]:
            found = read_month(con, MONTH, [], allow_unpriced=True)
            return render_invoices(found, ["json", "csv"], "bench", lambda *_: None)[0]

        b, files = best_of(3, assemble)
        assert isinstance(files, dict)
        runs = iter(range(6))

        def write() -> None:
            write_files(Path(tmp) / f"meterhouse-{next(runs)}", files)

        def bare_write() -> None:
            folder = Path(tmp) / f"bare-{next(runs)}"
            folder.mkdir()
            for name, content in files.items():
                (folder / name).write_bytes(content)

        def pdfs(per_worker: int) -> float:
            documents.PDFS_PER_WORKER = per_worker
            found = read_month(con, MONTH, [], allow_unpriced=True)
            begin = time.perf_counter()
            render_invoices(found, ["pdf"], "bench", lambda *_: None)
            return time.perf_counter() - begin

        shipped = documents.PDFS_PER_WORKER
        pdf_one, pdf_all = pdfs(10**9), pdfs(shipped)
        c, _ = best_of(3, write)
        f, _ = best_of(3, bare_write)
        [(events,)] = con.execute("select count(*) from raw.usage_events").fetchall()
        [(lines,)] = con.execute("select count(*) from main.fct_invoice_lines "
                                 "where invoice_month = $1", [MONTH]).fetchall()  # fmt: skip
    docs = sorted(
        (json.loads(v) for k, v in files.items() if k.endswith(".json")),
        key=lambda d: -len(d["lines"]),
    )[:50]
    begin = time.perf_counter()
    sizes = [len(render_pdf(doc)) for doc in docs]
    per_pdf = (time.perf_counter() - begin) / len(docs)
    mean_lines = sum(len(d["lines"]) for d in docs) / len(docs)
    size = sum(sizes) / len(sizes) / 1024
    print(f"{events:,} events; {len(totals):,} invoices for {MONTH:%Y-%m} with {lines:,} lines")
    print(f"(a) bare DuckDB group-by over fct_invoice_lines:          {a * 1000:8.1f} ms")
    print(f"(b) read, check and assemble {len(files):,} JSON and CSV texts: {b * 1000:8.1f} ms")
    print(f"(c) write them as files (staged, then renamed into place):  {c * 1000:8.1f} ms")
    print(f"(f) bare Python writing the same bytes to {len(files):,} new files: {f * 1000:8.1f} ms")
    print(f"    b/a: {b / a:.1f} (target <= 3);  (b + c)/(a + f): {(b + c) / (a + f):.2f}")
    print(f"(d) one PDF ({mean_lines:.0f} lines on average, {size:.0f} KiB): {per_pdf * 1000:.1f} "
          f"ms; all {len(totals):,} invoices: about {per_pdf * len(totals):.0f} s")  # fmt: skip
    cores = os.cpu_count() or 1
    print(
        f"(e) every PDF of the month: {pdf_all:.1f} s on {cores} cores, {pdf_one:.1f} s on one "
        f"({pdf_one / pdf_all:.2f}x; target {cores}x: the one-core time / cores)"
    )


if __name__ == "__main__":
    main()
