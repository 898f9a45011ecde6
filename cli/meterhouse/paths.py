"""Where the dbt project and the shared public data sets are, for a checkout or an install."""

from __future__ import annotations

import os
from pathlib import Path

from meterhouse.errors import MeterhouseError

PROJECT_ENV = "METERHOUSE_PROJECT_DIR"
SHARED_ENV = "METERHOUSE_SHARED_DATA"


def project_dir() -> Path:
    """The folder holding dbt_project.yml: $METERHOUSE_PROJECT_DIR, else this checkout."""
    candidates = [Path(os.environ[PROJECT_ENV])] if os.environ.get(PROJECT_ENV) else []
    candidates.append(Path(__file__).resolve().parents[2])  # cli/meterhouse/ -> repository
    for folder in candidates:
        if (folder / "dbt_project.yml").is_file():
            return folder
    raise MeterhouseError(
        f"cannot find the dbt project (dbt_project.yml). Set ${PROJECT_ENV} to the folder of "
        "the meterhouse checkout."
    )


def shared_data_dir() -> Path | None:
    """The public data sets (../shared/data beside the checkout), if they are there."""
    if os.environ.get(SHARED_ENV):
        folder = Path(os.environ[SHARED_ENV])
    else:
        folder = Path(__file__).resolve().parents[3] / "shared" / "data"
    return folder if folder.is_dir() else None
