"""How a file's columns are read as the canonical event."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from meterhouse.core.reading import read_file_columns
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.events import PARSE_RULES


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    reading = read_file_columns(frame.schema, "f.parquet")
    return frame.select(*reading.columns, reading.any_problem().alias("non_integer"))


BASE = {
    "request_id": ["a", "b"],
    "tenant_id": ["t", "t"],
    "model": ["m", "m"],
    "input_tokens": [1, 2],
    "output_tokens": [1, 2],
}


def test_timestamps_of_any_unit_and_zone_become_utc_microseconds() -> None:
    tokyo = pl.Series([datetime(2026, 10, 1, 9), datetime(2026, 10, 1, 10)]).dt.replace_time_zone(
        "Asia/Tokyo"
    )
    out = canonical(pl.DataFrame({**BASE, "event_at": tokyo.cast(pl.Datetime("ns", "Asia/Tokyo"))}))
    assert out.schema["event_at"] == pl.Datetime("us", "UTC")
    assert out["event_at"].to_list() == [
        datetime(2026, 10, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 1, 1, tzinfo=UTC),
    ]


def test_absent_optional_columns_get_their_defaults() -> None:
    out = canonical(pl.DataFrame({**BASE, "event_at": [datetime(2026, 10, 1)] * 2}))
    assert out["cache_read_tokens"].to_list() == [0, 0]
    assert out["service_tier"].to_list() == ["standard", "standard"]
    assert out["status"].to_list() == ["success", "success"]
    assert out["gpu_id"].null_count() == 2


def test_unsigned_values_beyond_int64_are_flagged_not_wrapped() -> None:
    frame = pl.DataFrame({**BASE, "event_at": [datetime(2026, 10, 1)] * 2}).with_columns(
        input_tokens=pl.Series([1, 2**63 + 5], dtype=pl.UInt64)
    )
    out = canonical(frame)
    assert out["non_integer"].to_list() == [False, True]
    assert out["input_tokens"].to_list() == [1, None]


@pytest.mark.parametrize(
    ("column", "dtype"),
    [("output_tokens", pl.Boolean), ("event_at", pl.Int64), ("model", pl.Float64)],
)
def test_unreadable_types_refuse_the_file(column: str, dtype: pl.DataType) -> None:
    schema = pl.Schema({**dict.fromkeys(BASE, pl.String()), "event_at": pl.Datetime()})
    schema = pl.Schema({**schema, "input_tokens": pl.Int64(), "output_tokens": pl.Int64()})
    schema = pl.Schema({**schema, column: dtype})
    with pytest.raises(MeterhouseError, match=f"column '{column}' has type"):
        read_file_columns(schema, "f.parquet")


def test_served_from_cache_reads_booleans_and_their_text() -> None:
    """A cache hit as a real boolean or as text in any case and spacing; empty, null or absent
    is not a cache hit; other text is flagged under the rule named after the column."""
    at = {"event_at": [datetime(2026, 10, 1)] * 2}
    text = [" TRUE ", "f", "T", "no", "Yes", "1", "0", "false", "", None, "maybe", "2", "y"]
    frame = pl.DataFrame({k: [v[0]] * len(text) for k, v in {**BASE, **at}.items()})
    reading = read_file_columns(frame.with_columns(served_from_cache=pl.Series(text)).schema,
                                "f.csv")  # fmt: skip
    assert set(reading.problems) >= {"invalid_served_from_cache"}
    assert "invalid_served_from_cache" in PARSE_RULES
    out = frame.with_columns(served_from_cache=pl.Series(text)).select(
        *reading.columns, reading.problems["invalid_served_from_cache"].alias("bad")
    )
    assert out["served_from_cache"].to_list() == [
        True, False, True, False, True, True, False, False, False, False, False, False, False
    ]  # fmt: skip
    assert out["bad"].to_list() == [False] * 10 + [True, True, True]

    flags = pl.DataFrame({**BASE, **at, "served_from_cache": [True, None]})
    reading = read_file_columns(flags.schema, "f.parquet")
    assert "invalid_served_from_cache" not in reading.problems
    assert flags.select(*reading.columns)["served_from_cache"].to_list() == [True, False]
    absent = canonical(pl.DataFrame({**BASE, **at}))
    assert absent["served_from_cache"].to_list() == [False, False]


def test_a_number_column_of_cache_hits_refuses_the_file() -> None:
    schema = pl.Schema({**dict.fromkeys(BASE, pl.String()), "event_at": pl.Datetime()})
    schema = pl.Schema({**schema, "input_tokens": pl.Int64(), "output_tokens": pl.Int64(),
                        "served_from_cache": pl.Float64()})  # fmt: skip
    with pytest.raises(MeterhouseError, match=r"'served_from_cache' has type Float64, .* boolean"):
        read_file_columns(schema, "f.parquet")
