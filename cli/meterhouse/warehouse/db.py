"""Open the embedded DuckDB warehouse the same way everywhere.

One place decides the session settings (UTC, so a date never depends on the machine's zone),
creates the raw tables the loader owns, and turns DuckDB's file errors into messages a user
can act on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from meterhouse.errors import MeterhouseError

DEFAULT_DB = "meterhouse.duckdb"
DB_ENV = "METERHOUSE_DB"


def resolve_db(db: Path | None) -> Path:
    """--db wins, then $METERHOUSE_DB, then meterhouse.duckdb in the working directory."""
    return (db or Path(os.environ.get(DB_ENV) or DEFAULT_DB)).resolve()


@contextmanager
def connect(db: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    if read_only and not db.exists():
        raise MeterhouseError(
            f"no warehouse at {db}: run 'meterhouse ingest' or 'meterhouse nightly' first, "
            f"or point --db / ${DB_ENV} at an existing file."
        )
    if not db.parent.is_dir():
        raise MeterhouseError(f"cannot create the warehouse {db}: folder {db.parent} missing.")
    try:
        con = duckdb.connect(str(db), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise MeterhouseError(
                f"the warehouse {db} is in use by another process (a running load or dbt "
                "build?). Wait for it to finish, then run this again."
            ) from exc
        raise MeterhouseError(f"cannot open the warehouse {db}: {exc}") from exc
    except duckdb.Error as exc:
        raise MeterhouseError(
            f"{db} is not a DuckDB warehouse this version can open ({exc})."
        ) from exc
    try:
        con.execute("set TimeZone = 'UTC'")
        if not read_only:
            con.execute(
                resources.files("meterhouse.warehouse").joinpath("raw_tables.sql").read_text()
            )
        yield con
    finally:
        con.close()


def require_built(con: duckdb.DuckDBPyConnection, what: str, *relations: str) -> None:
    """Refuse, naming `what`, unless every `schema.name` in `relations` exists, as a table
    or a view (the marts of a Spark build are views over its Parquet files)."""
    found = {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }
    if not set(relations) <= found:
        raise MeterhouseError(f"no {what} yet: run 'meterhouse nightly' (or 'build') first.")


@contextmanager
def writing(con: duckdb.DuckDBPyConnection, **tables: object) -> Iterator[None]:
    """One transaction, with `tables` (Arrow tables) registered under their names for its
    statements: committed when the block ends, rolled back on any error, unregistered after."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        con.begin()
        yield
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        for name in tables:
            con.unregister(name)
