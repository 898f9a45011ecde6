"""Read one month of the cost marts for `meterhouse report cost|margin`.

Money arrives as DECIMAL through Arrow and stays Decimal; the month's rows are picked here and
shaped by core/costs.py.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from meterhouse.core.costs import month_costs
from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.db import frame, require_built

MARTS = {
    "cost": ("fct_cost_per_1m_tokens", "usage_date"),
    "margin": ("fct_tenant_margin", "billing_month"),
}


def _month_rows(con: duckdb.DuckDBPyConnection, report: str, month: date) -> pl.DataFrame:
    mart, column = MARTS[report]
    require_built(con, mart, f"main.{mart}")
    rows = frame(
        con,
        f"select * from main.{mart} where date_trunc('month', {column}) = $month",
        {"month": month},
    )
    if rows.is_empty():
        [(months,)] = con.execute(
            f"select string_agg(distinct strftime({column}, '%Y-%m'), ', ' "
            f"order by strftime({column}, '%Y-%m')) from main.{mart}"
        ).fetchall()
        raise MeterhouseError(
            f"no {report} rows for {month:%Y-%m}. Months with rows: {months or 'none'}."
        )
    return rows


def month_cost(con: duckdb.DuckDBPyConnection, month: date) -> pl.DataFrame:
    """Cost per model and hardware for the month, per 1M tokens recomputed from the sums."""
    return month_costs(_month_rows(con, "cost", month).lazy()).collect()


def month_margin(con: duckdb.DuckDBPyConnection, month: date) -> pl.DataFrame:
    """Revenue, cost and margin per tenant for the month, worst margin first."""
    return _month_rows(con, "margin", month).sort(["gross_margin_usd", "tenant_id"])
