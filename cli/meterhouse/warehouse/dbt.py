"""Run the dbt project against the warehouse file, in this process."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from meterhouse.errors import MeterhouseError
from meterhouse.paths import project_dir
from meterhouse.warehouse.db import DB_ENV


def run_dbt(command: str, db: Path, extra: Sequence[str] = ()) -> None:
    """`dbt <command>` on the DuckDB file `db`; raises when any model or test fails."""
    from dbt.cli.main import dbtRunner  # dbt is slow to import; only commands that build pay

    folder = project_dir()
    previous = os.environ.get(DB_ENV)
    os.environ[DB_ENV] = str(db)  # profiles.yml reads the file from here
    try:
        result = dbtRunner().invoke(
            [command, "--project-dir", str(folder), "--profiles-dir", str(folder), *extra]
        )
    finally:
        if previous is None:
            del os.environ[DB_ENV]
        else:
            os.environ[DB_ENV] = previous
    if not result.success:
        reason = f" ({result.exception})" if result.exception else ""
        raise MeterhouseError(
            f"dbt {command} failed{reason}; the lines above name the model or test. The loaded "
            "events are kept; fix the cause and run 'meterhouse build' again."
        )
