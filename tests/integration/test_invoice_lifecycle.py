"""Issuing invoices: an issued invoice never changes whatever is loaded or rebuilt later, and
late usage for its month becomes correction lines on the next open invoice, exactly once."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import event_rows, query, run

LATE_TENANT = "tn_0003"


def ok(*args: str | Path) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def late_events(folder: Path, name: str, prefix: str, n: int) -> int:
    """n requests of LATE_TENANT on 20 September, in a new export file; returns their tokens."""
    frame = event_rows(n, prefix=prefix, tenant_id=[LATE_TENANT] * n, model=["gpt-4.1"] * n,
                       event_at=[datetime(2026, 9, 20, 8, tzinfo=UTC)] * n,
                       input_tokens=[200_000] * n)  # fmt: skip
    frame.write_parquet(folder / name)
    return int(frame["input_tokens"].sum() + frame["output_tokens"].sum())


def corrections(db: Path) -> list[tuple[Any, ...]]:
    return query(
        db,
        "select invoice_id, corrects_invoice_id, corrected_line_type, model_id, token_class, "
        "quantity_tokens, amount from main.fct_invoice_lines where line_type = 'correction' "
        "order by all",
    )


def month_files(db: Path, out: Path) -> dict[str, bytes]:
    ok("invoice", "--month", "2026-09", "--db", db, "--out", out, "--format", "json,csv")
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Path, Path]:
    events, db = tmp_path / "sample", tmp_path / "warehouse.duckdb"
    ok("generate", "--out", events, "--days", 35, "--tenants", 6, "--events-per-day", 600,
       "--seed", 3)  # fmt: skip
    return events, db


def nightly(sample: tuple[Path, Path]) -> None:
    events, db = sample
    ok("nightly", "--events", events / "events", "--contracts", events / "contracts", "--db", db)


def test_issued_invoices_never_change_and_late_usage_is_corrected_once(
    sample: tuple[Path, Path], tmp_path: Path
) -> None:
    events, db = sample
    nightly(sample)
    output = ok("invoice", "issue", "--month", "2026-09", "--db", db, "--issuer", "Example AI")
    drafts = query(db, "select count(*) from main.fct_invoices where invoice_month = '2026-09-01'")
    assert f"issued {drafts[0][0]} invoice(s) for 2026-09" in output
    assert query(db, "select distinct status from main.fct_invoices "
                     "where invoice_month = '2026-09-01'") == [("issued",)]  # fmt: skip
    issued = month_files(db, tmp_path / "first")
    stored = dict(query(db, "select invoice_id, content_sha256 from app.issued_invoices"))
    for invoice_id, digest in stored.items():  # the file is the document of record, hashed
        assert hashlib.sha256(issued[f"{invoice_id}.json"]).hexdigest() == digest
    assert b'"status":"issued"' in issued[f"INV-202609-{LATE_TENANT}.json"]

    again = ok("invoice", "issue", "--month", "2026-09", "--db", db)
    assert "were issued before and stay as they are" in again
    assert "nothing to issue" in again
    assert len(query(db, "select * from app.issued_invoices")) == len(stored)

    # late usage for September: loaded, but the marts are not rebuilt yet
    late = late_events(events / "events", "late-1.parquet", "late-a", 20)
    ok("ingest", events / "events", "--db", db)
    stale = run("invoice", "issue", "--month", "2026-10", "--db", db)
    assert stale.exit_code == 2
    assert "events were loaded after the marts were last built" in stale.output
    nightly(sample)
    assert month_files(db, tmp_path / "second") == issued
    first = corrections(db)
    assert {row[:2] for row in first} == {
        (f"INV-202610-{LATE_TENANT}", f"INV-202609-{LATE_TENANT}")
    }
    assert sum(row[5] for row in first if row[2] == "usage") == late

    focus = tmp_path / "focus.csv"  # FOCUS: corrections are ChargeClass Correction rows
    ok("export", "focus", "--month", "2026-10", "--tenant", LATE_TENANT, "--db", db, "--out", focus)
    with focus.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len([r for r in rows if r["ChargeClass"] == "Correction"]) == len(first)
    [(total,)] = query(db, f"select total_amount from main.fct_invoices "
                           f"where invoice_id = 'INV-202610-{LATE_TENANT}'")  # fmt: skip
    assert sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0)) == total

    [(line,)] = query(db, f"select line_number from main.fct_invoice_lines where invoice_id = "
                          f"'INV-202610-{LATE_TENANT}' and corrected_line_type = 'usage' "
                          "and token_class = 'input'")  # fmt: skip
    traced = run("invoice", "explain", "--invoice-id", f"INV-202610-{LATE_TENANT}", "--line", line,
                 "--db", db, "--out", tmp_path / "requests.csv")  # fmt: skip
    assert traced.exit_code == 0, traced.output
    with (tmp_path / "requests.csv").open() as handle:
        assert {r["request_id"][:6] for r in csv.DictReader(handle)} == {"late-a"}

    nightly(sample)  # nothing new: the same corrections, not twice
    ok("build", "--full-refresh", "--contracts", events / "contracts", "--db", db)
    assert corrections(db) == first
    assert month_files(db, tmp_path / "third") == issued

    # October is issued with the corrections on it; a second late batch goes to November
    ok("invoice", "issue", "--month", "2026-10", "--tenant", LATE_TENANT, "--db", db)
    assert corrections(db) == first  # now frozen on the issued October invoice
    later = late_events(events / "events", "late-2.parquet", "late-b", 7)
    nightly(sample)
    november = [row for row in corrections(db) if row[0] == f"INV-202611-{LATE_TENANT}"]
    assert {row[1] for row in november} == {f"INV-202609-{LATE_TENANT}"}
    assert sum(row[5] for row in november if row[2] == "usage") == later
    assert [row for row in corrections(db) if row[0] != f"INV-202611-{LATE_TENANT}"] == first


def test_an_edited_issued_invoice_is_refused(sample: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = sample
    nightly(sample)
    ok("invoice", "issue", "--month", "2026-09", "--tenant", "tn_0001", "--db", db)
    with duckdb.connect(str(db)) as con:
        con.execute("update app.issued_invoices set document_json = "
                    "replace(document_json, '\"total\":\"', '\"total\":\"1')")  # fmt: skip
    result = run("invoice", "--month", "2026-09", "--db", db, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "INV-202609-tn_0001: the stored document no longer matches" in result.output
    assert not (tmp_path / "out").exists()


def test_a_month_not_over_is_not_issued(sample: tuple[Path, Path]) -> None:
    _, db = sample
    month = f"{datetime.now(UTC):%Y-%m}"
    result = run("invoice", "issue", "--month", month, "--db", db)
    assert result.exit_code == 2
    assert f"{month} is not over yet" in result.output


def unit_prices(db: Path, invoice_id: str) -> list[tuple[Any, ...]]:
    return query(db, "select model_id, token_class, unit_price_per_1m_tokens from "
                     f"main.fct_invoice_lines where invoice_id = '{invoice_id}' "
                     "and line_type = 'usage' order by all")  # fmt: skip


def test_an_issued_month_keeps_its_prices_when_the_plan_is_changed_back_in_time(
    sample: tuple[Path, Path], tmp_path: Path
) -> None:
    """A contract edited after its month was issued (here: another plan, from before that
    month) prices the open months anew and leaves the issued one as issued: no correction
    lines, since no usage changed (docs/decisions/0024)."""
    events, db = sample
    nightly(sample)
    path = events / "contracts" / "tenant_contracts.csv"
    with path.open(newline="") as handle:
        contracts = list(csv.DictReader(handle))
    plans: dict[str, set[str]] = {}
    for contract in contracts:
        plans.setdefault(contract["tenant_id"], set()).add(contract["plan_id"])
    tenant = next(t for t, named in sorted(plans.items()) if named == {"standard"})
    september, october = f"INV-202609-{tenant}", f"INV-202610-{tenant}"
    ok("invoice", "issue", "--month", "2026-09", "--db", db)
    issued = month_files(db, tmp_path / "first")
    issued_prices, draft_prices = unit_prices(db, september), unit_prices(db, october)

    for contract in contracts:
        if contract["tenant_id"] == tenant:
            contract["plan_id"] = "enterprise"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(contracts[0]))
        writer.writeheader()
        writer.writerows(contracts)
    nightly(sample)

    assert corrections(db) == []
    assert month_files(db, tmp_path / "second") == issued
    assert unit_prices(db, september) == issued_prices
    repriced = unit_prices(db, october)
    assert [row[:2] for row in repriced] == [row[:2] for row in draft_prices]
    assert repriced != draft_prices  # October is billed on the new plan
