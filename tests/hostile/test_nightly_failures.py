"""What the nightly does when one mart fails (docs/decisions/0013): a mart billing does not
depend on is named, the billing marts, status and the forecast still run, exit 1; a failure
upstream of the invoices keeps the load and exits 2. The failures are real dbt failures, in a
copy of the project with one broken node added."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project, event_rows, query

pytestmark = pytest.mark.slow
MEANS = Path(sys.executable).with_name("meterhouse")


def _project_with(tmp_path: Path, relative: str, sql: str) -> Path:
    copy = copy_project(tmp_path / "project")
    (copy / relative).write_text(sql)
    return copy


def _nightly(tmp_path: Path, project: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "exports").mkdir()
    event_rows(60, tenant_id=[f"tn_{i % 3}" for i in range(60)]).write_parquet(
        tmp_path / "exports" / "day.parquet"
    )
    db = tmp_path / "warehouse.duckdb"
    env = {**os.environ, "METERHOUSE_PROJECT_DIR": str(project)}
    done = subprocess.run([MEANS, "nightly", "--events", tmp_path / "exports", "--db", db],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    return done, db


def test_a_failing_mart_billing_does_not_depend_on_is_named_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    project = _project_with(
        tmp_path, "models/marts/forecasting/fct_broken_report.sql",
        "select error('broken on purpose') as x from {{ ref('fct_usage_daily') }}",
    )  # fmt: skip
    done, db = _nightly(tmp_path, project)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    assert "these marts did not build: model fct_broken_report; the billing marts did" in (
        done.stderr
    )
    assert query(db, "select count(*) from main.fct_invoices")[0][0] == 3
    assert query(db, "select count(*) from app.usage_forecasts")[0][0] > 0  # forecast ran
    assert "token forecasts from" in done.stdout


def test_a_failure_upstream_of_the_invoices_keeps_the_load_and_exits_2(tmp_path: Path) -> None:
    project = _project_with(
        tmp_path, "tests/dbt/assert_broken_on_purpose.sql",
        "select * from {{ ref('int_usage_priced_daily') }}",  # fails on any usage
    )  # fmt: skip
    done, db = _nightly(tmp_path, project)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the billing marts did not build: test assert_broken_on_purpose")
    assert "The loaded files are kept" in last
    assert query(db, "select count(*) from raw.usage_events")[0][0] == 60
    assert "Traceback" not in done.stderr
