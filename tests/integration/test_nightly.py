"""The whole nightly job on generated sample data: generate, ingest, dbt build, re-run, kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from meterhouse.warehouse.dbt import run_dbt
from meterhouse.warehouse.lock import dbt_dir
from tests.conftest import SHARED_DATA, manifest_totals, query, run, snapshot


def generator_truth(sample: Path) -> dict[str, int]:
    summary = json.loads((sample / "reference" / "generator.json").read_text())
    return {k: int(v) for k, v in summary.items() if isinstance(v, int)}


@pytest.mark.slow
def test_nightly_on_generated_data_accounts_for_every_row(tmp_path: Path) -> None:
    sample, db = tmp_path / "sample", tmp_path / "demo.duckdb"
    generated = run("generate", "--out", sample, "--days", 6, "--tenants", 8,
                    "--events-per-day", 4000, "--seed", 7)  # fmt: skip
    assert generated.exit_code == 0, generated.output
    truth = generator_truth(sample)

    result = run("nightly", "--events", sample / "events", "--db", db)
    assert result.exit_code == 0, result.output
    read, loaded, duplicate, quarantined = manifest_totals(db)
    assert read == truth["rows_written"]
    assert loaded == truth["clean_events"]
    assert duplicate == truth["duplicate_rows"]
    assert quarantined == truth["bad_rows"] + truth["conflict_rows"]
    assert f"{loaded:,} events" in result.output  # the summary says what the warehouse holds
    [(cost,)] = query(db, "select sum(api_cost_usd) from main.fct_usage_daily")
    shown = cost.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert f"vendor cost at list price: USD {shown:,}" in result.output
    assert "invoices (fct_invoices)" in result.output
    assert "draft" in result.output  # nothing issued yet
    # dbt built the models on top of the loaded events
    assert query(db, "select count(*) from main.stg_meterhouse__usage_events") == [(loaded,)]
    assert query(db, "select count(*) from main.fct_file_loads") == [(truth["files"],)]

    # the nightly job skips dbt's unit tests of the SQL logic; they all pass on this warehouse
    # (`dbt build --select test_type:unit` selects nothing: dbt test runs them)
    assert not run_dbt("test", db, ["--select", "test_type:unit"]).failed
    target = dbt_dir(db) / "target"
    results = json.loads((target / "run_results.json").read_text())["results"]
    units = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test")}
    assert units.keys() == json.loads((target / "manifest.json").read_text())["unit_tests"].keys()
    assert set(units.values()) == {"pass"}

    before = snapshot(db)
    again = run("nightly", "--events", sample / "events", "--db", db)
    assert again.exit_code == 0, again.output
    assert "0 new file(s)" in again.output
    assert snapshot(db) == before


def test_generate_without_shared_data_says_it_fell_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERHOUSE_SHARED_DATA", str(tmp_path / "absent"))
    result = run("generate", "--out", tmp_path / "s", "--days", 2, "--events-per-day", 500)
    assert result.exit_code == 0, result.output
    assert "fitted lognormal" in result.output
    assert "built-in" in result.output


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the checkout")
def test_generate_with_shared_data_uses_real_traces_and_catalog(tmp_path: Path) -> None:
    result = run("generate", "--out", tmp_path / "s", "--days", 2, "--events-per-day", 500)
    assert result.exit_code == 0, result.output
    assert "azure_llm_2023" in result.output
    assert "litellm catalog" in result.output


@pytest.mark.slow
def test_killed_load_leaves_nothing_and_can_be_rerun(tmp_path: Path) -> None:
    sample, db = tmp_path / "sample", tmp_path / "kill.duckdb"
    assert run("generate", "--out", sample, "--days", 16, "--tenants", 5,
               "--events-per-day", 40_000, "--seed", 3).exit_code == 0  # fmt: skip
    meterhouse = Path(sys.executable).with_name("meterhouse")
    proc = subprocess.Popen(
        [meterhouse, "ingest", sample / "events", "--db", db],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # plain progress lines, as in CI (a line per tenth of the work)
        if ": reading " in line and "(5 of 16)" in line:  # four files staged in the transaction
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the load finished before it could be killed"

    assert snapshot(db) == ([], [], [])  # nothing partial: no events, no quarantine, no manifest

    rerun = run("ingest", sample / "events", "--db", db)
    assert rerun.exit_code == 0, rerun.output
    truth = generator_truth(sample)
    assert manifest_totals(db)[:2] == (truth["rows_written"], truth["clean_events"])
