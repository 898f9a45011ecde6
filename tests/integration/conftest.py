"""One generated sample run through the real nightly job, events and GPU telemetry, shared by
the tests that only read the warehouse it builds (reconciliation, GPU cost, margin)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run


@pytest.fixture(scope="session")
def costed_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sample folder, warehouse): 35 days from 2026-09-01, 6 tenants, 3,000 events a day."""
    root = tmp_path_factory.mktemp("costed")
    folder, db = root / "sample", root / "warehouse.duckdb"
    made = run("generate", "--out", folder, "--days", 35, "--tenants", 6,
               "--events-per-day", 3000, "--start", "2026-09-01")  # fmt: skip
    assert made.exit_code == 0, made.output
    result = run("nightly", "--events", folder / "events", "--gpu-hours", folder / "gpu_hours",
                 "--contracts", folder / "contracts", "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder, db
