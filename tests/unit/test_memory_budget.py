"""The memory budget: how a person writes a size, a container's limit found in its cgroup (v1
and v2), and the same settings reaching dbt's child process as the CLI's own DuckDB."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meterhouse.errors import MeterhouseError
from meterhouse.paths import project_dir
from meterhouse.warehouse import memory
from meterhouse.warehouse.dbt import child_env
from meterhouse.warehouse.memory import MEMORY_ENV, PROFILE_ENV, SPILL_ENV
from tests.conftest import run


@pytest.mark.parametrize(
    ("text", "size"),
    [("4GB", 4 * 10**9), ("512MiB", 512 * 2**20), ("2g", 2 * 10**9), ("1.5 GiB", 3 * 2**29),
     ("800000000", 800_000_000)],
)  # fmt: skip
def test_a_size_is_read_as_written(text: str, size: int) -> None:
    assert memory.parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "4 GX", "-1GB", "10MB"])
def test_a_size_that_is_no_size_or_too_small_is_refused(text: str) -> None:
    with pytest.raises(MeterhouseError, match="memory limit"):
        memory.parse_size(text)


def test_a_bad_limit_is_a_usage_error_naming_the_value() -> None:
    result = run("--memory-limit", "12xb", "status")
    assert result.exit_code == 2
    assert "12xb" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("files", "limit"),
    [({"memory.max": "3221225472\n"}, 3 << 30),  # cgroup v2
     ({"memory.max": "max\n"}, None),  # v2, no limit
     ({"memory/memory.limit_in_bytes": "2147483648\n"}, 2 << 30),  # cgroup v1
     ({"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),  # v1, no limit
     ({}, None)],
)  # fmt: skip
def test_a_containers_limit_is_the_memory_available(
    tmp_path: Path, files: dict[str, str], limit: int | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert memory.available_memory(tmp_path) == min(machine, limit or machine)


def test_duckdb_gets_the_budget_less_a_bounded_reserve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "8GiB")
    assert memory.duckdb_limit(memory.budget()) == (8 << 30) - memory.RESERVE
    monkeypatch.setenv(MEMORY_ENV, "200MB")
    assert memory.duckdb_limit(memory.budget()) == 100 * 10**6
    small = memory.flush_rows()
    monkeypatch.setenv(MEMORY_ENV, "8GiB")
    assert small < memory.flush_rows() == memory.MAX_FLUSH_ROWS  # a small budget, small flushes


def test_dbt_is_given_the_clis_duckdb_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_ENV, "3GiB")
    monkeypatch.setenv(SPILL_ENV, str(tmp_path / "spill"))
    db = tmp_path / "w.duckdb"
    env = child_env(db, "duckdb", own_contracts=False)
    settings = memory.duckdb_settings(db)
    assert settings == {"memory_limit": f"{(3 << 30) - (3 << 29) >> 20}MiB",
                        "temp_directory": str(tmp_path / "spill")}  # fmt: skip
    assert {env[PROFILE_ENV[name]] for name in settings} == set(settings.values())
    profile = (project_dir() / "profiles.yml").read_text()
    for name, variable in PROFILE_ENV.items():  # the profile sets each from its variable
        assert f"{name}: \"{{{{ env_var('{variable}'" in profile


def test_the_spill_folder_defaults_beside_the_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPILL_ENV, raising=False)
    assert memory.spill_dir(Path("/data/w.duckdb")) == Path("/data/w.duckdb.tmp")
