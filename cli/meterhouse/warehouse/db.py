"""Open the embedded DuckDB warehouse the same way everywhere.

One place decides the session settings (UTC, so a date never depends on the machine's zone),
brings a warehouse of an older schema version up to date (warehouse/upgrade.py), creates the
tables the loader and the CLI own, and turns DuckDB's file errors into messages a user can act
on. It also holds the two helpers every module uses to read and write: `frame` (a query's rows
as a Polars frame, through Arrow) and `transaction`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.lock import warehouse_lock
from meterhouse.warehouse.memory import duckdb_settings
from meterhouse.warehouse.upgrade import (
    LATEST,
    back_up,
    check_version,
    record_version,
    run_steps,
    stored_version,
)

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
    write. Writing upgrades a warehouse of an older schema version, keeping a backup
    (warehouse/upgrade.py), and creates the tables the loader and the CLI own; a read-only
    open of an older warehouse upgrades it first, through a brief writable open."""
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
    if read_only:  # an older warehouse is upgraded first, by a brief writable open
        with warehouse_lock(db, exclusive=False), _session(db, read_only=True) as con:
            if check_version(db, stored_version(con)):
                yield con
                return
        if not (os.access(db, os.W_OK) and os.access(db.parent, os.W_OK)):
            raise MeterhouseError(
                f"the warehouse {db} has an older schema version and cannot be upgraded "
                "here (the file or its folder is read-only): open it once with any "
                "meterhouse command where it can be written (a backup copy is kept)."
            )
        with connect(db):
            pass
    with warehouse_lock(db, exclusive=not read_only):
        with _session(db, read_only=read_only) as con:
            version = None if read_only else stored_version(con)
            if read_only or check_version(db, version):
                if not read_only:
                    with transaction(con):
                        _create_tables(con)
                yield con
                return
            con.execute("checkpoint")  # the file then holds everything: its copy needs no WAL
        assert version is not None
        backup = back_up(db, version)
        with _session(db) as con:
            with transaction(con):
                run_steps(con, version)
                _create_tables(con)
            print(f"upgraded the warehouse {db} from schema version {version} to {LATEST}; "
                  f"the file as it was is kept as {backup}. Run 'meterhouse build' (or the "
                  "nightly job) before issuing or reconciling: they read marts the next build "
                  "makes.", file=sys.stderr)  # fmt: skip
            yield con


@contextmanager
def _session(db: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection to `db` in UTC, within the memory budget (warehouse/memory.py),
    DuckDB's file errors turned into messages."""
    try:
        con = duckdb.connect(str(db), read_only=read_only, config=duckdb_settings(db))
    except duckdb.Error as exc:
        message = describe_duckdb_error(db, exc)
        if message is None:
            message = f"{db} is not a DuckDB warehouse this version can open ({exc})."
        raise MeterhouseError(message) from exc
    try:
        con.execute("set TimeZone = 'UTC'")
        yield con
    except duckdb.Error as exc:
        message = describe_duckdb_error(db, exc)
        if message is None:
            raise
        raise MeterhouseError(message) from exc
    finally:
        con.close()


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The tables the loader and the CLI own (raw_tables.sql), and the schema version."""
    con.execute(resources.files("meterhouse.warehouse").joinpath("raw_tables.sql").read_text())
    record_version(con)


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
def transaction(con: duckdb.DuckDBPyConnection, **tables: object) -> Iterator[None]:
    """One transaction, with `tables` (Arrow tables or Polars frames) registered under their
    names for its statements: committed when the block ends, rolled back on any error,
    unregistered after."""
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


def as_arrow(table: pl.DataFrame) -> pa.Table:
    """`table` as Arrow in Polars' own layout (string views), for DuckDB to read: no copy.
    Handed a Polars frame, DuckDB converts it to the oldest layout first, copying every string
    (for a load of LiteLLM's 1.2 KB metadata JSON a row, that copy cost as much as parsing it)."""
    return table.to_arrow(compat_level=pl.CompatLevel.newest())


def with_table(con: duckdb.DuckDBPyConnection, table: pl.DataFrame, sql: str) -> None:
    """Run `sql` (an insert or any statement without rows), which reads `table` as `_frame`,
    for this statement only: DuckDB finds the frame by that name among this function's
    variables (its replacement scan). Unlike `register`, which a transaction's statements
    share, nothing outlives the statement: DuckDB keeps a table registered inside a
    transaction, even unregistered, until the transaction ends, so a load's batches would all
    stay in memory (decision 0029). (`from_arrow(...).query(...)` keeps nothing either, but
    reports a failed insert, a full disk, as an aborted transaction.)"""
    _frame = as_arrow(table)  # read by name by DuckDB
    con.execute(sql)


def rows_with_table(con: duckdb.DuckDBPyConnection, table: pl.DataFrame, sql: str) -> pl.DataFrame:
    """The rows of the query `sql`, which reads `table` as `_frame` (as in `with_table`), as a
    Polars frame."""
    _frame = as_arrow(table)  # read by name by DuckDB
    rows = pl.from_arrow(con.sql(sql).to_arrow_table())
    assert isinstance(rows, pl.DataFrame)
    return rows


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> pl.DataFrame:
    """The rows of `sql` (with its bound `params`) as a Polars frame, through Arrow, so DECIMAL
    money stays DECIMAL."""
    rows = pl.from_arrow(con.sql(sql, params=params).to_arrow_table())
    assert isinstance(rows, pl.DataFrame)
    return rows
