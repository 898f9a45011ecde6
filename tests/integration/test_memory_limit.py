"""Under a deliberately tiny memory limit the nightly job still completes (DuckDB spills to
the warehouse's spill folder, the loader flushes smaller batches) and builds exactly what it
builds with the default budget: every mart, to the last digit."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterhouse.warehouse.memory import MEMORY_ENV, SPILL_ENV
from meterhouse.warehouse.sql_text import duckdb_identifier as quoted
from tests.conftest import query, run

# what differs between two builds of the same data by nature: when they ran
_WHEN = ("loaded_at", "quarantined_at", "changed_at")


def _marts(db: Path) -> dict[str, list[tuple[object, ...]]]:
    tables = query(db, "select table_schema, table_name, list(column_name order by "
                   "ordinal_position) from information_schema.columns where table_schema in "
                   "('main', 'raw') group by all order by all")  # fmt: skip
    return {
        f"{schema}.{name}": query(
            db,
            f"select {', '.join(quoted(c) for c in keep)} "
            f"from {schema}.{quoted(name)} order by all",
        )
        for schema, name, columns in tables
        if (keep := [c for c in columns if c not in _WHEN])
    }


def test_a_tiny_memory_limit_builds_what_the_default_builds(
    costed_sample: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, default = costed_sample
    tiny = tmp_path / "tiny.duckdb"
    monkeypatch.setenv(MEMORY_ENV, "200MB")  # restored after the test (the option sets it)
    monkeypatch.setenv(SPILL_ENV, str(tmp_path / "spill"))
    result = run("--memory-limit", "200MB", "nightly", "--events", folder / "events",
                 "--gpu-hours", folder / "gpu_hours", "--contracts", folder / "contracts",
                 "--db", tiny)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (f"memory: 0.19 GiB (${MEMORY_ENV}), DuckDB 0.09 GiB of it, spilling to "
            f"{tmp_path / 'spill'}") in result.output  # fmt: skip
    built, expected = _marts(tiny), _marts(default)
    assert built.keys() == expected.keys()
    assert len(expected) > 20
    for name, rows in expected.items():
        assert built[name] == rows, name
