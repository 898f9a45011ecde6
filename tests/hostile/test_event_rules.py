"""The rules at the door, through the real CLI on real Parquet files: an id that prints as
another, a token count that would overflow the sums, an event dated in the future. Each bad
row is quarantined with its rule, the other tenant's rows in the same file load, and the
manifest's read = loaded + duplicate + quarantined holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import event_rows, manifest_totals, query, run

Write = Callable[[str, pl.DataFrame], Path]
INT64_MAX = 2**63 - 1


def _load(write: Write, db: Path, frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    result = run("ingest", write("night.parquet", frame), "--db", db)
    assert result.exit_code == 0, result.output
    return query(db, "select source_row, tenant_id, rules_broken from raw.quarantined_events")


def _night(suspect: dict[str, Any], dtypes: dict[str, pl.DataType] | None = None) -> pl.DataFrame:
    """Three good events of tn_b, then one event of tn_a with `suspect` values (row 3)."""
    others = event_rows(3, "b-", tenant_id=["tn_b"] * 3)
    row = event_rows(1, "a-", tenant_id=["tn_a"])
    for column, value in suspect.items():
        row = row.with_columns(pl.Series(column, [value], dtype=(dtypes or {}).get(column)))
    others = others.with_columns(
        pl.lit(None, row.schema[c]).alias(c) for c in row.columns if c not in others.columns
    )
    frame = pl.concat([others.select(row.columns), row], how="vertical_relaxed")
    return frame.with_columns(pl.col(c).cast(t) for c, t in (dtypes or {}).items())


def _outcome(db: Path, quarantined: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """Rows read, whether read = loaded + duplicates + quarantined, rows loaded, tn_b's events
    loaded, and (source row, rule) of each quarantined row."""
    read, loaded, duplicate, bad = manifest_totals(db)
    [(others,)] = query(db, "select count(*) from raw.usage_events where tenant_id = 'tn_b'")
    return (
        read,
        read == loaded + duplicate + bad,
        loaded,
        others,
        [(row, rules) for row, _, rules in quarantined],
    )


def _expected(rule: str | None) -> tuple[Any, ...]:
    """Four rows read and accounted for; tn_b's three always load; tn_a's suspect row loads,
    or is quarantined (row 3) by `rule`."""
    return (4, True, 4, 3, []) if rule is None else (4, True, 3, 3, [(3, rule)])


ID_CASES = {
    "newline at the end": ("tn_a\n", "invalid_tenant_id"),
    "ANSI colour escape": ("\x1b[31mtn_a", "invalid_tenant_id"),
    "right-to-left override": ("tn_\u202ea", "invalid_tenant_id"),
    "first strong isolate": ("tn_\u2068a", "invalid_tenant_id"),
    "line separator": ("tn\u2028a", "invalid_tenant_id"),
    "C1 control": ("tn\x9ba", "invalid_tenant_id"),
    "257 characters": ("t" * 257, "invalid_tenant_id"),
    "256 characters": ("t" * 256, None),
    "odd but valid": ("tn/../a [1] 'x' \"y\" %d ü 中文 a b", None),
}


@pytest.mark.parametrize("case", sorted(ID_CASES))
def test_tenant_ids(write: Write, db: Path, case: str) -> None:
    value, rule = ID_CASES[case]
    quarantined = _load(write, db, _night({"tenant_id": value}))
    assert _outcome(db, quarantined) == _expected(rule)
    if rule is not None:  # the quarantine keeps the id exactly as it came
        assert quarantined[0][1] == value
    else:
        [(stored,)] = query(db, "select tenant_id from raw.usage_events where request_id = 'a-0'")
        assert stored == value


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("request_id", "a-0\n", "invalid_request_id"),
        ("user_id", "u\x1b[2J", "invalid_user_id"),
        ("gpu_id", "gpu-\u202e01", "invalid_gpu_id"),
        ("trace_id", "x" * 257, "invalid_trace_id"),
        ("trace_id", "x" * 256, None),
        ("gpu_id", "   ", None),  # blank optional id: not reported, stored as null
    ],
)
def test_other_id_columns(
    write: Write, db: Path, column: str, value: str, rule: str | None
) -> None:
    assert _outcome(db, _load(write, db, _night({column: value}))) == _expected(rule)
    if column == "gpu_id" and rule is None:
        assert query(db, "select gpu_id from raw.usage_events where tenant_id = 'tn_a'") == [
            (None,)
        ]


@pytest.mark.parametrize(
    ("column", "value", "dtype", "rule"),
    [
        ("input_tokens", 100_000_000, pl.Int64, None),
        ("input_tokens", 100_000_001, pl.Int64, "too_many_tokens"),
        ("output_tokens", INT64_MAX, pl.Int64, "too_many_tokens"),
        ("input_tokens", 100_000_001, pl.Int32, "too_many_tokens"),
        ("input_tokens", 100_000_000, pl.UInt64, None),
        ("input_tokens", INT64_MAX, pl.UInt64, "too_many_tokens"),
        ("input_tokens", 2**64 - 1, pl.UInt64, "non_integer_tokens, missing_tokens"),  # > int64
        ("input_tokens", 127, pl.Int8, None),
        ("reasoning_tokens", 100_000_001, pl.Int64, "too_many_tokens, reasoning_exceeds_output"),
    ],
)
def test_token_bound(
    write: Write, db: Path, column: str, value: int, dtype: pl.DataType, rule: str | None
) -> None:
    quarantined = _load(write, db, _night({column: value}, {column: dtype}))
    assert _outcome(db, quarantined) == _expected(rule)


@pytest.mark.parametrize(("ahead", "rule"), [(23, None), (25, "future_event_at")])
def test_future_events(write: Write, db: Path, ahead: int, rule: str | None) -> None:
    when = datetime.now(UTC) + timedelta(hours=ahead)
    assert _outcome(db, _load(write, db, _night({"event_at": when}))) == _expected(rule)


def test_gpu_hours_share_the_id_and_future_rules(write: Write, db: Path) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    frame = pl.DataFrame(
        {
            "gpu_id": ["g1", "g2\n", "g3", "g4"],
            "hour_at": [hour, hour, hour + timedelta(hours=23), hour + timedelta(hours=26)],
            "powered_seconds": [3600.0] * 4,
        }
    )
    result = run("ingest", "--gpu-hours", write("gpu.parquet", frame), "--db", db)
    assert result.exit_code == 0, result.output
    assert query(
        db, "select source_row, rules_broken from raw.quarantined_gpu_hours order by 1"
    ) == [
        (1, "invalid_gpu_id"),
        (3, "future_hour_at"),
    ]
    assert query(db, "select gpu_id from raw.gpu_hours order by 1") == [("g1",), ("g3",)]
    assert manifest_totals(db) == (4, 2, 0, 2)
