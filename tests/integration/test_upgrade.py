"""A warehouse built by the commit before the app schema existed (OLD: its records in raw, no
schema version) opens with this code: it is upgraded in place once, with a backup copy and one
message, and the invoices issued before come out byte-equal.

The old code runs from `git archive OLD`, with this environment's Python and packages and the
old checkout's dbt project. Under CI (a clone with full history) the test must run: a missing
git or commit fails it instead of skipping it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import query, run

pytestmark = pytest.mark.slow

OLD = "f325352"  # the commit before the app schema and the schema version
REPO = Path(__file__).resolve().parents[2]
MONTH = "2026-09"


def _old_checkout(folder: Path) -> Path:
    """The project as of OLD, extracted into `folder`."""
    git = shutil.which("git")
    found = git and subprocess.run(
        [git, "-C", str(REPO), "cat-file", "-e", f"{OLD}^{{commit}}"],
        capture_output=True, check=False,
    )  # fmt: skip
    if not git or not found or found.returncode != 0:
        why = (
            f"needs git and commit {OLD} in {REPO} (a clone with full history: git fetch "
            "--unshallow)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    archive = subprocess.run(
        [git, "-C", str(REPO), "archive", "--format=tar", OLD], capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _old(checkout: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The old CLI, in a child process with the old package first on the path."""
    return _python(checkout, "-m", "meterhouse.app", *args)


def _python(checkout: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(checkout / "cli"),
           "METERHOUSE_PROJECT_DIR": str(checkout)}  # fmt: skip
    env.pop("METERHOUSE_DB", None)
    return subprocess.run(
        [sys.executable, *map(str, args)],
        env=env, capture_output=True, text=True, check=False, cwd=checkout,
    )  # fmt: skip


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_warehouse_of_the_commit_before_upgrades_once_and_keeps_its_issued_invoices(
    tmp_path: Path,
) -> None:
    checkout = _old_checkout(tmp_path / "old")
    where = _python(checkout, "-c", "import meterhouse.paths as p; print(p.__file__); "
                 "print(p.project_dir())")  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert all(Path(line).is_relative_to(checkout) for line in where.stdout.splitlines())

    sample, db = tmp_path / "sample", tmp_path / "warehouse.duckdb"
    steps = [
        ("generate", "--out", sample, "--days", "35", "--tenants", "3", "--events-per-day",
         "400", "--start", "2026-09-01"),
        ("nightly", "--events", sample / "events", "--contracts", sample / "contracts",
         "--db", db),
        ("invoice", "issue", "--month", MONTH, "--db", db),
        ("invoice", "--month", MONTH, "--format", "json", "--db", db, "--out", tmp_path / "before"),
    ]  # fmt: skip
    for step in steps:
        done = _old(checkout, *step)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
    assert query(db, "select count(*) from raw.issued_invoices")[0][0] == 3
    before = _files(tmp_path / "before")
    assert len(before) == 3

    opened = run("status", "--db", db)
    assert opened.exit_code == 0, opened.output
    backup = tmp_path / "warehouse.backup-v1.duckdb"
    upgraded = [line for line in opened.stderr.splitlines() if "upgraded the warehouse" in line]
    assert upgraded == [
        f"upgraded the warehouse {db} from schema version 1 to 2; the file as it was is kept "
        f"as {backup}. Run 'meterhouse build' (or the nightly job) before issuing or "
        "reconciling: they read marts the next build makes."
    ]
    assert query(backup, "select count(*) from raw.issued_invoices")[0][0] == 3
    assert query(db, "select count(*) from app.issued_invoices")[0][0] == 3
    assert query(db, "select version from app.schema_version") == [(2,)]
    assert query(db, "select count(*) from information_schema.tables where table_schema = 'raw' "
                     "and table_name like 'issued%'") == [(0,)]  # fmt: skip

    built = run("build", "--contracts", sample / "contracts", "--db", db)
    assert built.exit_code == 0, built.output
    assert ("the rating inputs changed since the loaded days were rated (no record of what the "
            "rated days were rated with): this build re-rates the loaded days from 2026-10-01 "
            "on (the months issued for every tenant keep the rating they were issued with)"
            ) in built.stderr  # fmt: skip
    again = run("invoice", "--month", MONTH, "--format", "json", "--db", db,
                "--out", tmp_path / "after")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert _files(tmp_path / "after") == before

    for later in (built, again, run("status", "--db", db)):
        assert "upgraded the warehouse" not in later.stderr
    assert sorted(p.name for p in tmp_path.glob("warehouse.backup*")) == [backup.name]
