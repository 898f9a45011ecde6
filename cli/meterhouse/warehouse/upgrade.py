"""Bring a warehouse written by an earlier meterhouse up to this version's stored tables.

A warehouse records its schema version in `app.schema_version` (one row); a warehouse without
that table but with the loader's raw tables is version 1, the version before it existed. A
writable open of an older warehouse runs the steps from its version on: first a backup copy of
the file beside it (after a checkpoint, never over an existing copy), then every step and the
new version in one transaction. A new warehouse starts at the latest version with no step.
Every later change to stored tables adds one step to STEPS (docs/decisions/0016).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.sql_text import duckdb_identifier

# The application's own records, which version 1 kept in raw beside the loaded inputs.
APP_RECORDS = ("issued_invoices", "issued_invoice_lines", "issued_sell_prices", "usage_forecasts")


def _move_app_records(con: duckdb.DuckDBPyConnection) -> None:
    """v1 -> v2: the app's records move from `raw` to `app`, each table made again from its
    own stored definition (constraints included) and its rows copied (DuckDB cannot move a
    table to another schema). A view over one of them (dbt's fct_usage_forecast, which other
    views read) is made again over the new table, as the next build makes it."""
    con.execute("create schema if not exists app")
    for table in APP_RECORDS:
        found = con.execute(
            "select sql from duckdb_tables() where schema_name = 'raw' and table_name = ?",
            [table],
        ).fetchall()
        if not found:
            continue
        [(definition,)] = found
        prefix = f"CREATE TABLE raw.{table}("
        assert definition.startswith(prefix), definition
        con.execute(f"CREATE TABLE app.{table}(" + definition.removeprefix(prefix))
        con.execute(f"insert into app.{table} select * from raw.{table}")
        reference = rf'\braw\.("{table}"|{table}\b)'
        views = con.execute(
            "select schema_name, view_name, regexp_replace(sql, ?, ?, 'g') from duckdb_views() "
            "where not internal and regexp_matches(sql, ?)",
            [reference, f"app.{table}", reference],
        ).fetchall()
        for schema, view, sql in views:
            body = sql[sql.index(" AS ") + len(" AS ") :]
            con.execute(f"create or replace view {duckdb_identifier(schema)}."
                        f"{duckdb_identifier(view)} as {body}")  # fmt: skip
        con.execute(f"drop table raw.{table}")


# STEPS[n - 1] takes a warehouse from version n to n + 1.
STEPS: tuple[Callable[[duckdb.DuckDBPyConnection], None], ...] = (_move_app_records,)
LATEST = len(STEPS) + 1


def stored_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's schema version; None for a new (empty) file."""
    tables = set(
        con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    )
    if ("app", "schema_version") in tables:
        [(version,)] = con.execute("select max(version) from app.schema_version").fetchall()
        if version is None:
            raise MeterhouseError(
                "the warehouse's schema version record (app.schema_version) is empty, so its "
                "tables cannot be read safely: restore the file from a backup copy."
            )
        return int(version)
    return 1 if ("raw", "load_manifest") in tables else None


def check_version(db: Path, version: int | None) -> bool:
    """Whether a warehouse at `version` is current; refuses one written by a later version."""
    if version is not None and version > LATEST:
        raise MeterhouseError(
            f"the warehouse {db} has schema version {version}, written by a later meterhouse "
            f"(this one knows versions up to {LATEST}): use that version of meterhouse."
        )
    return version is None or version == LATEST


def record_version(con: duckdb.DuckDBPyConnection) -> None:
    """Record the latest version (after the steps, or in a new warehouse)."""
    con.execute("delete from app.schema_version where version <> ?", [LATEST])
    con.execute(
        "insert into app.schema_version select $version, $now "
        "where not exists (select * from app.schema_version)",
        {"version": LATEST, "now": datetime.now(UTC).replace(tzinfo=None)},
    )


def back_up(db: Path, version: int) -> Path:
    """Copy the warehouse file `db` (closed, after a checkpoint) to
    <stem>.backup-v<version>.duckdb beside it, or to -2, -3... after that name if it exists."""
    backup, n = db.with_name(f"{db.stem}.backup-v{version}{db.suffix}"), 1
    while backup.exists():
        n += 1
        backup = db.with_name(f"{db.stem}.backup-v{version}-{n}{db.suffix}")
    try:
        with db.open("rb") as source, backup.open("xb") as copy:
            shutil.copyfileobj(source, copy)
    except OSError as exc:
        backup.unlink(missing_ok=True)
        raise MeterhouseError(
            f"cannot upgrade the warehouse {db}: its backup copy {backup} could not be written "
            f"({exc.strerror or exc}). Nothing was changed; free some space, then run this again."
        ) from exc
    return backup


def run_steps(con: duckdb.DuckDBPyConnection, version: int) -> None:
    """The steps from `version` to the latest, in the caller's transaction."""
    for step in STEPS[version - 1 :]:
        step(con)
