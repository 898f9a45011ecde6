"""Faults end in one clear line, not a traceback: a full disk, a warehouse in use, a damaged
warehouse file; and a reader never breaks a writer."""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import Result

from tests.conftest import copy_project, event_rows, run

pytestmark = pytest.mark.slow
MEANS = Path(sys.executable).with_name("meterhouse")


def _one_error_line(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for word in words:
        assert word.lower() in errors[0].lower(), errors[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    (root / "exports").mkdir()
    tenants = [f"tn_{i % 5}" for i in range(200)]
    event_rows(200, tenant_id=tenants).write_parquet(root / "exports" / "day.parquet")
    db = root / "warehouse.duckdb"
    done = run("nightly", "--events", root / "exports", "--db", db)
    assert done.exit_code == 0, done.output
    return db


@pytest.fixture
def full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on a 64 KiB tmpfs; where mounting is not allowed, writes under it fail with
    an injected ENOSPC."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True, check=False).returncode == 0  # fmt: skip
    if not mounted:
        real = pathlib.Path.write_bytes

        def full(self: Path, data: bytes) -> int:  # type: ignore[override]
            if folder in self.parents and len(data) > 1024:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
            return real(self, data)

        monkeypatch.setattr(pathlib.Path, "write_bytes", full)
    (folder / "filler").write_bytes(b"x" * 1000)
    yield folder
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)


def test_invoices_on_a_full_disk(built: Path, full_disk: Path) -> None:
    out = full_disk / "invoices"
    done = run("invoice", "--month", "2026-10", "--db", built, "--out", out)
    _one_error_line(done, "no space left")
    assert [p.name for p in out.iterdir()] == []  # nothing half-written, no staging left


def test_focus_export_on_a_full_disk_leaves_no_temporary_file(built: Path, full_disk: Path) -> None:
    assert run("invoice", "issue", "--month", "2026-10", "--db", built).exit_code in (0, 1)
    done = run("export", "focus", "--month", "2026-10", "--db", built,
               "--out", full_disk / "focus.csv")  # fmt: skip
    if done.exit_code == 0:  # it fitted: make it not fit
        (full_disk / "focus.csv").unlink()
        (full_disk / "more").write_bytes(b"x" * 60_000)
        done = run("export", "focus", "--month", "2026-10", "--db", built,
                   "--out", full_disk / "focus.csv")  # fmt: skip
    _one_error_line(done, "no space left")
    assert sorted(p.name for p in full_disk.iterdir() if p.name.endswith(".tmp")) == []


def test_a_warehouse_held_by_another_program_is_named_as_in_use(built: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); time.sleep(60)", str(built)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        done = run("status", "--db", built)
        _one_error_line(done, "in use by another process", f"PID {holder.pid}")
    finally:
        holder.kill()
        holder.wait()


def test_in_use_only_when_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "lockers"
    folder.mkdir()
    db = folder / "warehouse.duckdb"
    db.write_bytes(b"not a warehouse at all" * 1000)
    done = run("status", "--db", db)
    assert done.exit_code == 2
    assert "in use" not in done.output
    assert "Traceback" not in done.output


def test_a_meterhouse_writer_makes_a_reader_wait_then_say_so(built: Path) -> None:
    code = ("import sys, time; from pathlib import Path; "
            "from meterhouse.warehouse.lock import warehouse_lock\n"
            "with warehouse_lock(Path(sys.argv[1]), exclusive=True):\n"
            "    print('held', flush=True); time.sleep(float(sys.argv[2]))")  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", code, str(built), "30"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        env = {**os.environ, "METERHOUSE_LOCK_WAIT": "1"}
        done = subprocess.run([MEANS, "status", "--db", built], capture_output=True, text=True,
                              env=env, check=False)  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "waiting: " in done.stderr
        assert f"(pid {holder.pid})" in done.stderr.splitlines()[-1]
        assert "Traceback" not in done.stderr
    finally:
        holder.kill()
        holder.wait()
    short = subprocess.Popen([sys.executable, "-c", code, str(built), "2"],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert short.stdout is not None
    assert short.stdout.readline().strip() == "held"
    done = subprocess.run([MEANS, "status", "--db", built], capture_output=True, text=True,
                          check=False)  # fmt: skip
    short.wait()
    assert done.returncode == 0, done.stderr
    assert "waiting: " in done.stderr


def test_status_during_a_build_never_breaks_the_build(built: Path, tmp_path: Path) -> None:
    log = (tmp_path / "build.log").open("w")
    build = subprocess.Popen([MEANS, "build", "--db", built, "--full-refresh"],
                             stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    statuses = []
    while build.poll() is None:
        statuses.append(subprocess.run([MEANS, "status", "--db", built], capture_output=True,
                                       text=True, check=False))  # fmt: skip
        time.sleep(0.5)
    log.close()
    assert build.returncode == 0, (tmp_path / "build.log").read_text()
    assert statuses
    assert all(s.returncode == 0 for s in statuses), [s.stderr for s in statuses]


def _damaged_copy(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "damaged.duckdb"
    copy.write_bytes(built.read_bytes())
    size = copy.stat().st_size
    with copy.open("r+b") as handle:
        for offset in range(size // 3, size - 8192, 262144):
            handle.seek(offset)
            handle.write(os.urandom(4096))
    return copy


@pytest.mark.parametrize(
    "command",
    [["status"], ["invoice", "--month", "2026-10", "--out", "{tmp}/inv"],
     ["report", "margin", "--month", "2026-10"], ["export", "focus", "--month", "2026-10",
     "--out", "{tmp}/f.csv"], ["ingest", "{tmp}"]],
)  # fmt: skip
def test_a_damaged_warehouse_is_named_in_every_command(
    built: Path, tmp_path: Path, command: list[str]
) -> None:
    copy = _damaged_copy(built, tmp_path)
    event_rows(3, prefix="late").write_parquet(tmp_path / "late.parquet")
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    done = run(*args, "--db", copy)
    assert done.exit_code == 2, done.output
    assert "is damaged" in done.output.splitlines()[-1]
    _one_error_line(done, "damaged")


def test_a_lock_taken_while_dbt_starts_ends_in_one_line(built: Path, tmp_path: Path) -> None:
    """Another program opens the warehouse between meterhouse's check and dbt's own open (dbt
    parses the project first): the build ends in one line naming the holder."""
    log = (tmp_path / "build.log").open("w")
    build = subprocess.Popen([MEANS, "build", "--db", built], stdout=log,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not _dbt_children(build.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    holder = duckdb.connect(str(built))  # this test process is the other program
    try:
        _, stderr = build.communicate(timeout=300)
    finally:
        holder.close()
    log.close()
    assert build.returncode == 2, (tmp_path / "build.log").read_text() + stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: dbt build stopped: the warehouse"), stderr
    assert f"in use by another process (PID {os.getpid()})" in last


def _dbt_children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(c) for c in path.read_text().split()] if path.exists() else []
    return [c for c in children if "dbt" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")]


def test_a_checkout_whose_path_holds_a_quote_builds(tmp_path: Path) -> None:
    """dbt-duckdb loads seeds from a path literal: the checkout's own path never reaches it."""
    checkout = copy_project(tmp_path / "it's the checkout")
    (tmp_path / "exports").mkdir()
    event_rows(20).write_parquet(tmp_path / "exports" / "day.parquet")
    db = tmp_path / "warehouse.duckdb"
    env = {**os.environ, "METERHOUSE_PROJECT_DIR": str(checkout)}
    done = subprocess.run([MEANS, "nightly", "--events", tmp_path / "exports", "--db", db],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert (db.parent / "warehouse.dbt" / "project" / "models").resolve() == checkout / "models"


def test_ingest_on_a_full_disk_ends_in_one_line_and_keeps_the_warehouse(tmp_path: Path) -> None:
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs as root and must be able to mount a tmpfs: {mounted.stderr!r}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        exports = tmp_path / "exports"
        exports.mkdir()
        event_rows(300).write_parquet(exports / "small.parquet")
        big = event_rows(400_000, prefix="big", tenant_id=[f"tn_{i}" for i in range(400_000)])
        db = folder / "warehouse.duckdb"
        assert run("ingest", exports / "small.parquet", "--db", db).exit_code == 0
        big.write_parquet(exports / "big.parquet")
        done = run("ingest", exports / "big.parquet", "--db", db)
        _one_error_line(done, "no space left")
        with duckdb.connect(str(db), read_only=True) as con:  # the first load is whole
            assert con.execute("select count(*) from raw.usage_events").fetchone() == (300,)
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_warehouse_path_with_a_backslash_is_refused_in_one_line(tmp_path: Path) -> None:
    """DuckDB reads a backslash as a folder separator: it would open another path."""
    folder = tmp_path / "back\\slash"
    folder.mkdir()
    event_rows(3).write_parquet(tmp_path / "day.parquet")
    done = run("ingest", tmp_path / "day.parquet", "--db", folder / "warehouse.duckdb")
    _one_error_line(done, "holds a backslash")
    assert not (tmp_path / "back").exists()


def test_a_tenant_whose_focus_rows_fail_the_check_is_left_out_by_name(
    built: Path, tmp_path: Path
) -> None:
    """A FOCUS mart gone wrong for one tenant leaves that tenant out, by name (exit 1), and
    exports the others; one gone wrong for every row is one error line and no file."""
    db, out = tmp_path / "copy.duckdb", tmp_path / "focus.csv"
    shutil.copyfile(built, db)
    with duckdb.connect(str(db)) as con:
        con.execute("update main.fct_focus_billing set BillingCurrency = 'usd' "
                    "where SubAccountId = 'tn_1'")  # fmt: skip
    done = run("export", "focus", "--month", "2026-10", "--db", db, "--out", out)
    assert done.exit_code == 1, done.output
    assert "Traceback" not in done.output
    assert "refused tn_1: no FOCUS rows written for 2026-10: BillingCurrency fails" in done.output
    tenants = set(pl.read_csv(out, infer_schema=False)["SubAccountId"])
    assert tenants == {"tn_0", "tn_2", "tn_3", "tn_4"}

    out.unlink()
    with duckdb.connect(str(db)) as con:
        con.execute("alter table main.fct_focus_billing drop column ConsumedUnit")
    _one_error_line(run("export", "focus", "--month", "2026-10", "--db", db, "--out", out),
                    "ConsumedUnit", "nothing was written")  # fmt: skip
    assert not out.exists()
