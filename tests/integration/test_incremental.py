"""Incremental rating: a late event is picked up, and a full refresh gives the same marts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import event_rows, query, run

Write = Callable[[str, pl.DataFrame], Path]
DAILY = "select * from main.fct_usage_daily order by all"


@pytest.mark.slow
def test_late_event_is_rated_and_full_refresh_agrees(
    tmp_path: Path, db: Path, write: Write
) -> None:
    sample = tmp_path / "sample"
    assert run("generate", "--out", sample, "--days", 5, "--tenants", 4,
               "--events-per-day", 1500, "--seed", 11).exit_code == 0  # fmt: skip
    assert run("nightly", "--events", sample / "events", "--db", db).exit_code == 0
    first = query(db, DAILY)

    # Three days later a gateway flushes requests made on the second day.
    late_day = datetime(2026, 9, 2, 15, 0, tzinfo=UTC)
    late = event_rows(3, "late-", event_at=[late_day] * 3, tenant_id=["tn_0001"] * 3)
    assert run("ingest", write("late.parquet", late), "--db", db).exit_code == 0
    assert run("build", "--db", db).exit_code == 0
    incremental = query(db, DAILY)
    assert incremental != first

    [(daily_input,)] = query(
        db,
        "select sum(input_tokens) from main.fct_usage_daily where usage_date = '2026-09-02'",
    )
    [(events_input,)] = query(
        db,
        "select sum(input_tokens) from raw.usage_events where usage_date = '2026-09-02'",
    )
    assert daily_input == events_input  # the late day was re-rated with its late events
    assert int(late["input_tokens"].sum()) > 0

    assert run("build", "--db", db, "--full-refresh").exit_code == 0
    assert query(db, DAILY) == incremental
