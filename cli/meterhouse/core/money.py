"""Money in Polars: its types, one name per meaning, and money leaving the program as text.

Money is DECIMAL, never float, and it is rounded once, on invoice lines (docs/decisions/0005):
so an amount on an invoice and a price or a cost before rounding are different things with
different scales, and each has its own name here (docs/decisions/0015). Every module takes
them from this one. The SQL uses the same scales: decimal(38, 2) amounts, decimal(38, 12)
prices and unrounded costs, decimal(38, 18) exact token costs.
"""

from __future__ import annotations

import polars as pl

# An amount on an invoice or a total of one, rounded to the currency's minor unit.
AMOUNT = pl.Decimal(38, 2)
# A price per 1M tokens (price book, rate cards, a vendor bill's unit prices).
UNIT_PRICE = pl.Decimal(38, 12)
# Money before rounding: a cost carried at 1e-12 (a vendor bill's costs, cost per 1M tokens).
COST = pl.Decimal(38, 12)
# Exact money at 1e-18: the cost of tokens at a price per 1M tokens (tokens x price x
# 0.000001), and the sums reconciliation compares with it.
EXACT_COST = pl.Decimal(38, 18)


def money_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every DECIMAL column as exact text, for JSON (which would make them floats)."""
    return frame.with_columns(
        pl.col(name).cast(pl.String)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal)
    )
