"""Open the embedded DuckDB warehouse the same way everywhere.

One place decides the session settings (UTC, so a date never depends on the machine's zone),
creates the raw tables the loader owns, and turns DuckDB's file errors into messages a user
can act on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.lock import warehouse_lock

DEFAULT_DB = "meterhouse.duckdb"
DB_ENV = "METERHOUSE_DB"


def resolve_db(db: Path | None) -> Path:
    """--db wins, then $METERHOUSE_DB, then meterhouse.duckdb in the working directory."""
    return (db or Path(os.environ.get(DB_ENV) or DEFAULT_DB)).resolve()


# DuckDB's words when another process holds the file (and only then).
_LOCKED = ("could not set lock on file", "conflicting lock is held")
# DuckDB's words for a damaged file, at open or at any later read.
DAMAGED = ("computed checksum", "corrupt database", "invalid block")


def describe_duckdb_error(db: Path | None, exc: Exception) -> str | None:
    """A one-line message for a DuckDB error a user can act on (the file in use by another
    process, damaged, or the disk full), or None for anything else (a bug)."""
    return describe_duckdb_text(db, str(exc) or type(exc).__name__)


def describe_duckdb_text(db: Path | None, text: str) -> str | None:
    """`describe_duckdb_error` for DuckDB's words found in text (e.g. dbt's log)."""
    name = f"the warehouse {db}" if db else "a warehouse file"
    lower = text.lower()
    if any(words in lower for words in _LOCKED):
        pid = re.search(r"\(PID \d+\)", text)
        holder = f"{pid.group()} " if pid else ""
        return (
            f"{name} is in use by another process {holder}(not a meterhouse "
            "command: they wait for each other). Stop it or wait for it, then run this again."
        )
    if any(words in lower for words in DAMAGED):
        first = next(line for line in text.splitlines() if any(w in line.lower() for w in DAMAGED))
        return (
            f"{name} is damaged ({first}). Restore it from a backup (or rebuild it "
            "by loading the exports again into a new file); nothing more was written to it."
        )
    if "no space left" in lower:
        return f"no space left on the device of {name}: free some space, then run this again."
    return None


@contextmanager
def connect(db: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, holding its lock (warehouse/lock.py): shared to read, exclusive to
    write. Writing creates the raw tables the loader owns."""
    if read_only and not db.exists():
        raise MeterhouseError(
            f"no warehouse at {db}: run 'meterhouse ingest' or 'meterhouse nightly' first, "
            f"or point --db / ${DB_ENV} at an existing file."
        )
    if not db.parent.is_dir():
        raise MeterhouseError(f"cannot create the warehouse {db}: folder {db.parent} missing.")
    if "\\" in str(db):  # DuckDB reads a backslash in a path as a folder separator
        raise MeterhouseError(
            f"{db}: DuckDB cannot open a warehouse whose path holds a backslash; move it to a "
            "folder without one, or give a path without it."
        )
    with warehouse_lock(db, exclusive=not read_only):
        try:
            con = duckdb.connect(str(db), read_only=read_only)
        except duckdb.Error as exc:
            message = describe_duckdb_error(db, exc)
            if message is None:
                message = f"{db} is not a DuckDB warehouse this version can open ({exc})."
            raise MeterhouseError(message) from exc
        try:
            con.execute("set TimeZone = 'UTC'")
            if not read_only:
                con.execute(
                    resources.files("meterhouse.warehouse").joinpath("raw_tables.sql").read_text()
                )
            yield con
        except duckdb.Error as exc:
            message = describe_duckdb_error(db, exc)
            if message is None:
                raise
            raise MeterhouseError(message) from exc
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
