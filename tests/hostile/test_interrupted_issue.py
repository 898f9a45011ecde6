"""Interrupted issuing: a kill or Ctrl-C after `invoice issue` committed, before the marts
were refreshed. Re-running completes the refresh and says the month was already issued; the
message on Ctrl-C says what was kept; killing meterhouse leaves no dbt holding the warehouse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from meterhouse.warehouse.db import connect
from meterhouse.warehouse.invoices import issue_month
from tests.conftest import event_rows, query, run

pytestmark = pytest.mark.slow
MEANS = Path(sys.executable).with_name("meterhouse")


def _warehouse(root: Path) -> Path:
    (root / "exports").mkdir()
    sept = event_rows(40, prefix="s", tenant_id=[f"tn_{i % 4}" for i in range(40)],
                      event_at=[datetime(2026, 9, 3, 10, i) for i in range(40)])  # fmt: skip
    octo = event_rows(40, prefix="o", tenant_id=[f"tn_{i % 4}" for i in range(40)])
    sept.write_parquet(root / "exports" / "sept.parquet")
    octo.write_parquet(root / "exports" / "oct.parquet")
    db = root / "warehouse.duckdb"
    done = run("nightly", "--events", root / "exports", "--db", db)
    assert done.exit_code == 0, done.output
    return db


def _statuses(db: Path, month: str) -> set[str]:
    return {s for (s,) in query(db, "select distinct status from main.fct_invoices "
                                    f"where invoice_month = date '{month}-01'")}  # fmt: skip


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _wait_for_dbt(process: subprocess.Popen[Any]) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for child in _children(process.pid):
            if "dbt" in Path(f"/proc/{child}/cmdline").read_text(errors="replace"):
                return child
        assert process.poll() is None, "meterhouse ended before its dbt child was seen"
        time.sleep(0.05)
    raise AssertionError("no dbt child within 120 s")


def test_rerun_after_an_issue_that_was_not_refreshed(tmp_path: Path) -> None:
    db = _warehouse(tmp_path)
    with connect(db) as con:  # what a kill right after the commit leaves
        done = issue_month(con, datetime(2026, 9, 1).date(), [], False, "meterhouse",
                           datetime(2026, 12, 1))  # fmt: skip
    assert len(done.issued) == 4
    assert _statuses(db, "2026-09") == {"draft"}  # the marts were not refreshed
    again = run("invoice", "issue", "--month", "2026-09", "--db", db)
    assert again.exit_code == 0, again.output
    assert "were issued before" in again.output
    assert _statuses(db, "2026-09") == {"issued"}
    issued = query(db, "select count(*) from app.issued_invoices")[0][0]
    assert issued == 4  # nothing issued twice


def test_killing_meterhouse_kills_its_dbt_and_the_rerun_completes(tmp_path: Path) -> None:
    db = _warehouse(tmp_path)
    issuing = subprocess.Popen([MEANS, "invoice", "issue", "--month", "2026-10", "--db", db],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    dbt = _wait_for_dbt(issuing)
    issuing.send_signal(signal.SIGKILL)
    issuing.wait()
    deadline = time.monotonic() + 20
    while _alive(dbt) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(dbt), "dbt outlived the meterhouse that started it"
    duckdb.connect(str(db)).close()  # nobody holds the warehouse
    again = run("invoice", "issue", "--month", "2026-10", "--db", db)
    assert again.exit_code == 0, again.output
    assert "were issued before" in again.output
    assert _statuses(db, "2026-10") == {"issued"}


def test_ctrl_c_during_the_refresh_says_what_was_kept(tmp_path: Path) -> None:
    db = _warehouse(tmp_path)
    issuing = subprocess.Popen([MEANS, "invoice", "issue", "--month", "2026-10", "--db", db],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    _wait_for_dbt(issuing)
    issuing.send_signal(signal.SIGINT)
    _, stderr = issuing.communicate(timeout=60)
    assert issuing.returncode == 130, stderr
    assert "were issued and are kept" in stderr
    assert "nothing of the unfinished step was kept" not in stderr
    assert query(db, "select count(*) from app.issued_invoices")[0][0] == 4
