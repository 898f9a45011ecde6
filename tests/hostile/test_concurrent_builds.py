"""Two builds at once from one checkout, each with its own contracts, each bill with their own.

Before each warehouse had its own dbt folder, both builds copied their contracts into the
checkout's target/contracts: one warehouse's invoices used the other's discounts, exit 0.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from meterhouse.paths import project_dir
from tests.conftest import query, run

pytestmark = pytest.mark.slow
MEANS = Path(sys.executable).with_name("meterhouse")


def _contracts(folder: Path, sample: Path, discount: str) -> Path:
    shutil.copytree(sample / "contracts", folder)
    contracts = pl.read_csv(folder / "tenant_contracts.csv", infer_schema=False)
    contracts.with_columns(discount_ratio=pl.lit(discount)).write_csv(
        folder / "tenant_contracts.csv"
    )
    return folder


def test_two_concurrent_builds_each_bill_with_their_own_contracts(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    made = run("generate", "--out", sample, "--days", 3, "--tenants", 4,
               "--events-per-day", 800, "--start", "2026-09-01")  # fmt: skip
    assert made.exit_code == 0, made.output
    written_before = {p.name for p in project_dir().iterdir()}
    plans = {"none": "0", "half": "0.5"}
    runs = {}
    for name, discount in plans.items():
        _contracts(tmp_path / f"contracts-{name}", sample, discount)
        db = tmp_path / name / "warehouse.duckdb"
        db.parent.mkdir()
        loaded = run("ingest", sample / "events", "--db", db)
        assert loaded.exit_code == 0, loaded.output
        runs[name] = (db, None)
    processes = {
        name: subprocess.Popen(
            [MEANS, "build", "--db", db, "--contracts", tmp_path / f"contracts-{name}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for name, (db, _) in runs.items()
    }  # fmt: skip
    for name, process in processes.items():
        output, _ = process.communicate(timeout=900)
        assert process.returncode == 0, f"{name}: {output}"
    for name, (db, _) in runs.items():
        rows = query(db, "select tenant_id, discount_ratio from main.tenant_contracts")
        assert rows, name
        assert {ratio for _, ratio in rows} == {Decimal(plans[name])}, name
        discounts = query(
            db, "select coalesce(sum(amount), 0) from main.fct_invoice_lines "
                "where line_type = 'discount'",
        )[0][0]  # fmt: skip
        assert (discounts == 0) == (name == "none"), f"{name}: discount lines {discounts}"
        assert (db.parent / "warehouse.dbt" / "target" / "manifest.json").is_file()
    # nothing in the checkout was written by either run
    assert {p.name for p in project_dir().iterdir()} == written_before
    assert not (project_dir() / "target" / "contracts").exists()
