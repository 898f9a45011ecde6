"""How much memory meterhouse may use: one budget for the whole process tree, set once.

The budget comes from `--memory-limit` (the root option, before the command), else
$METERHOUSE_MEMORY_LIMIT, else SHARE of the memory actually available: the machine's, or its
cgroup's limit when lower (v2 `memory.max`, v1 `memory.limit_in_bytes`), so a container gets a
share of its own limit, not of the host's. DuckDB is told to stay within the budget less a
reserve for what it does not count (the Python process, Polars and Arrow frames of the loader,
dbt's interpreter); past its limit it spills to the spill folder: $METERHOUSE_SPILL_DIR, else
`<warehouse>.tmp` beside the warehouse file (DuckDB's own default). Every DuckDB that runs
our work gets the same settings: the warehouse's sessions (warehouse/db.py), the loader's
throwaway in-memory connections, and dbt's (the profile reads them from the environment the
CLI gives its child, warehouse/dbt.py). Only one of the CLI and its dbt child holds the
warehouse at a time, so the two together stay within the one budget. See
docs/decisions/0029.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from meterhouse.errors import MeterhouseError

MEMORY_ENV = "METERHOUSE_MEMORY_LIMIT"
SPILL_ENV = "METERHOUSE_SPILL_DIR"
# the environment the CLI gives dbt: profiles.yml reads each DuckDB setting from its variable
PROFILE_ENV = {
    "memory_limit": "METERHOUSE_DUCKDB_MEMORY_LIMIT",
    "temp_directory": "METERHOUSE_DUCKDB_TEMP_DIRECTORY",
}
SHARE = 0.75  # of the memory available, when no limit is given
RESERVE = 3 << 29  # at most this much (1.5 GiB) is kept for what DuckDB does not count
FIXED = 1 << 28  # of the reserve: the interpreter, its libraries, a batch being read
# A valid row waiting in the loader costs about 1.2 KiB at its flush (measured: the frame, its
# Arrow copy, the keys looked up); half a million rows are enough to amortise a flush's scan.
ROW_BYTES = 2 << 10
MIN_FLUSH_ROWS, MAX_FLUSH_ROWS = 1 << 14, 1 << 19
_UNITS = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12,
    "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
Settings = dict[str, str | bool | int | float | list[str]]  # DuckDB's connect(config=...)
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*")
_MIN_DUCKDB = 32 * 2**20  # DuckDB cannot work in less


def parse_size(text: str) -> int:
    """Bytes of a size as a person writes it: 4GB, 512MiB, 2g, 1.5 GiB, 800000000."""
    found = _SIZE.fullmatch(text.lower())
    if not found or found.group(2) not in _UNITS:
        raise MeterhouseError(
            f"memory limit {text!r} is not a size: give a number with a unit, e.g. 4GB, "
            f"512MiB or 2g (--memory-limit or ${MEMORY_ENV})."
        )
    size = int(float(found.group(1)) * _UNITS[found.group(2)])
    if size < 2 * _MIN_DUCKDB:
        raise MeterhouseError(
            f"memory limit {text!r} is below {2 * _MIN_DUCKDB // 2**20} MiB, too little to run "
            f"in: give more (--memory-limit or ${MEMORY_ENV})."
        )
    return size


def available_memory(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The machine's memory, or its cgroup's limit when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in (cgroup / "memory.max", cgroup / "memory" / "memory.limit_in_bytes"):
        try:
            text = limit_file.read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # v2 writes "max" when there is no limit
            total = min(total, int(text))
    return total


def budget() -> int:
    """The bytes the process tree may use: $METERHOUSE_MEMORY_LIMIT (which --memory-limit
    sets), else SHARE of the memory available."""
    given = os.environ.get(MEMORY_ENV, "").strip()
    return parse_size(given) if given else int(available_memory() * SHARE)


def reserve(total: int) -> int:
    """The part of a budget of `total` bytes kept for what DuckDB does not count: at most
    RESERVE, at most half."""
    return min(total // 2, RESERVE)


def duckdb_limit(total: int) -> int:
    """DuckDB's part of a budget of `total` bytes: all but the reserve."""
    return max(_MIN_DUCKDB, total - reserve(total))


def flush_rows() -> int:
    """How many valid rows the loader may hold before inserting them (warehouse/ingest.py):
    what the reserve holds beyond FIXED at ROW_BYTES a row, at most MAX_FLUSH_ROWS, at least
    MIN_FLUSH_ROWS. Fewer rows a flush means more flushes, each a scan of the loaded keys."""
    rows = (reserve(budget()) - FIXED) // ROW_BYTES
    return max(MIN_FLUSH_ROWS, min(MAX_FLUSH_ROWS, rows))


def spill_dir(db: Path | None) -> Path:
    """Where DuckDB spills past its limit: $METERHOUSE_SPILL_DIR, else `<db>.tmp` (a
    connection of no warehouse: meterhouse-spill in the system's temporary folder)."""
    given = os.environ.get(SPILL_ENV, "").strip()
    if given:
        return Path(given).resolve()
    if db is None:
        return Path(tempfile.gettempdir()) / "meterhouse-spill"
    return db.with_name(db.name + ".tmp")


def duckdb_settings(db: Path | None = None) -> Settings:
    """The memory settings of every DuckDB connection working for the warehouse `db` (None: a
    throwaway in-memory connection of the loader)."""
    return {
        "memory_limit": f"{duckdb_limit(budget()) // 2**20}MiB",
        "temp_directory": str(spill_dir(db)),
    }


def describe(db: Path | None) -> str:
    """One line for a person: the budget, DuckDB's part of it, and the spill folder."""
    total = budget()
    source = f"${MEMORY_ENV}" if os.environ.get(MEMORY_ENV, "").strip() else (
        f"{SHARE:.0%} of the {available_memory() / 2**30:.1f} GiB available")  # fmt: skip
    return (
        f"memory: {total / 2**30:.2f} GiB ({source}), DuckDB {duckdb_limit(total) / 2**30:.2f} "
        f"GiB of it, spilling to {spill_dir(db)}"
    )
