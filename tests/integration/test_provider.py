"""Provider when the export has none: a gateway export without a `provider` column is served
by each model's catalog provider, in the catalog's spelling, and a source's own spelling
('gcp.vertex_ai', 'Anthropic ') is mapped to the same name. The cost report, the vendor usage
and the reconciliation of an Anthropic bill see the Claude usage."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from meterhouse.sample.vendor_bill import write_vendor_bill
from tests.conftest import query, run

MONTH = "2026-09"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(sample, warehouse, a clean Anthropic bill): the events of the first and last day lose
    their provider column; the middle day's carry other sources' spellings."""
    root = tmp_path_factory.mktemp("provider")
    folder, db = root / "sample", root / "warehouse.duckdb"
    made = run("generate", "--out", folder, "--days", 3, "--tenants", 4,
               "--events-per-day", 2000, "--start", "2026-09-01")  # fmt: skip
    assert made.exit_code == 0, made.output
    bill = write_vendor_bill(folder, date(2026, 9, 1), "anthropic", inject=False)
    files = sorted((folder / "events").rglob("*.parquet"))
    assert len(files) == 3
    for i, path in enumerate(files):
        events = pl.read_parquet(path)
        assert {"anthropic", "vertex_ai"} <= set(events["provider"].to_list())
        if i == 1:
            spelled = {"vertex_ai": "gcp.vertex_ai", "anthropic": "Anthropic "}
            events = events.with_columns(pl.col("provider").replace(spelled))
        else:
            events = events.drop("provider")
        events.write_parquet(path)
    result = run("nightly", "--events", folder / "events", "--gpu-hours", folder / "gpu_hours",
                 "--contracts", folder / "contracts", "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder, db, bill


def test_every_api_event_has_its_catalog_provider(built: tuple[Path, Path, Path]) -> None:
    _, db, _ = built
    providers = {p for (p,) in query(db, "select distinct provider from fct_vendor_usage_daily")}
    assert {"anthropic", "vertex_ai", "openai"} <= providers
    assert not providers & {"unknown", "gcp.vertex_ai", "Anthropic ", None}
    # the Claude usage of every day, the days without a provider column included
    days = query(
        db,
        "select count(distinct usage_date) from fct_vendor_usage_daily "
        "where provider = 'anthropic'",
    )
    assert days == [(3,)]


def test_the_cost_report_names_the_provider(built: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, db, _ = built
    out = tmp_path / "cost.csv"
    result = run("report", "cost", "--month", MONTH, "--db", db, "--out", out)
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        hardware = {r["hardware"] for r in csv.DictReader(handle)}
    assert {"api:anthropic", "api:vertex_ai"} <= hardware
    assert "api:unknown" not in hardware
    assert "api:unknown" not in result.output


def test_an_anthropic_bill_reconciles_without_a_provider_column(
    built: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, db, bill = built
    out = tmp_path / "variances.csv"
    result = run("reconcile", "--vendor-bill", bill, "--month", MONTH, "--db", db, "--out", out)
    assert "no metered API usage" not in result.output
    assert result.exit_code == 0, result.output  # every line of the clean bill matched
