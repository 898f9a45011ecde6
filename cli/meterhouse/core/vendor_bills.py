"""A vendor's FOCUS 1.2 bill as normalised rows, in pure Polars.

Vendors write the same facts in different shapes: unit prices per token, per 1,000 or per
1,000,000 tokens; the token class in the SkuPriceDetails JSON or only in the SkuMeter text;
timestamps with a Z, an offset or none; money as text (CSV) or as float or DECIMAL
(Parquet). Reconciliation compares USD per 1M tokens and token counts, so every row is brought
to that shape here, money as DECIMAL from the parse on (a float is read through its shortest
text form, never its binary value). Rows that cannot be read are refused by number, with
what to fix; nothing is guessed, and a bill in another BillingCurrency is never read as USD.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import polars as pl

from meterhouse.core.money import COST, UNIT_PRICE
from meterhouse.core.text import utc_from_iso_text
from meterhouse.core.vocabulary import VENDOR_TOKEN_CLASSES
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.vendor_bills import (
    METERED_CURRENCY,
    MONEY_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    UTC_TIME,
)

PER_MILLION = 1_000_000
# "Tokens", "1000 Tokens", "1000000 Tokens", "1K Tokens", "1M Tokens" (case-insensitive)
TOKEN_UNIT = r"(?i)^\s*([0-9]+)?\s*([km])?\s*tokens?\s*$"
SHOWN_ROWS = 5
# A cache write to the 1-hour cache (Anthropic's, priced above the 5-minute one) is a Write like
# the others in SkuPriceDetails: its SkuMeter tells it apart ("Cache Write (1h) Input Tokens",
# "1-hour cache write", "1 hour", "1hr"), and a Write whose meter says no such thing is a
# 5-minute one.
ONE_HOUR_CLASS = "cache_write_1h"
FIVE_MINUTE_CLASS = "cache_write"
ONE_HOUR_METER = r"(?i)\b1\s*-?\s*h(?:ou)?r?\b"


def missing_columns(names: list[str]) -> list[str]:
    """The required FOCUS columns a bill lacks (names compared exactly, as FOCUS spells them)."""
    return [c for c in REQUIRED_COLUMNS if c not in names]


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as trimmed text, empty as null. A float goes through its shortest decimal
    text ("0.2"), which is the number the writer meant, not its binary approximation."""
    text = pl.col(name) if dtype == pl.String else pl.col(name).cast(pl.String)
    text = text.str.strip_chars()
    return pl.when(text != "").then(text)


def _money(name: str, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Decimal) or dtype.is_integer():
        return pl.col(name).cast(COST)
    return _as_text(name, dtype).cast(COST, strict=False)


