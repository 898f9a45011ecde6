"""`meterhouse reconcile` end to end: a generated sample through the real nightly job, a demo
vendor bill with injected discrepancies, each found with its class; a clean bill passes."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from meterhouse.sample.vendor_bill import write_vendor_bill
from tests.conftest import run

MONTH = "2026-09"


@pytest.fixture(scope="module")
def sample(costed_sample: tuple[Path, Path]) -> tuple[Path, Path]:
    return costed_sample


def test_every_injected_discrepancy_is_found_with_its_class(
    sample: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, db = sample
    bill = write_vendor_bill(folder, date(2026, 9, 1))  # the warehouse priced with the snapshot
    truth = json.loads(bill.with_suffix(".truth.json").read_text())
    out = tmp_path / "variances.csv"
    result = run("reconcile", "--vendor-bill", bill, "--month", MONTH, "--db", db, "--out", out)
    assert result.exit_code == 1, result.output
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    found = {
        (
            r["variance_class"],
            r["charge_period_start"],
            r["model_id"] or None,
            r["token_class"] or None,
        )
        for r in rows
    }
    expected = {
        (t["class"], t["charge_period_start"], t["model_id"], t["token_class"]) for t in truth
    }
    assert found == expected  # nothing else is listed: every other key matched exactly
    assert {t["class"] for t in truth} >= {
        "metered_not_billed",
        "billed_not_metered",
        "quantity_within_tolerance",
        "quantity_beyond_tolerance",
        "unit_price_difference",
        "commitment_drawdown",
        "commitment_purchase",
        "credit",
    }
    price = next(r for r in rows if r["variance_class"] == "unit_price_difference")
    assert price["our_usd_per_1m_tokens"]
    assert price["bill_list_usd_per_1m_tokens"]
    assert "beyond tolerance" in " ".join(result.output.split())


def test_a_clean_bill_passes_and_json_keeps_money_as_text(
    sample: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, db = sample
    bill = write_vendor_bill(folder, date(2026, 9, 1), inject=False)
    out = tmp_path / "variances.json"
    result = run("reconcile", "--vendor-bill", bill, "--month", MONTH, "--db", db, "--out", out)
    assert result.exit_code == 0, result.output
    assert "everything within tolerance" in result.output
    assert json.loads(out.read_text()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "nobody"], "no metered API usage for provider 'nobody' in 2026-09"),
        (["--tolerance", "abc"], "--tolerance 'abc'"),
        (["--month", "2026-9x"], "--month '2026-9x': give the month as YYYY-MM"),
    ],
)
def test_user_errors_name_what_to_fix(
    sample: tuple[Path, Path], args: list[str], message: str
) -> None:
    folder, db = sample
    bill = write_vendor_bill(folder, date(2026, 9, 1))
    result = run("reconcile", "--vendor-bill", bill, "--month", MONTH, "--db", db, *args)
    output = " ".join(result.output.split())
    assert result.exit_code == 2
    assert message in output
    assert "Traceback" not in output
    if args[0] == "--provider":
        assert "openai (" in output  # the providers that do have usage are listed


def test_a_bill_missing_a_focus_column_is_refused(
    sample: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, db = sample
    bill = write_vendor_bill(folder, date(2026, 9, 1))
    broken = tmp_path / "bill.csv"
    pl.read_csv(bill, infer_schema=False).drop("ChargePeriodEnd").write_csv(broken)
    result = run("reconcile", "--vendor-bill", broken, "--month", MONTH, "--db", db)
    output = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "FOCUS column(s) ChargePeriodEnd missing" in output
    assert "Traceback" not in output
    missing = run("reconcile", "--vendor-bill", tmp_path / "none.csv", "--month", MONTH, "--db", db)
    assert missing.exit_code == 2
    assert "no such file" in missing.output
