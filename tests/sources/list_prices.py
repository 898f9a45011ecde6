"""List prices for the sources' cost tests, read straight from the shipped price snapshot
(the build prices with it when no catalog is imported), not from the warehouse: each test
recomputes a tenant-month's vendor cost from its fixture files with these, in Decimal."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

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