def _timestamp(name: str, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:  # naive: UTC, as FOCUS timestamps are
            return pl.col(name).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        return pl.col(name).dt.convert_time_zone("UTC").cast(UTC_TIME)
    if isinstance(dtype, pl.Date):
        return pl.col(name).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return utc_from_iso_text(_as_text(name, dtype))


def _token_class() -> pl.Expr:
    """From SkuPriceDetails (TokenDirection, TokenCacheAction; no action = uncached), else from
    the SkuMeter text; a cache write is a 1-hour one when its SkuMeter says so."""
    details = pl.col("SkuPriceDetails")
    direction = details.str.json_path_match("$.TokenDirection").str.to_lowercase()
    # FOCUS: no TokenCacheAction is an uncached token
    action = details.str.json_path_match("$.TokenCacheAction").str.to_lowercase()
    action = action.fill_null("uncached")
    meter = pl.col("SkuMeter").str.to_lowercase()
    one_hour = meter.str.contains(ONE_HOUR_METER).fill_null(False)
    duration = {ONE_HOUR_CLASS: one_hour, FIVE_MINUTE_CLASS: ~one_hour}
    # a class with a cache action is that direction and action; one without, any of its direction
    from_json = pl.coalesce(
        pl.when(
            (direction == c.direction)
            & (pl.lit(True) if c.focus_action is None else action == c.focus_action.lower())
            & duration.get(c.name, pl.lit(True))
        ).then(pl.lit(c.name))
        for c in VENDOR_TOKEN_CLASSES
    )
    from_meter = (
        pl.when(meter.str.contains("cache read"))
        .then(pl.lit("cache_read"))
        .when(meter.str.contains("cache write") & one_hour)
        .then(pl.lit(ONE_HOUR_CLASS))
        .when(meter.str.contains("cache write"))
        .then(pl.lit("cache_write"))
        .when(meter.str.contains(r"output tokens?$"))
        .then(pl.lit("output"))
        .when(meter.str.contains(r"input tokens?$"))
        .then(pl.lit("input"))
    )
    return pl.coalesce(from_json, from_meter)


def _tokens_per_unit(unit: pl.Expr) -> pl.Expr:
    """Tokens in one PricingUnit; null when the unit is not a count of tokens that divides
    1,000,000 (so that a price per unit converts exactly to a price per 1M tokens)."""
    number = unit.str.extract(TOKEN_UNIT, 1).cast(pl.Int64, strict=False).fill_null(1)
    scale = unit.str.extract(TOKEN_UNIT, 2).str.to_lowercase()
    size = number * pl.when(scale == "k").then(1000).when(scale == "m").then(PER_MILLION).otherwise(
        1
    )
    known = unit.str.contains(TOKEN_UNIT) & (size > 0)
    return pl.when(known & (PER_MILLION % size == 0)).then(size)


def _refuse(frame: pl.DataFrame, bad: pl.Expr, source: str, what: str, fix: str) -> None:
    rows = frame.filter(bad)
    if rows.is_empty():
        return
    shown = ", ".join(str(r) for r in rows["bill_row"].head(SHOWN_ROWS))
    more = f" and {len(rows) - SHOWN_ROWS} more" if len(rows) > SHOWN_ROWS else ""
    raise MeterhouseError(f"{source}: row(s) {shown}{more}: {what}. {fix}")


def _refuse_other_currency(read: pl.DataFrame, source: str) -> None:
    """Every row in USD: a bill in another currency would be compared as if it were USD.
    Without a BillingCurrency column (not FOCUS, but what some exports and our demo bill
    writer give) the bill is read as USD."""
    given = pl.col("BillingCurrency")
    bad = read.filter(given.is_null() | (given.str.to_uppercase() != METERED_CURRENCY))
    if bad.is_empty():
        return
    row, value = bad.select("bill_row", "BillingCurrency").row(0)
    more = f" ({len(bad) - 1} more row(s) like it)" if len(bad) > 1 else ""
    raise MeterhouseError(
        f"{source}: row {row}, column BillingCurrency: {value or ''!r} is not "
        f"{METERED_CURRENCY}{more}. Our usage is metered in {METERED_CURRENCY} and meterhouse "
        "does not convert bills: ask the vendor for the bill in USD (or convert its cost and "
        "unit price columns to USD and set BillingCurrency to USD), then reconcile again."
    )


def normalise_bill(raw: pl.DataFrame, source: str) -> pl.DataFrame:
    """One normalised row per bill line (schemas.vendor_bills.BILL_ROWS, not yet validated).

    Rows are numbered from 1 in file order (row 1 is the first line after a CSV header).
    """
    if "ServiceProviderName" not in raw.columns and "ProviderName" in raw.columns:
        raw = raw.rename({"ProviderName": "ServiceProviderName"})  # FOCUS 1.2's name for it
    missing = missing_columns(raw.columns)
    if missing:
        raise MeterhouseError(
            f"{source}: FOCUS column(s) {', '.join(missing)} missing. A vendor bill must be a "
            "FOCUS 1.2 billing export with at least: " + ", ".join(REQUIRED_COLUMNS) + "."
        )
    schema = raw.schema
    absent = [pl.lit(None, pl.String).alias(c) for c in OPTIONAL_COLUMNS if c not in schema]
    texts = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c not in MONEY_COLUMNS]
    frame = raw.with_columns(absent).with_row_index("bill_row", offset=1)
    schema = frame.schema
    read = frame.select(
        pl.col("bill_row").cast(pl.Int64),
        *(_money(c, schema[c]).alias(f"_{c}") for c in MONEY_COLUMNS),
        *(pl.col(c).alias(f"_raw_{c}") for c in MONEY_COLUMNS),
        _timestamp("ChargePeriodStart", schema["ChargePeriodStart"]).alias("charge_period_start"),
        _timestamp("ChargePeriodEnd", schema["ChargePeriodEnd"]).alias("charge_period_end"),
        *(
            _as_text(c, schema[c]).alias(c)
            for c in texts
            if c not in ("ChargePeriodStart", "ChargePeriodEnd")
        ),
        *(pl.col(c).alias(f"_raw_{c}") for c in ("ChargePeriodStart", "ChargePeriodEnd")),
    )
    if "BillingCurrency" in raw.columns:
        _refuse_other_currency(read, source)
    for column in MONEY_COLUMNS:
        _refuse(
            read,
            pl.col(f"_raw_{column}").cast(pl.String).str.strip_chars().fill_null("").ne("")
            & pl.col(f"_{column}").is_null(),
            source,
            f"{column} is not a number",
            "Money columns must hold plain decimal numbers.",
        )
    for column, parsed in (
        ("ChargePeriodStart", "charge_period_start"),
        ("ChargePeriodEnd", "charge_period_end"),
    ):
        _refuse(
            read,
            pl.col(parsed).is_null(),
            source,
            f"{column} is empty or not an ISO timestamp",
            "Give ISO 8601 timestamps such as 2026-09-01T00:00:00Z.",
        )
    _refuse(
        read,
        pl.col("_BilledCost").is_null(),
        source,
        "BilledCost is empty",
        "FOCUS requires BilledCost on every row.",
    )
    category = pl.col("ChargeCategory").str.to_lowercase()
    model = pl.coalesce(
        pl.col("SkuPriceDetails").str.json_path_match("$.ModelId"),
        pl.lit(None, pl.String),
    )
    token_class = _token_class()
    is_usage = (category == "usage") & model.is_not_null() & token_class.is_not_null()
    committed = (pl.col("CommitmentDiscountStatus").str.to_lowercase() == "used") | (
        pl.col("PricingCategory").str.to_lowercase() == "committed"
    )
    kind = (
        pl.when(is_usage & committed.fill_null(False))
        .then(pl.lit("commitment_drawdown"))
        .when(is_usage)
        .then(pl.lit("usage"))
        .when(category == "purchase")
        .then(pl.lit("commitment_purchase"))
        .when(category == "credit")
        .then(pl.lit("credit"))
        .otherwise(pl.lit("other"))
    )
    per_unit = _tokens_per_unit(pl.col("PricingUnit"))
    shaped = read.with_columns(
        kind.alias("line_kind"),
        pl.when(is_usage).then(model).alias("bill_model_id"),
        pl.when(is_usage).then(token_class).alias("token_class"),
        per_unit.alias("_per_unit"),
    )
    usage_row = pl.col("line_kind").is_in(["usage", "commitment_drawdown"])
    _refuse(
        shaped,
        usage_row & pl.col("_per_unit").is_null(),
        source,
        "PricingUnit is not a token unit meterhouse knows",
        "Unit prices of token usage must be per 'Tokens', '1000 Tokens', '1000000 Tokens' or "
        "'1M Tokens' (any count of tokens dividing 1,000,000).",
    )
    factor = (PER_MILLION // pl.col("_per_unit")).cast(pl.Decimal(38, 0))
    consumed_in_tokens = pl.col("ConsumedUnit").str.to_lowercase().str.contains(r"^tokens?$")
    consumed = pl.col("ConsumedQuantity").cast(pl.Decimal(38, 6), strict=False)
    priced = pl.col("PricingQuantity").cast(pl.Decimal(38, 6), strict=False)
    tokens = (
        pl.when(consumed_in_tokens.fill_null(False) & consumed.is_not_null())
        .then(consumed)
        .otherwise(priced * pl.col("_per_unit").cast(pl.Decimal(38, 0)))
    )
    shaped = shaped.with_columns(
        pl.when(usage_row).then(tokens).alias("_tokens"),
    )
    _refuse(
        shaped,
        usage_row
        & (pl.col("_tokens").is_null() | (pl.col("_tokens") != pl.col("_tokens").floor())),
        source,
        "no whole token count in ConsumedQuantity (Tokens) or PricingQuantity",
        "Give ConsumedQuantity in ConsumedUnit 'Tokens' on every usage row.",
    )
    return shaped.select(
        "bill_row",
        "line_kind",
        pl.col("ChargeCategory").fill_null("").alias("charge_category"),
        pl.col("ServiceProviderName").alias("provider_name"),
        "charge_period_start",
        "charge_period_end",
        "bill_model_id",
        "token_class",
        pl.col("_tokens").cast(pl.Int64).alias("billed_tokens"),
        pl.when(usage_row)
        .then(pl.col("_ListUnitPrice") * factor)
        .cast(UNIT_PRICE)
        .alias("list_usd_per_1m_tokens"),
        pl.when(usage_row)
        .then(pl.col("_ContractedUnitPrice") * factor)
        .cast(UNIT_PRICE)
        .alias("contracted_usd_per_1m_tokens"),
        pl.col("_BilledCost").alias("billed_cost_usd"),
        pl.col("_EffectiveCost").alias("effective_cost_usd"),
        pl.col("_ListCost").alias("list_cost_usd"),
    )


def parse_tolerance(text: str) -> Decimal:
    """'0.5%' or a ratio ('0.005') as a Decimal ratio in [0, 1]."""
    cleaned = text.strip()
    try:
        value = Decimal(cleaned.removesuffix("%").strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if cleaned.endswith("%"):
        value = value / 100
    if not value.is_finite() or not Decimal(0) <= value <= 1:
        raise MeterhouseError(
            f"--tolerance {text!r}: give a percentage such as 0.5% (or a ratio such as 0.005), "
            "between 0% and 100%."
        )
    return value
