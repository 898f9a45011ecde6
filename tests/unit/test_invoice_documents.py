"""The invoice documents' core: totals re-summed from the lines and checked against the marts;
the PDF drawn from a document (names in any script: tests/hostile/test_pdf_names.py)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pandera.errors
import polars as pl
import pypdf
import pytest

from meterhouse.core.invoices import csv_documents, csv_lines, documents
from meterhouse.core.money import AMOUNT, UNIT_PRICE
from meterhouse.pdf import render_pdf
from meterhouse.schemas.invoices import DOCUMENTS_OUT, INVOICES_IN, LINES_IN

SEPT = date(2026, 9, 1)


def lines() -> pl.DataFrame:
    return LINES_IN.validate(pl.DataFrame(
        {
            "invoice_id": ["INV-202609-a"] * 3 + ["INV-202609-b"],
            "tenant_id": ["a", "a", "a", "b"],
            "invoice_month": [SEPT] * 4,
            "line_number": [2, 1, 3, 1],
            "line_type": ["usage", "usage", "credit", "usage"],
            "model_id": ["m2", "m1", None, "m1"],
            "token_class": ["output", "input", None, "input"],
            "quantity_tokens": [1_000, 2_000_000, None, 5],
            "unit_price_per_1m_tokens": [Decimal("8.5"), Decimal("1.25"), None, Decimal("1")],
            "tier_from_tokens": [None] * 4,
            "credit_grant_id": [None, None, "g", None],
            "corrects_invoice_id": [None] * 4,
            "corrected_line_type": [None] * 4,
            "amount": [Decimal("0.01"), Decimal("2.50"), Decimal("-1.00"), Decimal("0.00")],
            "currency": ["EUR", "EUR", "EUR", "USD"],
        },
        schema_overrides={"unit_price_per_1m_tokens": UNIT_PRICE, "amount": AMOUNT,
                          "tier_from_tokens": pl.Int64, "corrects_invoice_id": pl.String,
                          "corrected_line_type": pl.String},
    ))  # fmt: skip


def invoices(total_a: str = "1.51", sub_a: str = "2.51") -> pl.DataFrame:
    money = {
        "subtotal": [sub_a, "0.00"], "discounts": ["0", "0"], "credits_applied": ["-1.00", "0"],
        "commitment_shortfall": ["0", "0"], "corrections": ["0", "0"],
        "total_amount": [total_a, "0.00"],
    }  # fmt: skip
    return INVOICES_IN.validate(pl.DataFrame(
        {"invoice_id": ["INV-202609-a", "INV-202609-b"], "tenant_id": ["a", "b"],
         "invoice_month": [SEPT] * 2, "currency": ["EUR", "USD"], "status": ["draft"] * 2,
         **{k: [Decimal(v) for v in vs] for k, vs in money.items()},
         "line_count": [3, 1], "unpriced_tokens": [0, 0]},
        schema_overrides=dict.fromkeys(money, AMOUNT),
    ))  # fmt: skip


def test_document_holds_lines_in_order_with_money_as_text() -> None:
    docs = DOCUMENTS_OUT.validate(documents(invoices().lazy(), lines().lazy(), "Issuer"))
    assert docs["invoice_id"].to_list() == ["INV-202609-a", "INV-202609-b"]
    doc = json.loads(docs["json"][0])
    assert [line["line_number"] for line in doc["lines"]] == [1, 2, 3]
    assert [line["amount"] for line in doc["lines"]] == ["2.50", "0.01", "-1.00"]
    assert (doc["subtotal"], doc["credits_applied"], doc["total"]) == ("2.51", "-1.00", "1.51")
    assert doc["lines"][0]["unit_price_per_1m_tokens"] == "1.250000000000"


@pytest.mark.parametrize("mart", [{"total_a": "1.52"}, {"sub_a": "2.50"}])
def test_a_mart_total_that_is_not_the_sum_of_its_lines_is_refused(mart: dict[str, str]) -> None:
    docs = documents(invoices(**mart).lazy(), lines().lazy(), "Issuer")
    with pytest.raises(pandera.errors.SchemaError, match="totals_match_mart"):
        DOCUMENTS_OUT.validate(docs)


def test_csv_texts_are_what_a_csv_writer_writes_for_each_invoice() -> None:
    tricky = lines().with_columns(
        pl.Series("model_id", ['m2, "large"', "m1\nnew line", None, "m1"])
    )
    texts = dict(csv_documents(tricky.lazy()).collect().rows())
    expected = {
        invoice: frame.write_csv()
        for (invoice,), frame in csv_lines(tricky.lazy()).collect().partition_by(
            "invoice_id", as_dict=True
        ).items()
    }  # fmt: skip
    assert texts == expected
    rows = list(csv.DictReader(io.StringIO(texts["INV-202609-a"])))
    assert [r["model_id"] for r in rows] == ["m1\nnew line", 'm2, "large"', ""]
    assert [r["amount"] for r in rows] == ["2.50", "0.01", "-1.00"]


def pdf_lines(content: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return [line for page in reader.pages for line in page.extract_text().split("\n")]


def test_the_pdf_shows_what_the_document_holds() -> None:
    docs = DOCUMENTS_OUT.validate(documents(invoices().lazy(), lines().lazy(), "Issuer Ltd"))
    text = pdf_lines(render_pdf(json.loads(docs["json"][0])))
    for expected in [
        "INVOICE", "From Issuer Ltd", "Bill to a", "Invoice number INV-202609-a",
        "Period 2026-09-01 to 2026-09-30 (UTC)", "Currency EUR", "Status draft",
        "Description Tokens Per 1M tokens (EUR) Amount", "m1",
        "  Input (uncached) 2,000,000 1.25 2.50 EUR", "m2", "  Output 1,000 8.5 0.01 EUR",
        "Prepaid credit applied -1.00 EUR", "Usage subtotal 2.51 EUR", "Total due 1.51 EUR",
        "Page 1 of 1",
    ]:  # fmt: skip
        assert expected in text, (expected, text)
    assert any(line.startswith("3 lines. Each line is rounded once") for line in text)


def test_a_long_invoice_goes_on_over_pages_with_every_line() -> None:
    many = pl.concat([lines().head(1)] * 120).with_columns(
        pl.Series("line_number", range(1, 121)),
        pl.Series("model_id", [f"model-{i:03d}" for i in range(120)]),
    )
    doc = json.loads(documents(invoices().lazy(), many.lazy(), "Issuer")["json"][0])
    content = render_pdf(doc)
    pages = len(pypdf.PdfReader(io.BytesIO(content)).pages)
    text = pdf_lines(content)
    assert pages >= 3
    assert f"Page 1 of {pages}" in text
    assert f"Page {pages} of {pages}" in text
    assert all(f"model-{i:03d}" in text for i in range(120))
    assert f"Total due {Decimal(doc['total']):,.2f} EUR" in text
