"""What the sources' cost tests share: list prices read straight from the shipped price
snapshot (the build prices with it when no catalog is imported), not from the warehouse, with
which each test recomputes a tenant-month's vendor cost from its fixture files in Decimal; the
warehouse its fixtures load into with the real CLI and dbt; and that warehouse's own cost."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import query, run

SNAPSHOT = Path(__file__).resolve().parents[2] / "seeds" / "reference" / "price_book_snapshot.csv"
# a token class and the class whose price it pays when the model lists none (docs/pricing.md)
FALLBACK = {"input": None, "cache_read": "input", "cache_write": "input",
            "cache_write_1h": "cache_write", "output": None, "reasoning": "output"}  # fmt: skip
PER_TOKEN = Decimal(1_000_000)

Prices = dict[tuple[str, str], Decimal]


def snapshot_prices() -> Prices:
    """(model, token class) -> USD per 1M tokens, standard tier, below every context tier."""
    with SNAPSHOT.open(newline="") as handle:
        return {
            (row["model_id"], row["token_class"]): Decimal(row["usd_per_1m_tokens"])
            for row in csv.DictReader(handle)
            if row["service_tier"] == "standard" and row["min_context_tokens"] == "0"
        }


def list_price(prices: Prices, model: str, token_class: str) -> Decimal:
    """The class's price, through its fallbacks, as rating chooses it."""
    found: str | None = token_class
    while found is not None:
        if (model, found) in prices:
            return prices[(model, found)]
        found = FALLBACK[found]
    raise AssertionError(f"{model} has no {token_class} price in the snapshot")


def loaded_and_built(tmp: pytest.TempPathFactory, *ingest: str | Path) -> Path:
    """A new warehouse with `meterhouse ingest INGEST...` loaded and `meterhouse build` run."""
    db = tmp.mktemp("source") / "warehouse.duckdb"
    for command in (("ingest", *ingest), ("build",)):
        result = run(*command, "--db", db)
        assert result.exit_code == 0, result.output
    return db


def warehouse_costs(db: Path) -> dict[tuple[str, str], Decimal]:
    """(tenant, YYYY-MM) -> vendor cost at list price, as fct_usage_daily has it, unrounded."""
    rows = query(db, "select tenant_id, strftime(usage_date, '%Y-%m'), sum(api_cost_usd) "
                     "from main.fct_usage_daily group by all")  # fmt: skip
    return {(tenant, month): cost for tenant, month, cost in rows}
