"""What invoice assembly takes in (the billing marts) and gives out (one row per invoice).

The Polars core trusts these shapes; Pandera checks them at both edges, with the data-level
checks a finance team would notice: money is DECIMAL, every line belongs to an invoice, and
an invoice's totals are the sums of its lines.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

LINE_TYPES = [
    "usage", "free_allowance", "tier_discount", "discount", "commitment_shortfall", "credit",
    "correction",
]  # fmt: skip
MONEY = pl.Decimal(38, 2)
UNIT_PRICE = pl.Decimal(38, 12)
MONEY_TEXT = r"^-?\d+\.\d{2}$"

INVOICE_ID = r"^INV-\d{6}-.+$"

INVOICES_IN = pa.DataFrameSchema(
    {
        "invoice_id": pa.Column(pl.String, pa.Check.str_matches(INVOICE_ID), unique=True),
        "tenant_id": pa.Column(pl.String),
        "invoice_month": pa.Column(pl.Date),
        "currency": pa.Column(pl.String, pa.Check.str_matches(r"^[A-Z]{3}$")),
        "subtotal": pa.Column(MONEY),
        "discounts": pa.Column(MONEY),
        "credits_applied": pa.Column(MONEY),
        "commitment_shortfall": pa.Column(MONEY),
        "corrections": pa.Column(MONEY),
        "status": pa.Column(pl.String, pa.Check.isin(["draft", "issued"])),
        "total_amount": pa.Column(MONEY),
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
        "amount": pa.Column(MONEY),
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
