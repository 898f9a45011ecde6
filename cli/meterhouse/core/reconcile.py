"""Vendor-bill reconciliation in pure Polars: match a normalised FOCUS bill to metered usage by
charge period x model x token class and classify every difference (docs/reconciliation.md).

The warehouse hands in aggregates (the bill's lines, the provider's daily usage per model,
class and price, and the model-name resolution), never events. Quantities are compared
exactly; money stays DECIMAL and variances are exact (rounded only for display).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import polars as pl

from meterhouse.core.money import EXACT_COST
from meterhouse.core.text import format_text

KEY = ["charge_period_start", "charge_period_end", "model_id", "token_class"]
FAILING = (
    "metered_not_billed",
    "billed_not_metered",
    "quantity_beyond_tolerance",
    "unit_price_difference",
)
INFORMATIONAL = ("commitment_drawdown", "commitment_purchase", "credit", "other_charge")
CLASSES = ("matched", "quantity_within_tolerance", *FAILING, *INFORMATIONAL)
VARIANCE_COLUMNS = [
    "variance_class",
    "is_failing",
    "charge_period_start",
    "charge_period_end",
    "model_id",
    "bill_model_id",
    "token_class",
    "metered_tokens",
    "billed_tokens",
    "token_difference",
    "relative_difference_ratio",
    "our_usd_per_1m_tokens",
    "bill_list_usd_per_1m_tokens",
    "bill_contracted_usd_per_1m_tokens",
    "expected_usd",
    "billed_usd",
    "difference_usd",
    "bill_rows",
    "detail",
]


@dataclass(frozen=True)
class Reconciliation:
    """Every compared key with its class (`rows`) and the count and USD per class."""

    rows: pl.DataFrame
    summary: pl.DataFrame

    @property
    def variances(self) -> pl.DataFrame:
        """The rows that are not plain matches: what the output file lists."""
        return self.rows.filter(pl.col("variance_class") != "matched")

    @property
    def passed(self) -> bool:
        return not self.rows["is_failing"].any()


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in UTC."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    nxt = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
    return start, nxt


def model_matches(
    bill_models: pl.LazyFrame, our_models: pl.LazyFrame, resolved: pl.LazyFrame
) -> pl.LazyFrame:
    """bill_model_id -> model_id by the first rule that finds one: `exact` (the bill's ModelId
    is our price-book model_id), `name_resolution` (it is a model name the warehouse resolved,
    dim_model_names), `case` (equal ignoring case). Ties: the first model_id."""
    ours = our_models.select("model_id").unique()
    exact = bill_models.join(
        ours.with_columns(pl.col("model_id").alias("bill_model_id")), on="bill_model_id"
    ).with_columns(rank=pl.lit(1))
    named = bill_models.join(
        resolved.select(pl.col("model_name").alias("bill_model_id"), "model_id").drop_nulls(),
        on="bill_model_id",
    ).with_columns(rank=pl.lit(2))
    lower = pl.col("bill_model_id").str.to_lowercase()
    case = (
        bill_models.with_columns(_key=lower)
        .join(ours.with_columns(_key=pl.col("model_id").str.to_lowercase()), on="_key")
        .drop("_key")
        .with_columns(rank=pl.lit(3))
    )
    cols = ["bill_model_id", "model_id", "rank"]
    return (
        pl.concat([f.select(cols) for f in (exact, named, case)])
        .sort(["bill_model_id", "rank", "model_id"])
        .group_by("bill_model_id", maintain_order=True)
        .first()
        .drop("rank")
    )


def _bill_keys(usage: pl.LazyFrame) -> pl.LazyFrame:
    charged = pl.coalesce("contracted_usd_per_1m_tokens", "list_usd_per_1m_tokens")
    return usage.group_by(KEY).agg(
        pl.col("billed_tokens").sum(),
        pl.col("list_usd_per_1m_tokens").min().alias("bill_list_min"),
        pl.col("list_usd_per_1m_tokens").max().alias("bill_list_max"),
        pl.col("contracted_usd_per_1m_tokens").min().alias("bill_contracted_min"),
        charged.min().alias("charged_min"),
        charged.max().alias("charged_max"),
        pl.coalesce("effective_cost_usd", "billed_cost_usd")
        .cast(EXACT_COST)
        .sum()
        .alias("billed_usd"),
        (pl.col("line_kind") == "commitment_drawdown").any().alias("is_drawdown"),
        pl.col("bill_row").sort().cast(pl.String).str.join(",").alias("bill_rows"),
        pl.col("bill_model_id").unique().sort().str.join(",").alias("bill_model_id"),
    )


def _metered_keys(metered: pl.LazyFrame, periods: pl.LazyFrame, month: date) -> pl.LazyFrame:
    """Metered usage per bill key: each usage day goes to the bill period of its model and
    class that contains it (the latest-starting, then shortest, when periods overlap); a day
    of the month that no period covers is a key of its own, one day long."""
    start, end = month_bounds(month)
    days = metered.with_row_index("_row").with_columns(
        pl.col("usage_date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("_at")
    )
    covered = (
        days.join(periods, on=["model_id", "token_class"])
        .filter(
            (pl.col("charge_period_start") <= pl.col("_at"))
            & (pl.col("_at") < pl.col("charge_period_end"))
        )
        .sort(["_row", "charge_period_start", "charge_period_end"], descending=[False, True, False])
        .unique("_row", keep="first", maintain_order=True)
    )
    uncovered = (
        days.join(covered.select("_row"), on="_row", how="anti")
        .filter((pl.col("_at") >= start) & (pl.col("_at") < end))
        .with_columns(
            pl.col("_at").alias("charge_period_start"),
            (pl.col("_at") + timedelta(days=1)).alias("charge_period_end"),
        )
    )
    price = pl.col("usd_per_1m_tokens")
    return (
        pl.concat([covered, uncovered.select(covered.collect_schema().names())])
        .group_by(KEY)
        .agg(
            pl.col("tokens").sum().alias("metered_tokens"),
            pl.col("list_cost_usd").cast(EXACT_COST).sum().alias("expected_usd"),
            price.min().alias("our_min"),
            price.max().alias("our_max"),
            price.null_count().alias("unpriced_rows"),
        )
    )


def _text(column: str | pl.Expr) -> pl.Expr:
    """A DECIMAL as short exact text (5.000000000000 -> 5) for the detail column."""
    expr = pl.col(column) if isinstance(column, str) else column
    text = expr.cast(pl.String)
    return text.str.replace(r"(\.\d*?)0+$", "${1}").str.replace(r"\.$", "").fill_null("none")


def _price_range(low: str, high: str) -> pl.Expr:
    return (
        pl.when(pl.col(low) == pl.col(high))
        .then(_text(low))
        .otherwise(format_text("{}-{}", _text(low), _text(high)))
    )


def classify(matched: pl.LazyFrame, tolerance: Decimal) -> pl.LazyFrame:
    """The class of each key, its variance in tokens and USD, and a sentence on it."""
    metered = pl.col("metered_tokens").fill_null(0)
    billed = pl.col("billed_tokens").fill_null(0)
    gap = (billed - metered).abs().cast(pl.Decimal(38, 0))
    beyond = gap > pl.lit(tolerance).cast(pl.Decimal(38, 12)) * metered.cast(pl.Decimal(38, 0))
    has_bill_price = pl.col("charged_min").is_not_null()
    price_differs = has_bill_price & (
        (pl.col("unpriced_rows") > 0)
        | (pl.col("our_min") != pl.col("charged_min"))
        | (pl.col("our_max") != pl.col("charged_max"))
    )
    kind = (
        pl.when(pl.col("bill_rows").is_null())
        .then(pl.lit("metered_not_billed"))
        .when(metered == 0)
        .then(pl.lit("billed_not_metered"))
        .when(beyond)
        .then(pl.lit("quantity_beyond_tolerance"))
        .when(price_differs.fill_null(False))
        .then(pl.lit("unit_price_difference"))
        .when(pl.col("is_drawdown"))
        .then(pl.lit("commitment_drawdown"))
        .when(billed != metered)
        .then(pl.lit("quantity_within_tolerance"))
        .otherwise(pl.lit("matched"))
    )
    prices = format_text(
        "our price {} vs bill list {} / contracted {} USD per 1M tokens",
        _price_range("our_min", "our_max"),
        _price_range("bill_list_min", "bill_list_max"),
        _text("bill_contracted_min"),
    )
    tokens = format_text("metered {} vs billed {} tokens", metered, billed)
    return matched.with_columns(
        kind.alias("variance_class"),
        metered.alias("metered_tokens"),
        billed.alias("billed_tokens"),
        (billed - metered).alias("token_difference"),
        pl.when(metered > 0).then((billed - metered) / metered).alias("relative_difference_ratio"),
        pl.col("expected_usd").fill_null(pl.lit(0).cast(EXACT_COST)),
        pl.col("billed_usd").fill_null(pl.lit(0).cast(EXACT_COST)),
    ).with_columns(
        (pl.col("billed_usd") - pl.col("expected_usd")).alias("difference_usd"),
        pl.when(pl.col("variance_class") == "unit_price_difference")
        .then(prices)
        .when(pl.col("variance_class") == "commitment_drawdown")
        .then(format_text("paid from a commitment; {}", tokens))
        .otherwise(tokens)
        .alias("detail"),
    )


def _other_lines(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Purchases, credits and other charges: listed with their billed amount, informational;
    a usage line without a model and token class is billed usage we cannot match."""
    kind = (
        pl.when(pl.col("line_kind") == "other")
        .then(
            pl.when(pl.col("charge_category").str.to_lowercase() == "usage")
            .then(pl.lit("billed_not_metered"))
            .otherwise(pl.lit("other_charge"))
        )
        .otherwise(pl.col("line_kind"))
    )
    return lines.select(
        kind.alias("variance_class"),
        "charge_period_start",
        "charge_period_end",
        pl.col("billed_cost_usd").cast(EXACT_COST).alias("billed_usd"),
        pl.lit(0).cast(EXACT_COST).alias("expected_usd"),
        pl.col("billed_cost_usd").cast(EXACT_COST).alias("difference_usd"),
        pl.col("bill_row").cast(pl.String).alias("bill_rows"),
        format_text("{} line: {} USD", pl.col("charge_category"), _text("billed_cost_usd")).alias(
            "detail"
        ),
    )


