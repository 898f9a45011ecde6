"""`meterhouse ingest` on real Parquet files into real DuckDB files, through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from meterhouse.schemas.events import RULES, event_schema
from tests.conftest import event_rows, manifest_totals, query, run, snapshot

Write = Callable[[str, pl.DataFrame], Path]


def test_load_then_reload_is_a_no_op(write: Write, db: Path) -> None:
    path = write("day1.parquet", event_rows(50))
    first = run("ingest", path, "--db", db)
    assert first.exit_code == 0, first.output
    assert "loaded 50 + duplicate 0 + quarantined 0" in first.output
    before = snapshot(db)

    again = run("ingest", path, "--db", db)
    assert again.exit_code == 0, again.output
    assert "already loaded" in again.output
    assert snapshot(db) == before
    assert query(db, "select count(*) from raw.usage_events") == [(50,)]


def test_same_content_under_another_name_is_not_loaded_twice(write: Write, db: Path) -> None:
    frame = event_rows(20)
    run("ingest", write("a/day1.parquet", frame), "--db", db)
    result = run("ingest", write("b/copy.parquet", frame), "--db", db)
    assert result.exit_code == 0
    assert "already loaded as" in result.output
    assert query(db, "select count(*) from raw.usage_events") == [(20,)]


def test_duplicates_within_and_across_files_count_once(write: Write, db: Path) -> None:
    day1 = event_rows(10)
    day1 = pl.concat([day1, day1.slice(0, 3)])  # 3 repeats inside the file
    day2 = pl.concat([event_rows(5, prefix="s"), day1.slice(5, 4)])  # 4 repeats of day 1
    result = run("ingest", write("d1.parquet", day1), write("d2.parquet", day2), "--db", db)
    assert result.exit_code == 0, result.output

    assert query(db, "select count(*), count(distinct request_id) from raw.usage_events") == [
        (15, 15)
    ]
    assert manifest_totals(db) == (13 + 9, 15, 7, 0)
    # a later night repeating a request loaded long ago is still a duplicate
    run("ingest", write("d3.parquet", day1.slice(0, 2)), "--db", db)
    assert manifest_totals(db) == (13 + 9 + 2, 15, 9, 0)
    # tokens are never summed across copies
    assert query(db, "select sum(input_tokens) from raw.usage_events where request_id = 'r0'") == [
        (100,)
    ]


def test_conflicting_repeat_keeps_the_first_and_is_quarantined(write: Write, db: Path) -> None:
    first = event_rows(3)
    changed = first.slice(1, 1).with_columns(output_tokens=pl.lit(999, pl.Int64))
    a = write("a.parquet", first)
    b = write("b.parquet", changed)
    result = run("ingest", b, a, "--db", db)  # path order decides, not argument order
    assert result.exit_code == 0, result.output

    assert query(db, "select output_tokens from raw.usage_events where request_id = 'r1'") == [
        (11,)
    ]
    rows = query(db, "select request_id, rules_broken, detail from raw.quarantined_events")
    assert len(rows) == 1
    request_id, rule, detail = rows[0]
    assert (request_id, rule) == ("r1", "conflicting_duplicate")
    assert "output_tokens" in detail
    assert manifest_totals(db) == (4, 3, 0, 1)


BAD_ROWS: dict[str, dict[str, object]] = {
    "missing_request_id": {"request_id": ""},
    "missing_event_at": {"event_at": None},
    "missing_tenant_id": {"tenant_id": None},
    "unparseable_model": {"model": "gpt 4o"},
    "missing_tokens": {"output_tokens": None},
    "negative_tokens": {"cache_write_tokens": -1},
    "cache_exceeds_input": {"cache_read_tokens": 90, "cache_write_tokens": 20},
    "cache_write_1h_exceeds_cache_write": {"cache_write_tokens": 10, "cache_write_1h_tokens": 20},
    "reasoning_exceeds_output": {"reasoning_tokens": 500},
    "invalid_service_tier": {"service_tier": "premium"},
    "invalid_status": {"status": "exploded"},
    # the rules of tests/hostile/test_event_rules.py, one case each
    "future_event_at": {"event_at": datetime.now(UTC) + timedelta(hours=25)},
    "invalid_request_id": {"request_id": "bad-1\n"},
    "invalid_tenant_id": {"tenant_id": "tn_\x1b[31ma"},
    "invalid_user_id": {"user_id": "u" * 257},
    "invalid_gpu_id": {"gpu_id": "gpu-\u202e10"},
    "invalid_trace_id": {"trace_id": "t\x7f"},
    "too_many_tokens": {"input_tokens": 100_000_001},
}


def test_every_contract_rule_has_a_bad_row_case() -> None:
    assert set(BAD_ROWS) == {rule.name for rule in RULES}


@pytest.mark.parametrize("rule", sorted(BAD_ROWS))
def test_bad_row_goes_to_quarantine_with_its_reason(write: Write, db: Path, rule: str) -> None:
    good = event_rows(4).with_columns(service_tier=pl.lit("standard"), status=pl.lit("success"))
    bad = good.slice(0, 1).with_columns(request_id=pl.lit("bad-1"))
    for column, value in BAD_ROWS[rule].items():
        bad = bad.with_columns(pl.lit(value, dtype=good.schema.get(column)).alias(column))
    good = good.with_columns(pl.lit(None, bad.schema[c]).alias(c) for c in bad.columns
                             if c not in good.columns)  # fmt: skip
    result = run("ingest", write("mixed.parquet", pl.concat([good, bad])), "--db", db)
    assert result.exit_code == 0, result.output

    quarantined = query(db, "select source_row, rules_broken, row_json from raw.quarantined_events")
    assert [(r[0], r[1]) for r in quarantined] == [(4, rule)]
    assert '"tenant_id"' in quarantined[0][2]  # the row's values are kept
    assert query(db, "select count(*) from raw.usage_events") == [(4,)]  # the good rows load
    assert manifest_totals(db) == (5, 4, 0, 1)


def test_fractional_token_counts_are_quarantined_not_rounded(write: Write, db: Path) -> None:
    frame = event_rows(3).with_columns(
        input_tokens=pl.Series([100.0, 101.5, float("nan")]),
        output_tokens=pl.Series([10.0, 11.0, 12.0]),
    )
    assert run("ingest", write("floats.parquet", frame), "--db", db).exit_code == 0
    rules = query(db, "select source_row, rules_broken from raw.quarantined_events order by 1")
    assert [r[0] for r in rules] == [1, 2]
    assert all(r[1].startswith("non_integer_tokens") for r in rules)
    assert query(db, "select input_tokens from raw.usage_events") == [(100,)]


def test_event_at_is_stored_in_utc(write: Write, db: Path) -> None:
    berlin = pl.Series([datetime(2026, 10, 1, 1, 30)]).dt.replace_time_zone("Europe/Berlin")
    frames = {
        "naive.parquet": event_rows(1, "n", event_at=[datetime(2026, 10, 1, 1, 30)]),
        "berlin.parquet": event_rows(1, "b", event_at=berlin),
        "utc_ms.parquet": event_rows(
            1,
            "u",
            event_at=pl.Series([datetime(2026, 10, 1, 1, 30, tzinfo=UTC)]).cast(
                pl.Datetime("ms", "UTC")
            ),
        ),
        "date.parquet": event_rows(1, "d", event_at=[date(2026, 10, 1)]),
    }
    paths = [write(name, frame) for name, frame in frames.items()]
    assert run("ingest", *paths, "--db", db).exit_code == 0
    got = dict(query(db, "select request_id, event_at from raw.usage_events"))
    assert got["n0"] == datetime(2026, 10, 1, 1, 30)  # naive means UTC
    assert got["b0"] == datetime(2026, 9, 30, 23, 30)  # 01:30 CEST is 23:30 UTC the day before
    assert got["u0"] == datetime(2026, 10, 1, 1, 30)
    assert got["d0"] == datetime(2026, 10, 1)
    dates = dict(query(db, "select request_id, usage_date from raw.usage_events"))
    assert dates["b0"] == date(2026, 9, 30)


def test_offset_time_zones_half_floats_and_huge_counts(db: Path, tmp_path: Path) -> None:
    """What pandas and other writers produce: '+05:45' offsets, float16, near-int64 counts."""
    path = tmp_path / "odd_types.parquet"
    table = pa.table({
        "request_id": ["a", "b"],
        "event_at": pa.array([datetime(2026, 10, 1, 1, 0)] * 2, pa.timestamp("us", tz="+05:45")),
        "tenant_id": ["t", "t"],
        "model": ["gpt-4.1", "gpt-4.1"],
        "input_tokens": [10, 10],
        "output_tokens": [1, 1],
        "cache_read_tokens": [0, 2**62],
        "cache_write_tokens": [0, 2**62],  # the sum wraps int64: still "cache exceeds input"
        "score": pa.array([1.5, 2.5], pa.float16()),
    })  # fmt: skip
    pq.write_table(table, path)
    result = run("ingest", path, "--db", db)
    assert result.exit_code == 0, result.output
    assert query(db, "select request_id, event_at from raw.usage_events") == [
        ("a", datetime(2026, 10, 1, 1, 0))  # stored instants are UTC already
    ]
    assert query(db, "select request_id, rules_broken from raw.quarantined_events") == [
        ("b", "too_many_tokens, cache_exceeds_input")  # 2**62 is also above the bound
    ]


def test_column_order_widths_case_and_extra_columns(write: Write, db: Path) -> None:
    frame = event_rows(5).with_columns(
        pl.col("input_tokens").cast(pl.UInt32),
        pl.col("output_tokens").cast(pl.Int16),
        pl.col("cache_read_tokens").cast(pl.Int8),
        tenant_id=pl.lit(7, pl.Int32),  # integer ids are read as strings
        gateway_cost=pl.lit(0.12),
        Service_Tier=pl.lit("Default"),  # OpenAI's name for the standard tier, other case
    )
    frame = frame.select(list(reversed(frame.columns))).drop("reasoning_tokens")
    result = run("ingest", write("odd.parquet", frame), "--db", db)
    assert result.exit_code == 0, result.output
    rows = query(
        db,
        "select tenant_id, service_tier, status, reasoning_tokens, sum(input_tokens) "
        "from raw.usage_events group by all",
    )
    assert rows == [("7", "standard", "success", 0, sum(range(100, 105)))]
    assert query(db, "select ignored_columns from raw.load_manifest") == [(["gateway_cost"],)]


def test_loaded_rows_satisfy_the_pandera_contract(write: Write, db: Path) -> None:
    mixed = pl.concat([event_rows(20), event_rows(1, "x", input_tokens=[-1])])
    assert run("ingest", write("m.parquet", mixed), "--db", db).exit_code == 0
    loaded = pl.read_database(
        "select * from raw.usage_events", __import__("duckdb").connect(str(db), read_only=True)
    ).with_columns(pl.col("event_at").dt.replace_time_zone("UTC"))
    event_schema().validate(loaded, lazy=True)
    assert loaded.height == 20


def test_changed_file_is_refused_unless_allowed(write: Write, db: Path) -> None:
    path = write("day.parquet", event_rows(5))
    run("ingest", path, "--db", db)
    before = snapshot(db)
    write("day.parquet", event_rows(8))  # the exporter rewrote it with more rows
    refused = run("ingest", path, "--db", db)
    assert refused.exit_code == 2
    assert "content has changed" in refused.output
    assert "--allow-changed" in refused.output
    assert snapshot(db) == before

    allowed = run("ingest", path, "--db", db, "--allow-changed")
    assert allowed.exit_code == 0, allowed.output
    assert manifest_totals(db) == (5 + 8, 8, 5, 0)


def _not_parquet(tmp: Path) -> Path:
    path = tmp / "notes.parquet"
    path.write_text("request_id,event_at\nr1,2026-10-01\n")
    return path


def _truncated(tmp: Path) -> Path:
    good = tmp / "full.parquet"
    event_rows(200).write_parquet(good)
    path = tmp / "truncated.parquet"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    good.unlink()
    return path


def _missing_column(tmp: Path) -> Path:
    path = tmp / "no_tenant.parquet"
    event_rows(3).drop("tenant_id").write_parquet(path)
    return path


def _wrong_type(tmp: Path) -> Path:
    path = tmp / "boolean_tokens.parquet"
    event_rows(3).with_columns(pl.col("input_tokens") > 0).write_parquet(path)
    return path


def _integer_timestamps(tmp: Path) -> Path:  # epoch numbers: seconds? ms? the file cannot say
    path = tmp / "epoch_time.parquet"
    event_rows(3).with_columns(pl.col("event_at").dt.epoch("s")).write_parquet(path)
    return path


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "not parquet": (_not_parquet, "not a readable Parquet file"),
    "truncated": (_truncated, "not a readable Parquet file"),
    "missing column": (_missing_column, "required column(s) tenant_id missing"),
    "wrong type": (_wrong_type, "column 'input_tokens' has type Boolean"),
    "integer timestamps": (_integer_timestamps, "column 'event_at' has type Int64"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_refused_and_nothing_changes(
    write: Write, db: Path, tmp_path: Path, case: str
) -> None:
    run("ingest", write("earlier.parquet", event_rows(5, "e")), "--db", db)
    before = snapshot(db)
    make, message = BAD_FILES[case]
    folder = tmp_path / "tonight"
    folder.mkdir()
    event_rows(5, "good").write_parquet(folder / "a_good.parquet")  # a good file in the same call
    bad = make(folder)

    result = run("ingest", folder, "--db", db)
    assert result.exit_code == 2
    assert message in result.output
    assert bad.name in result.output
    assert "Traceback" not in result.output
    assert snapshot(db) == before


def test_missing_path_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    result = run("ingest", tmp_path / "nope", "--db", db)
    assert result.exit_code == 2
    assert "no such file or folder" in result.output
    assert not db.exists() or snapshot(db)[0] == []


def test_db_from_environment(write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "from_env.duckdb"
    monkeypatch.setenv("METERHOUSE_DB", str(target))
    assert run("ingest", write("x.parquet", event_rows(2))).exit_code == 0
    assert query(target, "select count(*) from raw.usage_events") == [(2,)]
