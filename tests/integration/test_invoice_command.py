"""`meterhouse invoice`: the files a finance team sends, read back and checked against the
warehouse, and the refusals that write nothing."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pypdf
import pytest

from meterhouse import documents
from tests.conftest import SHARED_DATA, event_rows, query, run

MONTH = "2026-09"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated sample with its contracts, plus one request to a model no price book knows
    (tenant tn_0002, September), after `meterhouse nightly`."""
    root = tmp_path_factory.mktemp("invoice")
    sample, db = root / "sample", root / "warehouse.duckdb"
    assert run("generate", "--out", sample, "--days", 35, "--tenants", 8,
               "--events-per-day", 800, "--seed", 2).exit_code == 0  # fmt: skip
    unknown = event_rows(1, prefix="unpriced-", tenant_id=["tn_0002"], model=["acme/mystery-9b"],
                         event_at=[datetime(2026, 9, 3, tzinfo=UTC)])  # fmt: skip
    unknown.write_parquet(sample / "events" / "zz-unpriced.parquet")
    result = run("nightly", "--events", sample / "events", "--contracts", sample / "contracts",
                 "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    return db


def invoice(db: Path, out: Path, *args: str) -> tuple[int, str]:
    result = run("invoice", "--month", MONTH, "--db", db, "--out", out, *args)
    return result.exit_code, " ".join(result.output.split())


def test_every_invoice_is_written_and_agrees_with_the_warehouse(
    warehouse: Path, tmp_path: Path
) -> None:
    code, output = invoice(warehouse, tmp_path, "--allow-unpriced", "--issuer", "Example AI Ltd")
    assert code == 0, output
    marts = query(
        warehouse,
        "select tenant_id, currency, total_amount, line_count from main.fct_invoices "
        "where invoice_month = date '2026-09-01'",
    )
    assert len(marts) >= 8
    for tenant, currency, total, line_count in marts:
        stem = tmp_path / f"INV-202609-{tenant}"
        doc = json.loads(stem.with_suffix(".json").read_text())
        assert (doc["tenant_id"], doc["currency"], doc["status"]) == (tenant, currency, "draft")
        assert (doc["period_start"], doc["period_end"]) == ("2026-09-01", "2026-09-30")
        assert doc["total"] == f"{total:.2f}"  # money as a decimal string, never a float
        amounts = [Decimal(line["amount"]) for line in doc["lines"]]
        assert sum(amounts, Decimal(0)) == total
        assert len(doc["lines"]) == line_count
        assert [line["line_number"] for line in doc["lines"]] == list(range(1, line_count + 1))
        with stem.with_suffix(".csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == line_count
        assert {r["tenant_id"] for r in rows} == {tenant}
        assert sum((Decimal(r["amount"]) for r in rows), Decimal(0)) == total
        text = " ".join(
            page.extract_text() for page in pypdf.PdfReader(stem.with_suffix(".pdf")).pages
        )
        assert "Example AI Ltd" in text
        assert f"Bill to {tenant}" in text
        assert f"Total due {total:,.2f} {currency}" in text
        assert f"{line_count} lines." in text


def test_one_tenant_sees_only_its_own_lines(warehouse: Path, tmp_path: Path) -> None:
    code, output = invoice(warehouse, tmp_path, "--tenant", "tn_0001", "--format", "json,csv")
    assert code == 0, output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "INV-202609-tn_0001.csv", "INV-202609-tn_0001.json"
    ]  # fmt: skip
    doc = json.loads((tmp_path / "INV-202609-tn_0001.json").read_text())
    others = query(warehouse, "select distinct tenant_id from main.fct_invoice_lines "
                              "where tenant_id <> 'tn_0001'")  # fmt: skip
    text = (tmp_path / "INV-202609-tn_0001.csv").read_text() + json.dumps(doc)
    assert others
    assert not any(other in text for (other,) in others)


def test_a_tenant_with_unpriced_usage_is_refused_and_the_others_are_written(
    warehouse: Path, tmp_path: Path
) -> None:
    code, output = invoice(warehouse, tmp_path)
    assert code == 1, output  # a script notices
    assert "refused tn_0002" in output
    september = "from main.fct_invoices where invoice_month = date '2026-09-01'"
    [(tokens,)] = query(warehouse, f"select unpriced_tokens {september} and tenant_id = 'tn_0002'")
    assert f"{tokens:,} tokens of unpriced usage" in output
    assert "acme/mystery-9b" in output  # the model to price or alias
    assert "--allow-unpriced" in output
    assert "model_aliases" in output
    written = {p.stem for p in tmp_path.glob("*.json")}
    tenants = {t for (t,) in query(warehouse, f"select tenant_id {september}")}
    assert len(tenants) >= 8
    assert written == {f"INV-202609-{t}" for t in tenants - {"tn_0002"}}
    code, output = invoice(warehouse, tmp_path / "one", "--tenant", "tn_0001")
    assert code == 0, output  # another tenant's month is not held back


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "tn_9999"], "unknown tenant tn_9999"),
        (["--format", "json,xls"], "--format xls: choose from json, csv, pdf"),
    ],
)
def test_bad_requests_write_nothing(
    warehouse: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, output = invoice(warehouse, tmp_path / "out", *args)
    assert code == 2
    assert message in output
    assert "Traceback" not in output
    assert not (tmp_path / "out").exists()


def test_a_month_without_invoices_names_the_months_there_are(
    warehouse: Path, tmp_path: Path
) -> None:
    result = run("invoice", "--month", "2027-01", "--db", warehouse, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "no invoices for 2027-01 (invoices exist from 2026-09 to 2026-10)" in " ".join(
        result.output.split()
    )


def focus_rows(db: Path, out: Path, *args: str) -> list[dict[str, str]]:
    result = run("export", "focus", "--month", MONTH, "--db", db, "--out", out, *args)
    assert result.exit_code == 0, result.output
    with out.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_focus_export_follows_focus_rules(warehouse: Path, tmp_path: Path) -> None:
    rows = focus_rows(warehouse, tmp_path / "focus.csv")
    totals = dict(query(warehouse, "select invoice_id, total_amount from main.fct_invoices "
                                   "where invoice_month = date '2026-09-01'"))  # fmt: skip
    billed: dict[str, Decimal] = {}
    for row in rows:
        billed[row["InvoiceId"]] = billed.get(row["InvoiceId"], Decimal(0)) + Decimal(
            row["BilledCost"]
        )
        assert row["SubAccountId"] == row["InvoiceId"].split("-", 2)[2]
        assert (row["BillingPeriodStart"], row["BillingPeriodEnd"]) == (
            "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z"
        )  # fmt: skip
        if row["ChargeCategory"] == "Usage" and not row["ChargeClass"]:
            quantity = Decimal(row["PricingQuantity"])
            assert Decimal(row["ListUnitPrice"]) * quantity == Decimal(row["ListCost"])
            assert quantity * 1_000_000 == int(row["ConsumedQuantity"])
            assert (row["PricingUnit"], row["ConsumedUnit"]) == ("1000000 Tokens", "Tokens")
            details = json.loads(row["SkuPriceDetails"])
            assert details["ModelId"] in row["ChargeDescription"]
            assert details["TokenDirection"] in ("Input", "Output")
    assert billed == totals  # sum of BilledCost per InvoiceId = the invoice's total
    assert {r["ChargeCategory"] for r in rows} >= {"Usage", "Adjustment", "Credit"}


@pytest.mark.skipif(not (SHARED_DATA / "focus_ai_billing").is_dir(), reason="needs ../shared")
def test_focus_export_reads_back_like_the_real_focus_examples(
    warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "focus.csv"
    focus_rows(warehouse, out, "--tenant", "tn_0001")

    def columns(path: Path) -> dict[str, str]:
        with duckdb.connect() as con:
            return {r[0]: r[1] for r in con.execute(
                "describe select * from read_csv($path)", {"path": str(path)}
            ).fetchall()}  # fmt: skip

    ours = columns(out)
    required = {"BilledCost", "EffectiveCost", "ListCost", "ListUnitPrice", "ContractedCost",
            "ContractedUnitPrice", "PricingQuantity", "PricingUnit", "ConsumedQuantity",
            "ConsumedUnit", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
            "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass",
            "ChargeFrequency", "ChargeDescription", "InvoiceId", "SubAccountId",
            "ServiceCategory", "ServiceName", "SkuId", "SkuMeter", "SkuPriceDetails"}  # fmt: skip
    assert required <= set(ours)
    examples = sorted((SHARED_DATA / "focus_ai_billing").glob("*.csv"))
    assert len(examples) == 3
    for example in examples:
        theirs = columns(example)
        shared = set(ours) & set(theirs)
        assert len(shared) >= 25
        assert {c: ours[c] for c in shared} == {c: theirs[c] for c in shared}, example.name


def explain(
    db: Path, invoice_id: str, line: int, out: Path
) -> tuple[int, str, list[dict[str, str]]]:
    result = run("invoice", "explain", "--invoice-id", invoice_id, "--line", line, "--db", db,
                 "--out", out)  # fmt: skip
    rows = list(csv.DictReader(out.open())) if out.exists() else []
    return result.exit_code, " ".join(result.output.split()), rows


def test_explain_traces_a_line_to_its_own_tenants_requests_only(
    warehouse: Path, tmp_path: Path
) -> None:
    # the same model and token class on two tenants' invoices
    pairs = query(warehouse, """
        select a.tenant_id, a.invoice_id, a.line_number, a.quantity_tokens, b.invoice_id,
               b.line_number, b.quantity_tokens
        from main.fct_invoice_lines a join main.fct_invoice_lines b
          using (invoice_month, model_id, token_class)
        where a.line_type = 'usage' and b.line_type = 'usage' and a.tenant_id < b.tenant_id
          and invoice_month = date '2026-09-01'
        order by a.quantity_tokens desc limit 1""")  # fmt: skip
    assert pairs, "the sample should give two tenants a common model"
    tenant, a_id, a_line, a_tokens, b_id, b_line, b_tokens = pairs[0]
    code, output, a_rows = explain(warehouse, a_id, a_line, tmp_path / "a.csv")
    assert code == 0, output
    _, _, b_rows = explain(warehouse, b_id, b_line, tmp_path / "b.csv")
    assert sum(int(r["quantity_tokens"]) for r in a_rows) == a_tokens
    assert sum(int(r["quantity_tokens"]) for r in b_rows) == b_tokens
    assert f"{len(a_rows):,} requests, {a_tokens:,} tokens" in output
    own = {r for (r,) in query(warehouse, "select request_id from raw.usage_events "
                                          f"where tenant_id = '{tenant}'")}  # fmt: skip
    assert {r["request_id"] for r in a_rows} <= own
    assert not {r["request_id"] for r in a_rows} & {r["request_id"] for r in b_rows}


def test_explain_refuses_lines_no_request_makes(warehouse: Path, tmp_path: Path) -> None:
    [(invoice_id, line)] = query(warehouse, "select invoice_id, min(line_number) from "
                                 "main.fct_invoice_lines where line_type <> 'usage' "
                                 "group by invoice_id order by invoice_id limit 1")  # fmt: skip
    code, output, _ = explain(warehouse, invoice_id, line, tmp_path / "x.csv")
    assert code == 2
    assert f"line {line} of {invoice_id} is a" in output
    assert "only usage lines (and their corrections) come from requests" in output
    assert not (tmp_path / "x.csv").exists()
    code, output, _ = explain(warehouse, "INV-209901-nobody", 1, tmp_path / "x.csv")
    assert code == 2
    assert "no invoice INV-209901-nobody" in output


def test_a_month_is_partly_issued_naming_the_tenants(warehouse: Path, tmp_path: Path) -> None:
    """Last in this module: it issues September."""
    result = run("invoice", "issue", "--month", MONTH, "--db", warehouse)
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output
    assert "refused tn_0002: not issued for 2026-09" in output
    assert "not issued: tn_0002" in output
    issued = {t for (t,) in query(warehouse, "select tenant_id from app.issued_invoices")}
    drafts = {t for (t,) in query(warehouse, "select tenant_id from main.fct_invoices where "
                                             "invoice_month = date '2026-09-01' and "
                                             "status = 'draft'")}  # fmt: skip
    assert drafts == {"tn_0002"}
    assert "tn_0002" not in issued
    assert len(issued) >= 7
    again = run("invoice", "issue", "--month", MONTH, "--db", warehouse)
    assert again.exit_code == 1  # still refused by name; the issued ones stay as they are
    assert "were issued before and stay as they are" in again.output
    assert "refused tn_0002" in again.output


def test_issued_pdfs_drawn_on_every_core_are_the_ones_drawn_on_one(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the issue above: an invoice run's PDFs are drawn by worker processes, and an
    issued invoice's PDF is the same bytes however, and however often, it is drawn."""
    drawn = {}
    for per_worker in (1, 10**6):  # a worker for every PDF (at most a core each), then none
        monkeypatch.setattr(documents, "PDFS_PER_WORKER", per_worker)
        out = tmp_path / f"per-worker-{per_worker}"
        code, output = invoice(warehouse, out, "--format", "pdf")
        assert code == 1, output  # tn_0002 is refused (unpriced), the others are written
        drawn[per_worker] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert len(drawn[1]) >= 7
    assert drawn[1] == drawn[10**6]
