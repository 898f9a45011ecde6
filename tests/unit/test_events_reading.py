"""How a file's columns are read as the canonical event."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from meterhouse.core.reading import read_file_columns
from meterhouse.errors import MeterhouseError


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
