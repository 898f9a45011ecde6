"""Invoice documents from the billing marts, in pure Polars: one row per invoice.

The marts hold the money (lines rounded once, totals as sums of lines); this module only
arranges it: it sums the lines into the invoice's totals again (so a document can never
disagree with its own lines, and the output check compares them with the mart's), and
encodes each invoice as JSON with money as decimal strings (docs/invoice-schema.md).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from meterhouse.core.money import AMOUNT
from meterhouse.core.text import format_text, spreadsheet_safe
from meterhouse.core.vocabulary import line_types_of_total

KEY = ["invoice_id", "tenant_id", "invoice_month"]
LINE_FIELDS = [
    "line_number", "line_type", "model_id", "token_class", "quantity_tokens",
    "corrects_invoice_id", "corrected_line_type", "unit_price_per_1m_tokens", "amount",
]  # fmt: skip
# document field: (mart column, line types summed; None = every line). Each line type adds
# to the total the vocabulary names (core/vocabulary.py), as in fct_invoices.
TOTALS: dict[str, tuple[str, list[str] | None]] = {
    **{
        total: (total, line_types_of_total(total))
        for total in (
            "subtotal",
            "discounts",
            "credits_applied",
            "commitment_shortfall",
            "corrections",
        )
    },
    "total": ("total_amount", None),
}


def money_text(column: str) -> pl.Expr:
    """A DECIMAL(38, 2) amount as its exact decimal string ("-12.30"), never a float."""
    return pl.col(column).cast(AMOUNT).cast(pl.String)


def _sum_of(types: list[str] | None) -> pl.Expr:
    amount = (
        pl.col("amount")
        if types is None
        else pl.col("amount").filter(pl.col("line_type").is_in(types))
    )
    return amount.sum().cast(AMOUNT)


def line_columns() -> list[pl.Expr]:
    """A line's fields as the files show them, unit price and amount as exact text."""
    return [
        *map(pl.col, LINE_FIELDS[:7]),
        pl.col("unit_price_per_1m_tokens").cast(pl.String),
        money_text("amount"),
    ]


def line_totals(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Per tenant and month: the totals of the lines, the line count, and the lines themselves
    as a list (in line order, money as text) for the document."""
    line = pl.struct(line_columns())
    return (
        lines.sort([*KEY, "line_number"])
        .group_by(KEY, maintain_order=True)
        .agg(
            *(_sum_of(types).alias(f"{field}_of_lines") for field, (_, types) in TOTALS.items()),
            pl.len().alias("line_count_of_lines"),
            line.alias("lines"),
        )
    )


def documents(
    invoices: pl.LazyFrame, lines: pl.LazyFrame, issuer: str, issued_at: datetime | None = None
) -> pl.DataFrame:
    """One row per invoice: its id, key, totals as text and the whole document as JSON; a
    draft, or the document being issued at `issued_at` (UTC).

    `totals_match_mart` says whether the totals summed here equal the mart's; the output
    schema requires it, so a document never disagrees with the warehouse.
    """
    matches = [
        pl.col(f"{field}_of_lines") == pl.col(column) for field, (column, _) in TOTALS.items()
    ]
    body = pl.struct(
        "invoice_id",
        pl.lit(issuer).alias("issuer"),
        "tenant_id",
        pl.col("invoice_month").alias("period_start"),
        pl.col("invoice_month").dt.month_end().alias("period_end"),
        "currency",
        pl.lit("draft" if issued_at is None else "issued").alias("status"),
        pl.lit(None if issued_at is None else f"{issued_at:%Y-%m-%dT%H:%M:%SZ}", pl.String).alias(
            "issued_at"
        ),
        "lines",
        *TOTALS,
    )
    return (
        invoices.join(line_totals(lines), on=KEY, how="inner")
        .with_columns(  # compared while the mart's totals are still DECIMAL columns
            (
                pl.all_horizontal(matches) & (pl.col("line_count_of_lines") == pl.col("line_count"))
            ).alias("totals_match_mart"),
            *(money_text(f"{f}_of_lines").alias(f) for f in TOTALS),
            pl.col("line_count_of_lines").alias("line_count"),
        )
        .with_columns(body.struct.json_encode().alias("json"))
        .select(*KEY, "currency", *TOTALS, "line_count", "json", "totals_match_mart")
        .sort(KEY)
        .collect()
    )


def csv_lines(lines: pl.LazyFrame) -> pl.LazyFrame:
    """The lines as a spreadsheet wants them: the invoice id on every row, money as text."""
    return lines.sort([*KEY, "line_number"]).select(
        *KEY,
        *line_columns(),
        "currency",
    )


def csv_field(column: str) -> pl.Expr:
    """A value as an RFC 4180 CSV field: null is empty; text holding a comma, quote or line
    break is quoted, with its quotes doubled; text a spreadsheet would run as a formula starts
    with `'` (core/text.py)."""
    text = spreadsheet_safe(pl.col(column).cast(pl.String))
    quoted = format_text('"{}"', text.str.replace_all('"', '""', literal=True))
    return pl.when(text.str.contains(r'[",\r\n]')).then(quoted).otherwise(text).fill_null("")


def csv_documents(lines: pl.LazyFrame) -> pl.LazyFrame:
    """One CSV text per invoice (header, then its lines in order): every invoice's file in one
    pass, rather than one CSV writer call per invoice."""
    table = csv_lines(lines)
    columns = table.collect_schema().names()
    row = pl.concat_str([csv_field(c) for c in columns], separator=",")
    header = pl.lit(",".join(columns) + "\n")
    return (
        table.group_by("invoice_id", maintain_order=True)
        .agg(row.str.join("\n").alias("body"))
        .select("invoice_id", pl.concat_str(header, "body", pl.lit("\n")).alias("csv"))
    )
