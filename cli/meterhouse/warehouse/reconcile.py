"""`meterhouse reconcile`: read a vendor's FOCUS bill and the provider's metered usage from
fct_vendor_usage_daily, and hand both to the Polars core.

Only aggregates leave DuckDB (one provider, the days the bill and the month span), through
Arrow, so DECIMAL money stays DECIMAL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import duckdb
import polars as pl

from meterhouse.core.reconcile import Reconciliation, month_bounds, reconcile
from meterhouse.core.vendor_bills import normalise_bill
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.vendor_bills import BILL_ROWS, METERED_IN
from meterhouse.warehouse.db import frame, require_built

MART = "fct_vendor_usage_daily"


@dataclass(frozen=True)
class BillReconciliation:
    """The reconciliation of one bill, with what it was run on."""

    bill: Path
    provider: str
    month: date
    tolerance: Decimal
    result: Reconciliation


def load_bill(path: Path) -> pl.DataFrame:
    """A FOCUS bill (CSV, or Parquet by its name or content) as checked normalised rows."""
    if not path.is_file():
        raise MeterhouseError(f"{path}: no such file. Give the vendor's FOCUS billing export.")
    try:
        if path.suffix.lower() == ".parquet" or path.read_bytes()[:4] == b"PAR1":
            raw = pl.read_parquet(path)
        else:  # every column as text: money must not pass through a float
            raw = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise MeterhouseError(
            f"{path}: cannot read it as a FOCUS CSV or Parquet file ({exc}). "
            "Export the bill again as CSV with a header row, or as Parquet."
        ) from exc
    if raw.is_empty():
        raise MeterhouseError(f"{path}: the bill has no rows.")
    return BILL_ROWS.validate(normalise_bill(raw, str(path)))


def default_provider(con: duckdb.DuckDBPyConnection, bill: pl.DataFrame) -> str:
    """The bill's ServiceProviderName in our events' provider spelling, by the rule the
    models use: the seed provider_names ('Amazon Bedrock' -> 'bedrock'), else the name in
    lower case ('OpenAI' -> 'openai')."""
    names = sorted({n for n in bill["provider_name"].drop_nulls().to_list() if n})
    if len(names) != 1:
        found = ", ".join(names) or "none"
        raise MeterhouseError(
            f"the bill names {found} as ServiceProviderName: give --provider (the provider "
            "value of our events, e.g. openai)."
        )
    listed = con.execute(
        "select provider from main.provider_names where spelling = lower(trim($name))",
        {"name": names[0]},
    ).fetchall()
    if listed and listed[0][0]:
        return str(listed[0][0])
    return str(names[0]).strip().lower()


def read_metered(
    con: duckdb.DuckDBPyConnection, provider: str, first: date, last: date
) -> pl.DataFrame:
    """The provider's metered usage per day, model, class and price in [first, last]."""
    return frame(
        con,
        f"select usage_date, model_id, token_class, usd_per_1m_tokens, sum(tokens) as tokens, "
        f"sum(list_cost_usd) as list_cost_usd from main.{MART} where provider = $provider "
        "and usage_date between $first and $last group by all",
        {"provider": provider, "first": first, "last": last},
    ).with_columns(pl.col("tokens").cast(pl.Int64))


def reconcile_bill(
    con: duckdb.DuckDBPyConnection,
    bill_path: Path,
    month: date,
    tolerance: Decimal,
    provider: str | None = None,
) -> BillReconciliation:
    """Reconcile the vendor bill at `bill_path` for `month` (its first day) with our metered
    usage of `provider` (default: from the bill's ServiceProviderName)."""
    require_built(con, MART, f"main.{MART}", "main.dim_model_names", "main.provider_names")
    bill = load_bill(bill_path)
    chosen = provider or default_provider(con, bill)
    start, end = month_bounds(month)
    overlapping = bill.filter(
        (pl.col("charge_period_start") < end) & (pl.col("charge_period_end") > start)
    )
    first, last = month, (end - timedelta(days=1)).date()
    if not overlapping.is_empty():  # a bill period may reach beyond the month
        starts = overlapping["charge_period_start"].dt.date()
        ends = (overlapping["charge_period_end"] - timedelta(microseconds=1)).dt.date()
        first = min(first, cast(date, starts.min()))
        last = max(last, cast(date, ends.max()))
    metered = read_metered(con, chosen, first, last)
    in_month = metered.filter(
        pl.col("usage_date").is_between(month, (end - timedelta(days=1)).date())
    )
    if in_month.is_empty():
        others = con.execute(
            f"select provider, sum(tokens) from main.{MART} where usage_date between $a and $b "
            "group by provider order by provider",
            {"a": month, "b": (end - timedelta(days=1)).date()},
        ).fetchall()
        listed = ", ".join(f"{p} ({int(t):,} tokens)" for p, t in others) or "none"
        raise MeterhouseError(
            f"no metered API usage for provider '{chosen}' in {month:%Y-%m}. Providers with "
            f"usage that month: {listed}. Give one with --provider."
        )
    resolved = frame(
        con, "select model_name, model_id from main.dim_model_names where model_id is not null"
    )
    result = reconcile(bill, METERED_IN.validate(metered), resolved, month, tolerance)
    return BillReconciliation(bill_path, chosen, month, tolerance, result)