def reconcile(
    bill: pl.DataFrame,
    metered: pl.DataFrame,
    resolved: pl.DataFrame,
    month: date,
    tolerance: Decimal,
) -> Reconciliation:
    """Reconcile the bill's lines whose charge period overlaps `month` with metered usage.

    `bill`: schemas.vendor_bills.BILL_ROWS; `metered`: METERED_IN for every day of the month
    and of the bill periods that overlap it; `resolved`: model_name, model_id.
    """
    start, end = month_bounds(month)
    lines = bill.lazy().filter(
        (pl.col("charge_period_start") < end) & (pl.col("charge_period_end") > start)
    )
    usage = lines.filter(pl.col("line_kind").is_in(["usage", "commitment_drawdown"]))
    names = model_matches(usage.select("bill_model_id").unique(), metered.lazy(), resolved.lazy())
    usage = usage.join(names, on="bill_model_id", how="left").with_columns(
        pl.coalesce("model_id", "bill_model_id").alias("model_id")
    )
    keys = _bill_keys(usage)
    periods = keys.select(KEY).unique()
    joined = keys.join(
        _metered_keys(metered.lazy(), periods, month), on=KEY, how="full", coalesce=True
    )
    compared = classify(joined, tolerance)
    listed = _other_lines(
        lines.filter(~pl.col("line_kind").is_in(["usage", "commitment_drawdown"]))
    )
    rows = (
        pl.concat([compared, listed], how="diagonal_relaxed")
        .with_columns(
            pl.col("variance_class").is_in(FAILING).alias("is_failing"),
            pl.col("our_min").alias("our_usd_per_1m_tokens"),
            pl.col("bill_list_min").alias("bill_list_usd_per_1m_tokens"),
            pl.col("bill_contracted_min").alias("bill_contracted_usd_per_1m_tokens"),
        )
        .select(VARIANCE_COLUMNS)
        .sort(["charge_period_start", "model_id", "token_class", "variance_class"], nulls_last=True)
        .collect()
    )
    return Reconciliation(rows=rows, summary=summarise(rows))


def summarise(rows: pl.DataFrame) -> pl.DataFrame:
    """Count and USD (expected, billed, difference) per class, in the order of CLASSES."""
    order = pl.DataFrame({"variance_class": list(CLASSES)}).with_row_index("_order")
    return (
        rows.group_by("variance_class")
        .agg(
            pl.len().alias("rows"),
            pl.col("expected_usd").sum(),
            pl.col("billed_usd").sum(),
            pl.col("difference_usd").sum(),
        )
        .join(order, on="variance_class", how="left")
        .sort("_order")
        .drop("_order")
        .with_columns(pl.col("variance_class").is_in(FAILING).alias("is_failing"))
    )


__all__ = ["CLASSES", "FAILING", "Reconciliation", "reconcile"]
