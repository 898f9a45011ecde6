"""What a log of the command line reads like: stdout and stderr to a pipe, as in cron or CI.

The real CLI as a subprocess, on 45 daily files of three tenants with long ids and amounts in
the thousands: no terminal escape codes, no table cut to 80 columns, file names relative to
the folder given with their day, a bounded number of progress lines, and dbt's own output in
a log file under the warehouse's dbt folder with one summary line per phase on stdout.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.conftest import event_rows, query

pytestmark = pytest.mark.slow
MEANS = Path(sys.executable).with_name("meterhouse")
DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(45)]
TENANTS = [
    "org_4b1f9c2e-7a3d-4e8b-9c1a-5d6e7f8a9b0c-production-eu-west-1",
    "acme-corporation-research-division-batch-inference",
    "tn_0001_legacy_import_of_the_northwind_traders_account",
]
ESCAPE = "\x1b["
# an 80-column screen, as a CI runner may claim: a log must not be cut to it
ENV = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
ENV["COLUMNS"] = "80"
Night = tuple[Path, Path, subprocess.CompletedProcess[str]]


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([MEANS, *map(str, args)], capture_output=True, text=True, env=ENV,
                          check=False, timeout=600)  # fmt: skip
    assert ESCAPE not in done.stdout + done.stderr, done.stdout[-2000:] + done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Night:
    """(exports folder, warehouse, the nightly's output): 45 days, 4 requests per tenant-day
    of 40M input and 5M output tokens (USD 120 each at gpt-4.1's list price)."""
    root = tmp_path_factory.mktemp("log")
    exports, db = root / "exports", root / "warehouse.duckdb"
    for day in DAYS:
        n = 4 * len(TENANTS)
        at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        folder = exports / f"date={day:%Y-%m-%d}"
        folder.mkdir(parents=True)
        event_rows(n, prefix=f"r{day:%m%d}-", event_at=[at] * n,
                   tenant_id=[TENANTS[i % len(TENANTS)] for i in range(n)],
                   input_tokens=[40_000_000] * n, output_tokens=[5_000_000] * n,
                   ).write_parquet(folder / "part-0.parquet")  # fmt: skip
    done = _run("nightly", "--events", exports, "--db", db)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return exports, db, done


def test_ingest_in_a_log_names_files_by_day_with_few_progress_lines(
    night: Night,
) -> None:
    exports, _, done = night
    progress = [line for line in done.stderr.splitlines() if "ingest usage_events" in line]
    assert 2 <= len(progress) <= 12, progress  # not one per file: 45 files, 2 steps each
    named = [line for line in progress if re.search(r"(checking|reading) ", line)]
    assert named, progress
    assert all(re.search(r" date=2026-\d\d-\d\d/part-0\.parquet", line) for line in named), named
    loaded = [line for line in done.stdout.splitlines() if line.startswith("loaded ")]
    assert len(loaded) == len(DAYS)
    for day in DAYS:  # each file by its day, relative to the folder given
        assert any(f" date={day:%Y-%m-%d}/part-0.parquet: read 12 " in line for line in loaded)
    assert not any(str(exports) in line for line in loaded + progress)


def test_dbt_in_a_log_is_a_summary_per_phase_and_its_output_a_file(
    night: Night,
) -> None:
    _, db, done = night
    for phase in ("seeds", "models", "data tests"):
        assert re.search(rf"^dbt build, {phase}: \d+ pass\b.*\(\d+\.\d s\)$", done.stdout,
                         re.MULTILINE), done.stdout  # fmt: skip
    assert "START" not in done.stdout  # dbt's lines per node are not in the log
    assert "Finished running" not in done.stdout
    [where] = re.findall(r"dbt's output: (\S+\.log)", done.stdout)
    log = Path(where)
    assert log.parent.parent == db.with_name(f"{db.stem}.dbt")
    text = log.read_text()
    for said in ("Finished running", "fct_invoices", "Done. PASS="):
        assert said in text
    assert ESCAPE not in text
    assert len(text.splitlines()) > 5 * len(done.stdout.splitlines())


def test_verbose_streams_dbt_and_lists_every_file(
    night: Night,
) -> None:
    exports, db, _ = night
    built = _run("build", "--db", db, "--select", "stg_meterhouse__usage_events", "--verbose")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr
    assert "Finished running" in built.stdout  # dbt's own lines
    assert "stg_meterhouse__usage_events" in built.stdout
    assert re.search(r"^dbt build, models: 1 pass\b", built.stdout, re.MULTILINE), built.stdout

    quiet = _run("ingest", exports, "--db", db)
    assert quiet.returncode == 0, quiet.stderr
    assert "skipped" not in quiet.stdout  # a folder that grows nightly: not a line per old file
    assert f"0 new file(s), {len(DAYS)} already loaded" in quiet.stdout
    every = _run("ingest", exports, "--db", db, "--verbose")
    assert every.returncode == 0, every.stderr
    skipped = [line for line in every.stdout.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == len(DAYS)
    assert all(
        re.match(r"skipped date=2026-\d\d-\d\d/part-0\.parquet: already", s) for s in skipped
    ), skipped


def test_on_a_terminal_dbt_still_streams_in_colour(night: Night) -> None:
    _, db, _ = night
    screen, side = pty.openpty()  # a terminal, as a person at a shell has
    args: list[str | Path] = [
        MEANS,
        "build",
        "--db",
        db,
        "--select",
        "stg_meterhouse__usage_events",
    ]
    child = subprocess.Popen(args, stdout=side, stderr=side, env=ENV)
    os.close(side)
    shown = b""
    while True:
        try:
            chunk = os.read(screen, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(screen)
    assert child.wait(timeout=600) == 0
    text = shown.decode("utf-8", "replace")
    assert ESCAPE in text  # dbt's colours
    assert "Finished running" in text
    assert re.search(r"^dbt build, models: 1 pass\b", text, re.MULTILINE), text[-3000:]


def _usd(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def test_a_report_in_a_log_is_never_cut(
    night: Night,
) -> None:
    _, db, _ = night
    done = _run("report", "margin", "--month", "2026-09", "--db", db)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    rows = query(db, "select tenant_id, invoice_id, revenue_usd, api_cost_usd "
                     "from main.fct_tenant_margin where billing_month = '2026-09-01'")  # fmt: skip
    assert {r[0] for r in rows} == set(TENANTS)
    assert max(r[2] for r in rows) > 1000  # amounts with a thousands separator
    for tenant, invoice, revenue, cost in rows:  # every id and amount whole
        for text in (tenant, invoice, _usd(revenue), _usd(cost)):
            assert text in done.stdout, text
    status = _run("status", "--db", db)
    assert status.returncode == 0, status.stderr
    assert "…" not in status.stdout


def test_invoice_progress_in_a_log_names_the_invoice_it_draws(night: Night, tmp_path: Path) -> None:
    _, db, _ = night
    done = _run("invoice", "--month", "2026-09", "--format", "pdf", "--db", db,
                "--out", tmp_path / "invoices")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    drawn = [line for line in done.stderr.splitlines() if "render PDF" in line]
    assert drawn, done.stderr
    assert all(re.search(r"render PDF INV-202609-\S+", line) for line in drawn), drawn
    assert any(TENANTS[-1] in line for line in drawn), drawn  # the last one drawn, at 100%
