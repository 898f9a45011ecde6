"""Read one month's invoices from the billing marts, refusing what must not be invoiced.

Refusals come before anything is written: an unknown tenant, a month or tenant without an
invoice (saying whether it has usage at all), and unpriced usage (an invoice would silently
leave it out) unless the caller allows it. The rows travel to Polars through Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from meterhouse.errors import MeterhouseError
from meterhouse.schemas.invoices import INVOICES_IN, LINES_IN


@dataclass(frozen=True)
class MonthInvoices:
    invoices: pl.LazyFrame  # fct_invoices rows, checked by INVOICES_IN
    lines: pl.LazyFrame  # fct_invoice_lines rows, checked by LINES_IN


def _month_rows(
    con: duckdb.DuckDBPyConnection, table: str, month: date, tenants: list[str]
) -> pl.DataFrame:
    """A mart's rows of one month (and of `tenants`, when given), through Arrow."""
    arrow = con.sql(
        f"select * from main.{table} where invoice_month = $month "
        "and (len($tenants::varchar[]) = 0 or list_contains($tenants::varchar[], tenant_id))",
        params={"month": month, "tenants": tenants},
    ).to_arrow_table()
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    return frame


def read_month(
    con: duckdb.DuckDBPyConnection, month: date, tenants: list[str], allow_unpriced: bool
) -> MonthInvoices:
    built = {
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'main'"
        ).fetchall()
    }
    if not {"fct_invoices", "fct_invoice_lines", "fct_usage_daily"} <= built:
        raise MeterhouseError(
            "the warehouse has no billing marts yet: run 'meterhouse nightly' (or 'build') first."
        )
    label = f"{month:%Y-%m}"
    usage = dict(
        con.execute(
            "select tenant_id, bool_or(date_trunc('month', usage_date) = ?) "
            "from main.fct_usage_daily group by tenant_id",
            [month],
        ).fetchall()
    )
    unknown = sorted(set(tenants) - set(usage))
    if unknown:
        raise MeterhouseError(
            f"unknown tenant {', '.join(unknown)}: the warehouse has no usage for it in any month "
            f"({len(usage)} tenants known; 'meterhouse status' lists the months)."
        )
    invoices = _month_rows(con, "fct_invoices", month, tenants)
    found = set(invoices["tenant_id"])
    if not found:
        months = con.execute(
            "select min(invoice_month), max(invoice_month) from main.fct_invoices"
        ).fetchall()[0]
        span = (
            f"invoices exist from {months[0]:%Y-%m} to {months[1]:%Y-%m}"
            if months[0]
            else "no invoices exist yet"
        )
        raise MeterhouseError(f"no invoices for {label} ({span}).")
    missing = sorted(set(tenants) - found)
    if missing:
        no_plan = "usage but no contract, and no default plan is set"
        reasons = [f"{t} ({no_plan if usage[t] else 'no usage'})" for t in missing]
        raise MeterhouseError(f"no invoice for {label}: {', '.join(reasons)}.")
    unpriced = invoices.filter(pl.col("unpriced_tokens") > 0)
    if len(unpriced) and not allow_unpriced:
        names = ", ".join(
            f"{t} ({n:,} tokens)" for t, n in unpriced.select("tenant_id", "unpriced_tokens").rows()
        )
        raise MeterhouseError(
            f"unpriced usage in {label} for {names}: an invoice would leave it out. See "
            "main.fct_unpriced_usage; add a price (prices import, price_overrides) or an alias "
            "(model_aliases), rebuild, or pass --allow-unpriced to invoice without it."
        )
    lines = _month_rows(con, "fct_invoice_lines", month, tenants)
    return MonthInvoices(
        invoices=INVOICES_IN.validate(invoices).lazy(),
        lines=LINES_IN.validate(lines).lazy(),
    )
