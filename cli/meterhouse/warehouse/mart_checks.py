"""Check the marts users read after every build, on either target, with the Pandera schemas
made from their dbt contracts (schemas/marts.py, docs/decisions/0020).

dbt's own tests ran inside the build; this checks what the commands then read: the DuckDB
file's marts, or on the Spark target the Parquet files Spark published, where a contract's
not-null constraints are not enforced. A night's check reads the rows of the days it changed
(`raw.changed_days` after the marts' last watermark) and only the contract's columns; a full
check reads every row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl

from meterhouse.errors import MeterhouseError
from meterhouse.schemas.marts import MartContract, mart_contracts, mart_schema
from meterhouse.warehouse.db import frame
from meterhouse.warehouse.dbt import billing_nodes
from meterhouse.warehouse.sql_text import duckdb_identifier

# How a mart's rows of the changed days are found: its day column, or its month column (the
# first day of the month), or only the latest forecast. A mart not named is read whole:
# it is small, or a changed day changes rows of other days (anomalies' 28-day baselines,
# credit balances), or its rows do not come from the events (vendor bills, file loads).
DAY_SCOPES: dict[str, tuple[str, str]] = {
    "fct_usage_daily": ("usage_date", "day"),
    "fct_unpriced_usage": ("usage_date", "day"),
    "fct_cost_per_1m_tokens": ("usage_date", "day"),
    "fct_usage_series_daily": ("usage_date", "day"),
    "fct_tenant_margin": ("billing_month", "month"),
    "fct_invoices": ("invoice_month", "month"),
    "fct_invoice_lines": ("invoice_month", "month"),
    "fct_usage_forecast": ("trained_through_date", "latest"),
}
# One row per request and token class, a view queried to explain a line: never read whole.
NOT_CHECKED = ("fct_invoice_line_requests",)
EXAMPLES = 3  # failing rows named per failure


@dataclass(frozen=True)
class MartFailure:
    mart: str
    column: str
    problem: str  # what is wrong with the column, as the message says it
    rows: int | None  # failing rows; None: the column as a whole (its type, missing)
    examples: list[str]  # the first failing rows, named by the mart's grain
    billing: bool  # the invoices are made from this mart

    def __str__(self) -> str:
        text = f"{self.mart}.{self.column} {self.problem}"
        if self.rows is None:
            return text
        more = f" and {self.rows - len(self.examples):,} more" if self.rows > EXAMPLES else ""
        return f"{text} on {self.rows:,} row(s): " + "; ".join(self.examples) + more


@dataclass(frozen=True)
class MartCheck:
    marts: int  # marts checked
    rows: int  # rows read
    days: int | None  # changed days checked; None: every row
    failures: list[MartFailure]

    @property
    def billing_failed(self) -> bool:
        return any(f.billing for f in self.failures)


def watermark(con: duckdb.DuckDBPyConnection) -> int | None:
    """The last change the marts were built through, or None before the first build."""
    try:
        [(found,)] = con.execute(
            "select max(rated_through_change_id) from main.fct_usage_daily"
        ).fetchall()
    except duckdb.CatalogException:
        return None
    return None if found is None else int(found)


def check_marts(con: duckdb.DuckDBPyConnection, target: Path, since: int | None) -> MartCheck:
    """Check every contracted mart of the manifest in dbt's `target` folder: the rows of the
    days changed after change `since`, or every row when `since` is None."""
    manifest_file = target / "manifest.json"
    if not manifest_file.is_file():
        raise MeterhouseError(f"no dbt manifest at {manifest_file}: run 'meterhouse build'.")
    manifest = json.loads(manifest_file.read_text())
    billing = billing_nodes(manifest["parent_map"])
    days = None
    if since is not None:
        days = [
            d
            for (d,) in con.execute(
                "select distinct usage_date from raw.changed_days where change_id > ? order by 1",
                [since],
            ).fetchall()
        ]
    columns = {
        (table, column)
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'main'"
        ).fetchall()
    }
    marts, rows, failures = 0, 0, []
    for name, contract in sorted(mart_contracts(manifest).items()):
        if name in NOT_CHECKED or name not in {table for table, _ in columns}:
            continue  # not built yet (a first build with --select)
        is_billing = f"model.meterhouse.{name}" in billing
        present = [c for c in contract.columns if (name, c) in columns]
        found = _read(con, contract, present, days)
        marts, rows = marts + 1, rows + found.height
        failures += _failures(contract, found, is_billing)
    return MartCheck(marts, rows, None if days is None else len(days), failures)


def _read(
    con: duckdb.DuckDBPyConnection, contract: MartContract, columns: list[str],
    days: list[date] | None,
) -> pl.DataFrame:  # fmt: skip
    """The contract's columns of the mart's rows in scope."""
    mart = f"main.{duckdb_identifier(contract.name)}"
    select = f"select {', '.join(duckdb_identifier(c) for c in columns)} from {mart}"
    scope = DAY_SCOPES.get(contract.name)
    if days is None or scope is None or scope[0] not in columns:
        return frame(con, select)
    column, kind = duckdb_identifier(scope[0]), scope[1]
    if kind == "latest":
        return frame(con, f"{select} where {column} = (select max({column}) from {mart})")
    if kind == "month":
        return frame(
            con, f"{select} where {column} in (select distinct date_trunc('month', d)::date "
            "from unnest($days::date[]) as t(d))", {"days": days},
        )  # fmt: skip
    return frame(con, f"{select} where {column} in (select unnest($days::date[]))", {"days": days})


def _failures(contract: MartContract, rows: pl.DataFrame, billing: bool) -> list[MartFailure]:
    """What of `rows` fails the mart's schema, one failure per column and check."""
    try:
        mart_schema(contract).validate(rows, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    grain = [c for c in contract.grain if c in rows.columns]
    # a row named by its grain (`tenant_id=a, billing_month=2026-09-01`); a failure names
    # its first failing rows in grain order
    named = rows.with_row_index("index").select(
        "index",
        pl.concat_str(
            [pl.format(f"{c}={{}}", pl.col(c).cast(pl.String).fill_null("null")) for c in grain]
            or [pl.format("row {}", pl.col("index") + 1)],
            separator=", ",
        ).alias("row"),
        *grain,
    )
    failures = []
    for (column, check), group in cases.group_by(["column", "check"], maintain_order=True):
        found = ", ".join(str(v) for v in group["failure_case"].unique(maintain_order=True)[:3])
        on_rows = group.filter(pl.col("index").is_not_null())
        name, rows_failing, examples = str(column), None, []
        if check == "column_in_dataframe":  # Pandera names the schema, the case the column
            name, problem = found, "is missing (its contract has it)"
        elif str(check).startswith("dtype("):  # the column's type: every row
            problem = f"is {found}, its contract says {contract.columns[name].data_type}"
        elif on_rows.is_empty():  # a check that could not run on the rows
            problem = f"fails {check} ({found})"
        else:
            index = on_rows.select(pl.col("index").cast(pl.UInt32)).unique(maintain_order=True)
            problem = f"fails {_said(str(check))} (found {found})"
            rows_failing = index.height
            first = named.join(index, on="index", how="semi").sort([*grain, "index"]).head(EXAMPLES)
            examples = first["row"].to_list()
        failures.append(MartFailure(contract.name, name, problem, rows_failing, examples, billing))
    return failures


def _said(check: str) -> str:
    """A Pandera check's name as the message says it."""
    return "not null" if check == "not_nullable" else check
