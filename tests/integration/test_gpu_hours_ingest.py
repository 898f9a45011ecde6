"""GPU-hour telemetry through the one loader, in export shapes the generator does not write:
other column names and order, naive and offset timestamps, utilization instead of busy
seconds, integer widths, extra columns, every rule broken once, and re-sends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from meterhouse.schemas.gpu_hours import GPU_HOURS, RULES
from tests.conftest import query, run

Write = Callable[[str, pl.DataFrame], Path]
T0 = datetime(2026, 10, 1, 0)


def _load(path: Path, db: Path) -> str:
    result = run("ingest", "--gpu-hours", path, "--db", db)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_other_names_zones_widths_and_utilization_load_as_the_contract(
    write: Write, db: Path
) -> None:
    frame = pl.DataFrame(
        {
            "Utilization": [0.5, 0.25],
            "GPU_ID": ["g1", "g2"],
            # 00:00 and 01:00 UTC, written in a +05:45 zone
            "Hour": pl.Series([T0, T0.replace(hour=1)])
            .dt.replace_time_zone("UTC")
            .dt.convert_time_zone("Asia/Kathmandu"),
            "powered_s": pl.Series([3600, 1800], dtype=pl.UInt16),
            "node_temperature_c": [61.0, 64.5],  # unknown: kept out, named in the manifest
        }
    )
    _load(write("a.parquet", frame), db)
    assert query(db, "select gpu_id, hour_at, powered_seconds, busy_seconds from raw.gpu_hours "
                     "order by 1") == [
        ("g1", datetime(2026, 10, 1, 0), 3600.0, 1800.0),
        ("g2", datetime(2026, 10, 1, 1), 1800.0, 450.0),
    ]  # fmt: skip
    assert query(db, "select ignored_columns from raw.load_manifest") == [(["node_temperature_c"],)]
    naive = pl.DataFrame(
        {"gpu_id": ["g1"], "hour_at": [T0], "powered_seconds": [3600.0], "busy_seconds": [1800.0]}
    )
    assert "duplicate 1" in _load(write("b.parquet", naive), db)  # same GPU, same UTC hour


BAD = {
    "missing_gpu_id": {"gpu_id": [None]},
    "invalid_gpu_id": {"gpu_id": ["g1\n"]},
    "future_hour_at": {
        "hour_at": [
            datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
            + timedelta(hours=26)
        ]
    },
    "missing_hour_at": {"hour_at": [None]},
    "hour_not_whole": {"hour_at": [T0 + timedelta(minutes=30)]},
    "missing_powered_seconds": {"powered_seconds": [None]},
    "powered_out_of_range": {"powered_seconds": [3601.0]},
    "busy_out_of_range": {"busy_seconds": [3000.0], "powered_seconds": [1200.0]},
    "utilization_out_of_range": {"utilization_ratio": [1.5]},
}


def test_every_gpu_hour_rule_has_a_bad_row_case() -> None:
    assert set(BAD) == {rule.name for rule in RULES}


@pytest.mark.parametrize("rule", sorted(BAD))
def test_a_bad_gpu_hour_is_quarantined_with_its_reason(write: Write, db: Path, rule: str) -> None:
    good = {"gpu_id": ["g1"], "hour_at": [T0], "powered_seconds": [3600.0], "busy_seconds": [5.0],
            "utilization_ratio": [None]}  # fmt: skip
    frame = pl.DataFrame({**good, **BAD[rule]}, schema_overrides={"utilization_ratio": pl.Float64})
    text = _load(write("bad.parquet", frame), db)
    assert "read 1 = loaded 0 + duplicate 0 + quarantined 1" in text
    assert query(db, "select rules_broken from raw.quarantined_gpu_hours") == [(rule,)]


def test_a_conflicting_resend_keeps_the_first_and_events_files_are_refused(
    write: Write, db: Path
) -> None:
    row = {"gpu_id": ["g1"], "hour_at": [T0], "powered_seconds": [3600.0]}
    _load(write("1.parquet", pl.DataFrame({**row, "busy_seconds": [10.0]})), db)
    text = _load(write("2.parquet", pl.DataFrame({**row, "busy_seconds": [20.0]})), db)
    assert "quarantined 1" in text
    assert query(db, "select busy_seconds from raw.gpu_hours") == [(10.0,)]
    [(detail,)] = query(db, "select detail from raw.quarantined_gpu_hours")
    assert detail.startswith("differs in busy_seconds")
    wrong = run("ingest", "--gpu-hours", write("e.parquet", pl.DataFrame({"request_id": ["r"]})),
                "--db", db)  # fmt: skip
    assert wrong.exit_code == 2
    assert "required column(s) gpu_id, hour_at, powered_seconds missing" in " ".join(
        wrong.output.split()
    )
    assert GPU_HOURS.key == ("gpu_id", "hour_at")
