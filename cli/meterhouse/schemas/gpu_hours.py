"""GPU-hour telemetry of the self-hosted fleet: the second input contract.

One row per GPU and clock hour: how long the GPU was powered and how long it was busy (or its
utilization). Loaded by the same loader as the events (`meterhouse ingest --gpu-hours`), with
the same quarantine, deduplication on (gpu_id, hour_at) and idempotency. The GPU cost mapping
(docs/gpu-cost.md) prices every powered hour and allocates it to the requests served on that
GPU in that hour. `docs/gpu-hour-contract.md` describes the same columns and rules for people;
a test keeps the two in step.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from meterhouse.schemas.dataset import Column, Dataset, Rule, future_rule, id_rules

SECONDS_PER_HOUR = 3600
# As for events (schemas/events.py): telemetry dated more than a day after its load is refused.
FUTURE_HORIZON = timedelta(days=1)

COLUMNS: tuple[Column, ...] = (
    Column("gpu_id", "id", True, "The GPU, as the events' gpu_id and the GPU inventory name it."),
    Column(
        "hour_at", "timestamp", True, "Start of the clock hour, UTC.",
        other_names=("hour", "hour_start"),
    ),
    Column(
        "powered_seconds", "number", True, "Seconds of the hour the GPU was powered (0-3600).",
        other_names=("powered_s", "uptime_seconds"),
    ),
    Column(
        "busy_seconds", "number", False, "Seconds of the hour the GPU was serving requests.",
        other_names=("busy_s",),
    ),
    Column(
        "utilization_ratio", "number", False,
        "Busy share of the powered time (0-1); gives busy_seconds when that is absent.",
        other_names=("utilization", "gpu_utilization"),
    ),
)  # fmt: skip


def _bad_number(name: str) -> pl.Expr:
    return pl.col(name).is_nan().fill_null(False)


def _outside(name: str, low: float, high: pl.Expr | float) -> pl.Expr:
    value = pl.col(name)
    return (_bad_number(name) | (value < low) | (value > high)).fill_null(False)


RULES: tuple[Rule, ...] = (
    Rule(
        "missing_gpu_id",
        pl.col("gpu_id").is_null() | (pl.col("gpu_id").str.strip_chars() == ""),
        "gpu_id is null or empty",
    ),
    *id_rules(COLUMNS),
    Rule("missing_hour_at", pl.col("hour_at").is_null(), "hour_at is null"),
    future_rule("future_hour_at", "hour_at", FUTURE_HORIZON),
    Rule(
        "hour_not_whole",
        (pl.col("hour_at").dt.truncate("1h") != pl.col("hour_at")).fill_null(False),
        "hour_at is not the start of a clock hour",
    ),
    Rule(
        "missing_powered_seconds",
        pl.col("powered_seconds").is_null() | _bad_number("powered_seconds"),
        "powered_seconds is null or not a number",
    ),
    Rule(
        "powered_out_of_range",
        _outside("powered_seconds", 0, SECONDS_PER_HOUR),
        f"powered_seconds is below 0 or above {SECONDS_PER_HOUR}",
    ),
    Rule(
        "busy_out_of_range",
        _outside("busy_seconds", 0, pl.col("powered_seconds")),
        "busy_seconds is not a number, below 0, or above powered_seconds",
    ),
    Rule(
        "utilization_out_of_range",
        _outside("utilization_ratio", 0, 1),
        "utilization_ratio is not a number, below 0 or above 1",
    ),
)

GPU_HOURS = Dataset(
    name="gpu_hours",
    columns=COLUMNS,
    rules=RULES,
    key=("gpu_id", "hour_at"),
    compared=("powered_seconds", "busy_seconds"),
    quarantine_table="raw.quarantined_gpu_hours",
    quarantine_ids=("gpu_id", "hour_at"),
    derived=(
        pl.coalesce(
            pl.col("busy_seconds"), pl.col("utilization_ratio") * pl.col("powered_seconds")
        ).alias("busy_seconds"),
    ),
    day=pl.col("hour_at").dt.date(),
    what="GPU hour",
)
