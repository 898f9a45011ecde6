"""A file is loaded in batches (JSON Lines by blocks of lines, Parquet by row batches) and
valid rows are inserted a bounded number at a time: the warehouse must hold exactly what a
load of the whole at once holds. Here the blocks and flushes are made tiny, so one small file
crosses many of them, with repeats and conflicts falling in other batches than their first."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from meterhouse.warehouse import export_files, ingest
from tests.conftest import event_rows, query, run

TABLES = (
    "select * exclude (loaded_at, source_path, modified_ns) from raw.load_manifest order by all",
    "select * from raw.usage_events order by all",
    "select * exclude (quarantined_at) from raw.quarantined_events order by all",
    "select usage_date, first_file_id, last_file_id, row_count from raw.changed_days order by all",
)


def _files(folder: Path) -> Path:
    folder.mkdir(parents=True)
    events = event_rows(60)
    repeats = pl.concat([
        events.slice(3, 1),  # a duplicate of a row many batches earlier
        events.slice(5, 1).with_columns(output_tokens=pl.lit(999, pl.Int64)),  # a conflict
        event_rows(1, prefix="bad", model=["gpt 4o"]),  # a bad row
    ])  # fmt: skip
    pl.concat([events, repeats]).with_columns(
        pl.col("event_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ).write_ndjson(folder / "a.jsonl")
    event_rows(30, prefix="p").vstack(events.slice(10, 2)).write_parquet(folder / "b.parquet")
    return folder


def _load(db: Path, folder: Path) -> list[list[tuple[object, ...]]]:
    result = run("ingest", folder, "--db", db)
    assert result.exit_code == 0, result.output
    return [query(db, sql) for sql in TABLES]


def test_a_load_in_tiny_batches_stores_what_a_whole_load_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _files(tmp_path / "exports")
    whole = _load(tmp_path / "whole.duckdb", folder)
    monkeypatch.setattr(export_files, "BLOCK_BYTES", 700)  # a few lines a block
    monkeypatch.setattr(export_files, "BATCH_ROWS", 7)
    monkeypatch.setattr(ingest, "flush_rows", lambda: 5)
    batched = _load(tmp_path / "batched.duckdb", folder)
    assert batched == whole
    manifest = query(tmp_path / "batched.duckdb",
                     "select rows_read, rows_loaded, rows_duplicate, rows_quarantined "
                     "from raw.load_manifest order by file_id")  # fmt: skip
    # a.jsonl: 63 read = 60 + 1 duplicate + 2 quarantined (the conflict, the bad model);
    # b.parquet: its last two rows are a.jsonl's
    assert manifest == [(63, 60, 1, 2), (32, 30, 2, 0)]
    assert len(whole[3]) == 1  # one day, recorded once for the load
