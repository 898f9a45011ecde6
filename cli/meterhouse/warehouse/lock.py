"""One writer or many readers per warehouse, across meterhouse processes.

DuckDB lets one process open a file for writing, and a reader that holds the file open makes
a writer's open fail: a plain `status` during the nightly's dbt build used to fail the build.
So every meterhouse process takes an advisory lock (flock) on `<warehouse stem>.dbt/lock`
before it opens the warehouse: shared to read, exclusive to write (held across a dbt child's
whole run). A process that finds it taken waits, saying once on stderr who holds it, and gives
up with a clear message after $METERHOUSE_LOCK_WAIT seconds (default 900). The lock is the
kernel's: a killed holder releases it. Taking it again in the same process is free.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from meterhouse.errors import MeterhouseError
from meterhouse.terminal import printable_line

LOCK_WAIT_ENV = "METERHOUSE_LOCK_WAIT"
_held: dict[str, _Held] = {}  # lock file -> what this process holds


@dataclass
class _Held:
    fd: int
    exclusive: bool


def dbt_dir(db: Path) -> Path:
    """The warehouse's own folder beside it (dbt's project, target and logs; this lock)."""
    return db.with_name(f"{db.stem}.dbt")


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = printable_line(os.read(fd, 500).decode("utf-8", "replace").strip())
    return text or "another meterhouse command reading it"


def _sign(fd: int) -> None:
    os.ftruncate(fd, 0)
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    command = " ".join(["meterhouse", *sys.argv[1:2]])
    os.pwrite(fd, f"{command} (pid {os.getpid()}) since {since}".encode(), 0)


@contextmanager
def warehouse_lock(db: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold the warehouse's lock (see the module docstring) for the block."""
    path = dbt_dir(db) / "lock"
    key = str(path)
    held = _held.get(key)
    if held is not None and (held.exclusive or not exclusive):
        yield  # already held as needed by this process
        return
    if held is not None:  # a reader of this process that now writes: convert, then back
        _acquire(held.fd, db, exclusive=True)
        held.exclusive = True
        _sign(held.fd)
        try:
            yield
        finally:
            os.ftruncate(held.fd, 0)
            fcntl.flock(held.fd, fcntl.LOCK_SH)
            held.exclusive = False
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if exclusive:
            raise
        yield  # a read-only copy (e.g. a read-only mount): no writer of it to wait for
        return
    try:
        _acquire(fd, db, exclusive)
        if exclusive:
            _sign(fd)
        _held[key] = _Held(fd, exclusive)
        try:
            yield
        finally:
            del _held[key]
            if exclusive:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, db: Path, exclusive: bool) -> None:
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    wait = float(os.environ.get(LOCK_WAIT_ENV) or 900)
    print(
        f"waiting: the warehouse {db} is in use by {_holder(fd)}; going on when it is done "
        f"(up to {wait:g} s, ${LOCK_WAIT_ENV}; Ctrl-C stops waiting).",
        file=sys.stderr,
        flush=True,
    )
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise MeterhouseError(
                    f"the warehouse {db} is still in use by {_holder(fd)} after {wait:g} s: "
                    f"run this again when it is done (or raise ${LOCK_WAIT_ENV})."
                ) from None
            time.sleep(0.2)
