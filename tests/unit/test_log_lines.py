"""Progress and child output in a log: a line per tenth of the work, no escape codes."""

from __future__ import annotations

from typing import Any

import pytest

from meterhouse.progress import LogLines
from meterhouse.terminal import plain
from meterhouse.warehouse.dbt_output import node_name, phase_lines


def test_a_long_job_logs_a_line_per_tenth_and_verbose_every_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = LogLines("ingest usage_events")
    for done in range(1000):
        report(f"reading file {done}", done, 1000)
    report("deduplicating", 1000, 1000)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 11
    assert lines[0].endswith("ingest usage_events [0%]: reading file 0")
    assert lines[-1].endswith("ingest usage_events [100%]: deduplicating")

    every = LogLines("ingest usage_events", every_step=True)
    for done in range(50):
        every("step", done, 50)
    assert len(capsys.readouterr().err.splitlines()) == 50


def test_dbt_colours_and_links_are_taken_out() -> None:
    coloured = "\x1b[0m15:41:41  1 of 9 OK [\x1b[32mOK\x1b[0m in 0.01s] \x1b]8;;http://x\x1b\\y\x1b]8;;\x1b\\"
    assert plain(coloured) == "15:41:41  1 of 9 OK [OK in 0.01s] y"


def test_a_phase_line_counts_each_status_and_names_a_test_without_its_hash() -> None:
    results: list[dict[str, Any]] = [
        {"unique_id": "model.meterhouse.fct_a", "status": "success", "execution_time": 1.25},
        {"unique_id": "model.meterhouse.fct_b", "status": "error", "execution_time": 0.5},
        {"unique_id": "test.meterhouse.not_null_fct_a_id.6614eb114f", "status": "warn"},
        {"unique_id": "test.meterhouse.unique_fct_a_id.bfa2a62393", "status": "skipped"},
    ]
    assert phase_lines("build", results) == [
        "dbt build, models: 1 pass, 1 error (1.8 s)",
        "dbt build, data tests: 1 warn, 1 skip (0.0 s)",
    ]
    assert node_name("test.meterhouse.not_null_fct_a_id.6614eb114f") == "test not_null_fct_a_id"
    assert node_name("model.meterhouse.fct_a") == "model fct_a"
