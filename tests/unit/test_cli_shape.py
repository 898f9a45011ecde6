"""The command line is the same however it is started: `meterhouse`, `python -m meterhouse`,
`python -m meterhouse.app` (every group registered before the line is parsed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from meterhouse.app import app

GROUPS = ["invoice", "forecast", "export", "sample", "prices", "report", "sources"]


def _groups(help_text: str) -> list[str]:
    return [name for name in GROUPS if f" {name} " in help_text]


@pytest.mark.parametrize("module", ["meterhouse", "meterhouse.app"])
def test_python_dash_m_has_every_group(module: str) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert _groups(listed.stdout) == GROUPS
    report = subprocess.run(
        [sys.executable, "-m", module, "report", "cost", "--help"], capture_output=True,
        text=True, check=False, env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "--month" in report.stdout


def test_every_group_is_registered_on_the_app() -> None:
    names = sorted(group.name or "" for group in app.registered_groups)
    assert names == sorted(GROUPS)
