"""Shared helpers: write real Parquet exports and run the real CLI against real DuckDB files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner, Result

from meterhouse.app import app
from meterhouse.paths import project_dir

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def copy_project(folder: Path) -> Path:
    """The dbt project (its YAML, models, macros, seeds, analyses and data tests, no Python)
    copied into `folder`, for a test that edits it or moves it; returns `folder`."""
    source = project_dir()
    folder.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(source / name, folder / name)
    for name in ("models", "macros", "seeds", "analyses", "tests"):
        shutil.copytree(source / name, folder / name, ignore=shutil.ignore_patterns("*.py"))
    return folder


def event_rows(n: int, prefix: str = "r", **columns: Any) -> pl.DataFrame:
    """n valid canonical events; keyword arguments replace whole columns."""
    base: dict[str, Any] = {
        "request_id": [f"{prefix}{i}" for i in range(n)],
        "event_at": [datetime(2026, 10, 1, 12, i % 60, tzinfo=UTC) for i in range(n)],
        "tenant_id": ["tn_a"] * n,
        "model": ["gpt-4.1"] * n,
        "input_tokens": [100 + i for i in range(n)],
        "output_tokens": [10 + i for i in range(n)],
        "cache_read_tokens": [50] * n,
        "cache_write_tokens": [0] * n,
        "reasoning_tokens": [5] * n,
    }
    base.update(columns)
    return pl.DataFrame(base)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, pl.DataFrame], Path]:
    def _write(name: str, frame: pl.DataFrame) -> Path:
        path = tmp_path / "exports" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path)
        return path

    return _write


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def snapshot(db: Path) -> tuple[list[tuple[Any, ...]], ...]:
    """Everything the loader owns, to show a failed load changed nothing."""
    if not db.exists():
        return ()
    return tuple(
        query(db, f"select * from raw.{table} order by all")
        for table in ("usage_events", "quarantined_events", "load_manifest")
    )


def manifest_totals(db: Path) -> tuple[int, int, int, int]:
    """Rows read, loaded, duplicate and quarantined over every file in the manifest."""
    row = query(
        db,
        "select sum(rows_read), sum(rows_loaded), sum(rows_duplicate), sum(rows_quarantined) "
        "from raw.load_manifest",
    )[0]
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3]))
