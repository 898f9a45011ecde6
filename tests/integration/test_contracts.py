"""`--contracts`: a folder of tenant contracts is checked before anything is loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import event_rows, run

SHIPPED = Path(__file__).resolve().parents[2] / "seeds" / "contracts"


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    folder = tmp_path / "contracts"
    shutil.copytree(SHIPPED, folder)
    return folder


def nightly(tmp_path: Path, contracts: Path) -> tuple[int, str]:
    events = tmp_path / "events"
    events.mkdir(exist_ok=True)
    event_rows(3).write_parquet(events / "part-0.parquet")
    db = tmp_path / "warehouse.duckdb"
    result = run("nightly", "--events", events, "--contracts", contracts, "--db", db)
    assert not db.exists(), "nothing may be loaded before the contracts are checked"
    return result.exit_code, " ".join(result.output.split())


def test_a_missing_contract_file_is_named(tmp_path: Path, contracts: Path) -> None:
    (contracts / "credit_grants.csv").unlink()
    code, output = nightly(tmp_path, contracts)
    assert code == 2
    assert "credit_grants.csv: missing" in output
    assert "Traceback" not in output


def test_wrong_columns_are_listed(tmp_path: Path, contracts: Path) -> None:
    path = contracts / "tenant_contracts.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0].replace("discount_ratio", "discount"), *lines[1:]]) + "\n")
    code, output = nightly(tmp_path, contracts)
    assert code == 2
    assert "tenant_contracts.csv: columns" in output
    assert "expected" in output
    assert "discount_ratio" in output


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    code, output = nightly(tmp_path, tmp_path / "nowhere")
    assert code == 2
    assert "no such folder" in output
