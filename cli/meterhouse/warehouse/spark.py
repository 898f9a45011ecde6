"""The `spark` target's side of the warehouse (docs/scale-out.md).

The loader stays the one gate into the warehouse on every target: it checks, deduplicates and
quarantines each export into the DuckDB file's raw tables with the same rules and the same
manifest, so a re-run loads nothing twice. For the `spark` target those raw tables are then
written as Parquet, one folder per table, and dbt-spark reads them as external tables
(macros/spark/raw_sources.sql) to build the same models on Spark.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

SPARK_DIR_ENV = "METERHOUSE_SPARK_DIR"  # profiles.yml's spark target keeps its tables here


def spark_dir(db: Path) -> Path:
    """Where the `spark` target of the warehouse file `db` keeps its tables: beside it."""
    return db.with_name(f"{db.stem}.spark")


def export_raw_layer(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Write every raw table to `folder`/<table>/part-0.parquet, replacing what was there
    (a table at a time: written aside, then swapped in). Returns rows written per table."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = [
        name
        for (name,) in con.sql(
            "select table_name from information_schema.tables "
            "where table_schema = 'raw' order by table_name"
        ).fetchall()
    ]
    written: dict[str, int] = {}
    for name in tables:
        staged = folder / f".{name}.staged"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        target = staged / "part-0.parquet"
        con.execute(f"copy raw.{name} to '{target}' (format parquet, compression zstd)")
        final = folder / name
        shutil.rmtree(final, ignore_errors=True)
        staged.rename(final)
        [(rows,)] = con.sql(f"select count(*) from raw.{name}").fetchall()
        written[name] = int(rows)
    return written
