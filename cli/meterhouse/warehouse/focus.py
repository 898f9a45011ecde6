"""`meterhouse export focus`: one month of fct_focus_billing as a FOCUS file (CSV, or Parquet
when the name ends in .parquet), written whole or not at all.

The rows and their money come from the mart; this module only picks the month and tenants,
fills the issuer of draft invoices, checks the result and writes it.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl
import polars.selectors as cs

from meterhouse.core.text import csv_safe
from meterhouse.errors import MeterhouseError
from meterhouse.files import write_whole
from meterhouse.schemas.invoices import split_valid
from meterhouse.warehouse.db import frame, require_built

# The FOCUS version the export follows, stated here only: fct_focus_billing and
# docs/focus-export.md follow it, the command prints it, and
# tests/integration/test_focus_conformance.py checks the export against its column pages.
FOCUS_VERSION = "1.2"
TIMESTAMP_TEXT = "%Y-%m-%dT%H:%M:%SZ"  # as in the FOCUS examples: UTC with a Z

FOCUS_OUT = pa.DataFrameSchema(
    {
        "BilledCost": pa.Column(pl.Decimal(38, 2)),
        "InvoiceId": pa.Column(pl.String),
        "SubAccountId": pa.Column(pl.String),
        "BillingCurrency": pa.Column(pl.String, pa.Check.str_matches(r"^[A-Z]{3}$")),
        "ChargeCategory": pa.Column(
            pl.String, pa.Check.isin(["Usage", "Adjustment", "Credit", "Purchase"])
        ),
        "ChargeClass": pa.Column(pl.String, pa.Check.isin(["Correction"]), nullable=True),
        "PricingUnit": pa.Column(  # tokens; the billing currency on a purchase
            pl.String, pa.Check.str_matches(r"^(1000000 Tokens|[A-Z]{3})$"), nullable=True
        ),
        "ConsumedUnit": pa.Column(pl.String, pa.Check.isin(["Tokens"]), nullable=True),
        "InvoiceIssuerName": pa.Column(pl.String),
        "ProviderName": pa.Column(pl.String),
        "PublisherName": pa.Column(pl.String),
        "RegionId": pa.Column(pl.String, nullable=True),  # null on lines that are no region's
        "RegionName": pa.Column(pl.String, nullable=True),
    },
    name="FOCUS export",
)


def read_focus(
    con: duckdb.DuckDBPyConnection, month: date, tenants: list[str], issuer: str
) -> tuple[pl.DataFrame, dict[str, str]]:
    """The month's FOCUS rows (of `tenants`, when given), the issuer filled in on drafts, and
    the tenants left out because a row of theirs fails FOCUS_OUT, with why: one tenant's bad
    row never stops the others' export."""
    require_built(con, "FOCUS mart", "main.fct_focus_billing")
    rows = frame(
        con,
        "select * from main.fct_focus_billing where BillingPeriodStart = $month and "
        "(len($tenants::varchar[]) = 0 or list_contains($tenants::varchar[], SubAccountId)) "
        "order by InvoiceId, x_LineNumber, RegionId nulls last",
        {"month": month, "tenants": tenants},
    )
    missing = sorted(set(tenants) - set(rows["SubAccountId"]))
    if rows.is_empty() or missing:
        who = f" for {', '.join(missing)}" if missing else ""
        raise MeterhouseError(
            f"no invoice lines in {month:%Y-%m}{who}: 'meterhouse status' lists the months "
            "with invoices."
        )
    # the issuer sells the service: on a draft, the issuer to be is every issuer column's
    filled = rows.with_columns(
        pl.col("InvoiceIssuerName", "ProviderName", "PublisherName").fill_null(issuer),
    ).with_columns(  # FOCUS date/times are UTC: the mart's are, and now say so
        cs.datetime(time_zone=None).dt.replace_time_zone("UTC"),
        cs.datetime(time_zone="*").dt.convert_time_zone("UTC"),
    )
    try:
        return split_valid(FOCUS_OUT, filled, key="SubAccountId")
    except pa.errors.SchemaErrors as exc:  # a missing column or a wrong type: every row
        cases = exc.failure_cases.select("column", "check", "failure_case")
        what = "; ".join(  # a missing column: Pandera names it as the failure case
            dict.fromkeys(f"{case} is missing" if check == "column_in_dataframe"
                          else f"{column} fails {check}"
                          for column, check, case in cases.iter_rows())
        )  # fmt: skip
        raise MeterhouseError(
            f"the FOCUS rows of {month:%Y-%m} fail the export's check ({what}), so nothing was "
            "written: rebuild the marts ('meterhouse build'); if it stays, the FOCUS mart is "
            "at fault (docs/focus-export.md)."
        ) from exc


def write_focus(frame: pl.DataFrame, out: Path) -> None:
    """CSV (timestamps as in the FOCUS examples), or Parquet when `out` ends in .parquet."""
    if out.suffix.lower() == ".parquet":
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        write_whole(out, buffer.getvalue())
    else:
        write_whole(out, csv_safe(frame).write_csv(datetime_format=TIMESTAMP_TEXT).encode())
