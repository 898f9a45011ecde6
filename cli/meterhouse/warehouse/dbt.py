"""Run the dbt project against the warehouse file.

dbt runs in a child process: dbt-duckdb keeps its DuckDB connection open for the life of the
process, which would lock the warehouse against the next step of the same command, and dbt
keeps global state between invocations.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from meterhouse.errors import MeterhouseError
from meterhouse.paths import project_dir
from meterhouse.warehouse.db import DB_ENV, connect


def _dbt_executable() -> str:
    beside = Path(sys.executable).with_name("dbt")
    found = str(beside) if beside.exists() else shutil.which("dbt")
    if not found:
        raise MeterhouseError("dbt is not installed in this environment; run 'make demo' first.")
    return found


def run_dbt(command: str, db: Path, extra: Sequence[str] = ()) -> None:
    """`dbt <command>` on the DuckDB file `db`; raises when any model or test fails."""
    folder = project_dir()
    with connect(db):  # creates the raw tables the sources name, on a new or older warehouse
        pass
    args = [_dbt_executable(), command, "--project-dir", str(folder), "--profiles-dir",
            str(folder), *extra]  # fmt: skip
    env = {**os.environ, DB_ENV: str(db)}  # profiles.yml reads the file from here
    sys.stdout.flush()
    done = subprocess.run(args, env=env, cwd=folder, check=False)
    if done.returncode != 0:
        raise MeterhouseError(
            f"dbt {command} failed (exit {done.returncode}); the lines above name the model or "
            "test. The loaded events are kept; fix the cause and run 'meterhouse build' again."
        )
