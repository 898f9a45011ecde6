"""The `spark` target's side of the warehouse (docs/scale-out.md).

The loader stays the one gate into the warehouse on every target: it checks, deduplicates and
quarantines each export into the DuckDB file's raw tables with the same rules and the same
manifest, so a re-run loads nothing twice. For the `spark` target those raw tables, and the
app's own records (schema app: issued invoices, stored forecasts), are then written as
Parquet, one folder per schema and table, and dbt-spark reads them as external tables
(macros/spark/raw_sources.sql) to build the same models on Spark. After a build, Spark writes
every mart as Parquet (macros/spark/publish_marts.sql), and the commands that read marts read
those files with DuckDB.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import duckdb

from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.memory import duckdb_settings
from meterhouse.warehouse.sql_text import (
    duckdb_file,
    duckdb_identifier,
    is_plain_identifier,
    sql_string,
)

Target = Literal["duckdb", "spark"]
TARGET_ENV = "METERHOUSE_TARGET"  # profiles.yml's target
SPARK_DIR_ENV = "METERHOUSE_SPARK_DIR"  # profiles.yml's spark target keeps its tables here


def spark_dir(db: Path) -> Path:
    """Where the `spark` target of the warehouse file `db` keeps its tables: beside it."""
    return db.with_name(f"{db.stem}.spark")


# The schemas dbt reads as sources: exported for Spark as <spark_dir>/<schema>/<table>.
SOURCE_SCHEMAS = ("raw", "app")


def export_raw_layer(con: duckdb.DuckDBPyConnection, folder: Path, schema: str = "raw") -> None:
    """Write every table of `schema` (one of SOURCE_SCHEMAS) to `folder`/<table>/part-0.parquet,
    replacing what was there (a table at a time: written aside, then swapped in). A table's
    name becomes a folder and an identifier on Spark: one that is not a plain identifier is
    refused."""
    assert schema in SOURCE_SCHEMAS
    folder.mkdir(parents=True, exist_ok=True)
    tables = [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? order by table_name",
            [schema],
        ).fetchall()
    ]
    for name in tables:
        if not is_plain_identifier(name):
            raise MeterhouseError(
                f"the warehouse has a {schema} table named {name!r}: a {schema} table's name "
                "must be letters, digits and underscores to be exported for Spark. Rename or "
                "drop it."
            )
        staged = folder / f".{name}.staged"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        con.execute(  # COPY ... TO binds its file name
            f"copy {schema}.{duckdb_identifier(name)} to ? (format parquet, compression zstd)",
            [str((staged / "part-0.parquet").absolute())],
        )
        final = folder / name
        shutil.rmtree(final, ignore_errors=True)
        staged.rename(final)


def _parquet_files(table: Path) -> list[Path]:
    """The data files of a Parquet folder written by the export or by Spark (Hadoop's hidden
    files, `.` and `_`, are not data)."""
    return sorted(
        p for p in table.glob("*.parquet") if p.is_file() and not p.name.startswith((".", "_"))
    )


@contextmanager
def spark_marts(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only DuckDB session over the Spark build of `db`: `raw.<table>` and
    `app.<table>` over the tables Spark read, `main.<mart>` over the marts Spark published, so
    the commands that read the warehouse read the Spark build unchanged."""
    folder = spark_dir(db)
    marts = folder / "marts"
    if not marts.is_dir():
        raise MeterhouseError(
            f"no Spark build of {db} (looked for {marts}): run 'meterhouse build --target spark' "
            "first."
        )
    con = duckdb.connect(config=duckdb_settings(db))
    try:
        con.execute("set TimeZone = 'UTC'; create schema raw; create schema app")
        layers = [(schema, folder / schema) for schema in SOURCE_SCHEMAS] + [("main", marts)]
        for schema, tables in layers:
            if not tables.is_dir():
                continue
            for table in sorted(p for p in tables.iterdir() if p.is_dir()):
                # only the folders the export and publish_marts write: a table or mart name
                if not is_plain_identifier(table.name) or not (files := _parquet_files(table)):
                    continue
                # DuckDB binds no parameter in a create view: the file names as literals
                listed = ", ".join(sql_string(duckdb_file(f)) for f in files)
                con.execute(
                    f"create view {schema}.{duckdb_identifier(table.name)} as "
                    f"select * from read_parquet([{listed}])"
                )
        yield con
    finally:
        con.close()
