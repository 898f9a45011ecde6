"""Incremental rating: a late event is picked up, and a full refresh gives the same marts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
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


@pytest.mark.slow
def test_a_hold_that_empties_a_day_removes_it_and_a_release_restores_it(
    db: Path, write: Write
) -> None:
    """A change without a new file (a hold, a release) re-rates its day through
    raw.changed_days, even when the day is left with no event at all."""
    night = pl.concat([
        event_rows(5, "a-"),  # 1 October
        event_rows(1, "only-", event_at=[datetime(2026, 10, 2, 9, tzinfo=UTC)], tenant_id=["tn_b"]),
    ])  # fmt: skip
    assert run("ingest", write("night.parquet", night), "--db", db).exit_code == 0
    assert run("build", "--db", db).exit_code == 0
    first = query(db, DAILY)
    days = "select distinct usage_date from main.fct_usage_daily order by 1"
    assert [str(d) for (d,) in query(db, days)] == ["2026-10-01", "2026-10-02"]

    held = run("quarantine", "--request-id", "only-0", "--reason", "test", "--db", db)
    assert held.exit_code == 0, held.output
    assert run("build", "--db", db).exit_code == 0
    assert [str(d) for (d,) in query(db, days)] == ["2026-10-01"]  # the emptied day is gone
    incremental = query(db, DAILY)
    assert run("build", "--db", db, "--full-refresh").exit_code == 0
    assert query(db, DAILY) == incremental

    released = run("quarantine", "--release", "--request-id", "only-0", "--db", db)
    assert released.exit_code == 0, released.output
    assert run("build", "--db", db).exit_code == 0
    restored = query(db, DAILY)
    rated_through = [r[-1] for r in restored]
    assert set(rated_through) == {3}  # the load, the hold and the release: changes 1, 2, 3
    assert [r[:-1] for r in restored] == [r[:-1] for r in first]


@pytest.mark.slow
def test_the_events_tests_read_the_days_rated_and_full_check_reads_every_row(
    db: Path, write: Write
) -> None:
    """A build's data tests on the loaded events read the days it rated (decision 0030), so
    a night costs its own days; a bad row on a day no change touched is found by
    --full-check."""
    assert run("ingest", write("oct1.parquet", event_rows(5, "a-")), "--db", db).exit_code == 0
    assert run("build", "--db", db).exit_code == 0
    # an old day's row broken behind the loader's back (a hand edit of the warehouse file):
    # its time moved off its usage_date, which bills nothing differently
    with duckdb.connect(str(db)) as con:
        con.execute("update raw.usage_events set event_at = event_at + interval 2 day "
                    "where request_id = 'a-0'")  # fmt: skip
    oct2 = event_rows(3, "b-", event_at=[datetime(2026, 10, 2, 9, tzinfo=UTC)] * 3)
    assert run("ingest", write("oct2.parquet", oct2), "--db", db).exit_code == 0
    night = run("build", "--db", db)
    assert night.exit_code == 0, night.output  # 2 October's rows checked, and they are good

    full = run("build", "--db", db, "--full-check")
    assert full.exit_code != 0
    assert "assert_usage_date_is_utc_date_of_event_at" in full.output, full.output
