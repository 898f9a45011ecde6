"""Deduplication rules on small frames: first copy wins, history wins, conflicts are named."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from meterhouse.core.dedup import classify_repeats, is_new_row
from meterhouse.schemas.events import EVENTS
from meterhouse.schemas.gpu_hours import GPU_HOURS


def rows(
    ids: list[str], output: list[int], file_id: int = 1, cached: list[bool] | None = None
) -> pl.DataFrame:
    n = len(ids)
    return pl.DataFrame(
        {
            "request_id": ids,
            "event_at": [datetime(2026, 10, 1)] * n,
            "tenant_id": ["t"] * n,
            "model": ["m"] * n,
            "service_tier": ["standard"] * n,
            "input_tokens": [10] * n,
            "output_tokens": output,
            "cache_read_tokens": [0] * n,
            "cache_write_tokens": [0] * n,
            "cache_write_1h_tokens": [0] * n,
            "reasoning_tokens": [0] * n,
            "served_from_cache": cached or [False] * n,
            "file_id": [file_id] * n,
            "source_row": list(range(n)),
        }
    )


def test_first_copy_in_load_order_is_new() -> None:
    load = rows(["a", "b", "a", "c", "b"], [1, 2, 1, 3, 9])
    new = load.select(is_new_row(EVENTS, load.clear())).to_series()
    assert new.to_list() == [True, True, False, True, False]


def test_repeats_are_duplicates_or_conflicts_against_the_first_copy() -> None:
    load = rows(["a", "b", "a", "b"], [1, 2, 1, 9])
    new = load.select(is_new_row(EVENTS, load.clear())).to_series()
    repeats = classify_repeats(EVENTS, load, new, load.clear())
    assert repeats.select("source_row", "is_duplicate", "differs_in", "original_row").rows() == [
        (2, True, "", 0),
        (3, False, "output_tokens", 1),
    ]


def test_a_resend_that_turns_a_call_into_a_cache_hit_is_a_conflict() -> None:
    """Whether the gateway's cache served a request decides its cost: a copy that says
    otherwise is not the same request, and the first copy keeps counting."""
    load = rows(["a", "a", "b", "b"], [1, 1, 2, 2], cached=[False, True, True, True])
    new = load.select(is_new_row(EVENTS, load.clear())).to_series()
    repeats = classify_repeats(EVENTS, load, new, load.clear())
    assert repeats.select("source_row", "is_duplicate", "differs_in").rows() == [
        (1, False, "served_from_cache"),
        (3, True, ""),
    ]


def test_a_copy_already_in_the_warehouse_wins() -> None:
    earlier = rows(["a"], [5], file_id=7)
    load = rows(["a", "a", "z"], [5, 6, 1], file_id=8)
    new = load.select(is_new_row(EVENTS, earlier)).to_series()
    assert new.to_list() == [False, False, True]
    repeats = classify_repeats(EVENTS, load, new, earlier)
    assert repeats.select("is_duplicate", "original_file_id").rows() == [(True, 7), (False, 7)]


def test_every_row_is_new_or_a_repeat_exactly_once() -> None:
    load = rows([f"r{i % 7}" for i in range(50)], [i % 3 for i in range(50)])
    earlier = rows(["r1", "r5"], [1, 2], file_id=0)
    new = load.select(is_new_row(EVENTS, earlier)).to_series()
    repeats = classify_repeats(EVENTS, load, new, earlier)
    assert new.sum() + repeats.height == load.height
    assert new.sum() == 5  # r0, r2, r3, r4, r6
    assert repeats.get_column("original_row").null_count() == 0


def test_a_composite_key_is_one_key_gpu_and_hour() -> None:
    hour = [datetime(2026, 10, 1, 0), datetime(2026, 10, 1, 1)]
    load = pl.DataFrame(
        {
            "gpu_id": ["g1", "g1", "g2", "g1"],
            "hour_at": [hour[0], hour[1], hour[0], hour[0]],
            "powered_seconds": [3600.0, 3600.0, 3600.0, 1800.0],
            "busy_seconds": [10.0, 20.0, 30.0, 10.0],
            "file_id": [1, 1, 1, 2],
            "source_row": [0, 1, 2, 0],
        }
    )
    earlier = load.head(1).with_columns(file_id=pl.lit(0))
    new = load.select(is_new_row(GPU_HOURS, earlier)).to_series()
    assert new.to_list() == [False, True, True, False]  # same GPU or same hour is not enough
    repeats = classify_repeats(GPU_HOURS, load, new, earlier)
    assert repeats.select("source_row", "is_duplicate", "differs_in").rows() == [
        (0, True, ""),
        (0, False, "powered_seconds"),
    ]
