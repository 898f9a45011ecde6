"""What invoice assembly takes in (the billing marts) and gives out (one row per invoice).

The Polars core trusts these shapes; Pandera checks them at both edges, with the data-level
checks a finance team would notice: money is DECIMAL, every line belongs to an invoice, and
an invoice's totals are the sums of its lines.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from meterhouse.core.money import AMOUNT, UNIT_PRICE
from meterhouse.core.vocabulary import LINE_TYPE_NAMES

LINE_TYPES = list(LINE_TYPE_NAMES)
MONEY_TEXT = r"^-?\d+\.\d{2}$"

# Polars' regex engine: `$` is the end of the text (no newline before it matches), and `(?s:.+)`
# takes any tenant id, a newline in it included; the door (schemas/events.py) refuses such ids,
# this check must not stop the other tenants when an old warehouse holds one.
INVOICE_ID = r"^INV-\d{6}-(?s:.+)$"

INVOICES_IN = pa.DataFrameSchema(
    {
        "invoice_id": pa.Column(pl.String, pa.Check.str_matches(INVOICE_ID), unique=True),
        "tenant_id": pa.Column(pl.String),
        "invoice_month": pa.Column(pl.Date),
        "currency": pa.Column(pl.String, pa.Check.str_matches(r"^[A-Z]{3}$")),
        "subtotal": pa.Column(AMOUNT),
        "discounts": pa.Column(AMOUNT),
        "credits_applied": pa.Column(AMOUNT),
        "commitment_shortfall": pa.Column(AMOUNT),
        "corrections": pa.Column(AMOUNT),
        "status": pa.Column(pl.String, pa.Check.isin(["draft", "issued"])),
        "total_amount": pa.Column(AMOUNT),
        "line_count": pa.Column(pl.Int64, pa.Check.gt(0)),
        "unpriced_tokens": pa.Column(pl.Int64, pa.Check.ge(0)),
    },
    unique=["tenant_id", "invoice_month"],
    strict="filter",
    name="fct_invoices",
)

LINES_IN = pa.DataFrameSchema(
    {
        "invoice_id": pa.Column(pl.String, pa.Check.str_matches(INVOICE_ID)),
        "tenant_id": pa.Column(pl.String),
        "invoice_month": pa.Column(pl.Date),
        "line_number": pa.Column(pl.Int64, pa.Check.gt(0)),
        "line_type": pa.Column(pl.String, pa.Check.isin(LINE_TYPES)),
        "model_id": pa.Column(pl.String, nullable=True),
        "token_class": pa.Column(pl.String, nullable=True),
        "quantity_tokens": pa.Column(pl.Int64, nullable=True),
        "unit_price_per_1m_tokens": pa.Column(UNIT_PRICE, nullable=True),
        "tier_from_tokens": pa.Column(pl.Int64, nullable=True),
        "credit_grant_id": pa.Column(pl.String, nullable=True),
        "corrects_invoice_id": pa.Column(pl.String, nullable=True),
        "corrected_line_type": pa.Column(pl.String, pa.Check.isin(LINE_TYPES), nullable=True),
        "amount": pa.Column(AMOUNT),
        "currency": pa.Column(pl.String),
    },
    unique=["tenant_id", "invoice_month", "line_number"],
    strict="filter",
    name="fct_invoice_lines",
)

MONEY_FIELDS = [
    "subtotal", "discounts", "credits_applied", "commitment_shortfall", "corrections", "total",
]  # fmt: skip
_MONEY_OUT = {name: pa.Column(pl.String, pa.Check.str_matches(MONEY_TEXT)) for name in MONEY_FIELDS}

DOCUMENTS_OUT = pa.DataFrameSchema(
    {
        "invoice_id": pa.Column(pl.String, unique=True),
        "tenant_id": pa.Column(pl.String),
        "invoice_month": pa.Column(pl.Date),
        "currency": pa.Column(pl.String),
        **_MONEY_OUT,
        "line_count": pa.Column(pl.UInt32, pa.Check.gt(0)),
        "json": pa.Column(pl.String),
        # the totals the lines add up to are the totals the marts hold
        "totals_match_mart": pa.Column(pl.Boolean, pa.Check.eq(True)),
    },
    strict=True,
    name="invoice documents",
)


def split_valid(
    schema: pa.DataFrameSchema, frame: pl.DataFrame, key: str = "tenant_id"
) -> tuple[pl.DataFrame, dict[str, str]]:
    """`frame` checked by `schema`, less the rows of every `key` value (a tenant) that has a
    row failing it, and why each was left out: one tenant's bad row never stops the others.
    A failure that belongs to no row (a missing column, a wrong type) is raised as it is."""
    try:
        return schema.validate(frame, lazy=True), {}
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        if "index" not in cases.columns or cases["index"].is_null().any():
            raise
        rows = frame.with_row_index("_row").join(
            cases.select(pl.col("index").cast(pl.UInt32).alias("_row"), "column", "check"),
            on="_row",
        )
        reasons = rows.group_by(key, maintain_order=True).agg(
            pl.concat_str(pl.col("column").fill_null("row"), pl.lit(" fails "), "check")
            .unique(maintain_order=True)
            .str.join("; ")
        )
        refused = {str(k): str(why) for k, why in reasons.iter_rows()}
        kept = frame.filter(~pl.col(key).is_in(list(refused)))
        return schema.validate(kept), refused
