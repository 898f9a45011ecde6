"""What a vendor's FOCUS 1.2 bill must carry, and the normalised bill row reconciliation uses.

A vendor bill is read with every column as text (money never passes through a float), then
normalised by `meterhouse.core.reconcile.normalise_bill` into one row per bill line with
tokens, USD per 1M tokens and the token class. Pandera checks that row at the edge, so the
core can trust it: money is DECIMAL, a token class is one of ours, a period ends after it
starts.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from meterhouse.core.money import COST, EXACT_COST, UNIT_PRICE
from meterhouse.core.vocabulary import VENDOR_TOKEN_CLASSES

UTC_TIME = pl.Datetime("us", "UTC")

# FOCUS columns reconciliation reads. REQUIRED must be present (they may be empty on rows
# where FOCUS allows it); OPTIONAL are read when present.
REQUIRED_COLUMNS = (
    "BilledCost",
    "ChargeCategory",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ServiceProviderName",
    "SkuPriceDetails",
)
OPTIONAL_COLUMNS = (
    "BillingCurrency",  # FOCUS makes it mandatory; a bill without it is read as USD
    "ContractedUnitPrice",
    "ListCost",
    "ContractedCost",
    "EffectiveCost",
    "PricingCategory",
    "CommitmentDiscountStatus",
    "SkuMeter",
    "ChargeDescription",
)
# The currency of every money column of a FOCUS bill (BilledCost ... ContractedUnitPrice) is
# BillingCurrency. Our metered usage is priced in USD, and a bill is compared only in it.
METERED_CURRENCY = "USD"
MONEY_COLUMNS = (
    "BilledCost",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "ListCost",
    "ContractedCost",
    "EffectiveCost",
)
# The token classes a FOCUS bill carries (reasoning is billed as output).
TOKEN_CLASSES = tuple(c.name for c in VENDOR_TOKEN_CLASSES)
# How a bill line takes part in reconciliation (see docs/reconciliation.md).
LINE_KINDS = ("usage", "commitment_drawdown", "commitment_purchase", "credit", "other")

BILL_ROWS = pa.DataFrameSchema(
    {
        "bill_row": pa.Column(pl.Int64, pa.Check.gt(0), unique=True),
        "line_kind": pa.Column(pl.String, pa.Check.isin(LINE_KINDS)),
        "charge_category": pa.Column(pl.String),
        "provider_name": pa.Column(pl.String, nullable=True),
        "charge_period_start": pa.Column(UTC_TIME),
        "charge_period_end": pa.Column(UTC_TIME),
        "bill_model_id": pa.Column(pl.String, nullable=True),
        "token_class": pa.Column(pl.String, pa.Check.isin(TOKEN_CLASSES), nullable=True),
        "billed_tokens": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "list_usd_per_1m_tokens": pa.Column(UNIT_PRICE, nullable=True),
        "contracted_usd_per_1m_tokens": pa.Column(UNIT_PRICE, nullable=True),
        "billed_cost_usd": pa.Column(COST),
        "effective_cost_usd": pa.Column(COST, nullable=True),
        "list_cost_usd": pa.Column(COST, nullable=True),
    },
    checks=[
        pa.Check(
            lambda data: data.lazyframe.select(
                pl.col("charge_period_end") > pl.col("charge_period_start")
            ),
            name="period_ends_after_start",
            error="ChargePeriodEnd must be after ChargePeriodStart",
        ),
        pa.Check(
            lambda data: data.lazyframe.select(
                (pl.col("line_kind").is_in(["usage", "commitment_drawdown"]))
                == (pl.col("token_class").is_not_null() & pl.col("bill_model_id").is_not_null())
            ),
            name="usage_has_model_and_class",
            error="a usage line names a model and a token class; other lines name neither",
        ),
    ],
    strict=True,
    name="vendor bill rows",
)

# The metered side, from the mart fct_vendor_usage_daily (one provider, the needed days).
METERED_IN = pa.DataFrameSchema(
    {
        "usage_date": pa.Column(pl.Date),
        "model_id": pa.Column(pl.String),
        "token_class": pa.Column(pl.String, pa.Check.isin(TOKEN_CLASSES)),
        "usd_per_1m_tokens": pa.Column(UNIT_PRICE, nullable=True),
        "tokens": pa.Column(pl.Int64, pa.Check.ge(0)),
        "list_cost_usd": pa.Column(EXACT_COST, nullable=True),
    },
    strict="filter",
    name="fct_vendor_usage_daily",
)
