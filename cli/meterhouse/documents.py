"""Invoice files: JSON (docs/invoice-schema.md), CSV of the lines, and a PDF a person would
accept, drawn from the same JSON document (so the files can never disagree), with fpdf2's
built-in fonts. Everything is rendered in memory first, then each file is written whole
(a temporary name, then a rename): a failure never leaves a half-written invoice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import polars as pl
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from meterhouse.core.invoices import csv_documents, documents
from meterhouse.files import safe_name
from meterhouse.progress import Report
from meterhouse.schemas.invoices import DOCUMENTS_OUT, split_valid
from meterhouse.warehouse.invoices import MonthInvoices

FORMATS = ("json", "csv", "pdf")

_CLASS_NAMES = {
    "input": "Input (uncached)", "cache_read": "Cache read", "cache_write": "Cache write",
    "reasoning": "Reasoning output", "output": "Output",
}  # fmt: skip
_LINE_NAMES = {
    "free_allowance": "Free token allowance", "tier_discount": "Volume tier discount",
    "discount": "Contract discount", "commitment_shortfall": "Monthly commitment shortfall",
    "credit": "Prepaid credit applied", "correction": "Correction",
}  # fmt: skip
_WIDTHS = (70.0, 35.0, 40.0, 35.0)  # description, tokens, unit price per 1M, amount (mm)


class _Invoice(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="R")


def _text(value: object) -> str:
    """Core fonts are Latin-1: anything else is replaced, never an error."""
    return str(value).encode("latin-1", "replace").decode("latin-1")


def money(amount: str, currency: str) -> str:
    return f"{Decimal(amount):,.2f} {currency}"


def _row(pdf: FPDF, cells: tuple[str, str, str, str], bold: bool = False) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 9)
    for width, cell, align in zip(_WIDTHS, cells, "LRRR", strict=True):
        pdf.cell(width, 6, _text(cell), align=align)
    pdf.ln(6)


def render_pdf(doc: dict[str, Any]) -> bytes:
    """One invoice document (docs/invoice-schema.md) as PDF bytes."""
    currency = doc["currency"]
    pdf = _Invoice(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, "INVOICE", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    header = [
        ("From", doc["issuer"]),
        ("Bill to", doc["tenant_id"]),
        ("Invoice number", doc["invoice_id"]),
        ("Period", f"{doc['period_start']} to {doc['period_end']} (UTC)"),
        ("Currency", currency),
        ("Status", doc["status"] + (f", {doc['issued_at']}" if doc.get("issued_at") else "")),
    ]
    for label, value in header:
        pdf.cell(35, 6, _text(label))
        pdf.cell(0, 6, _text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _row(pdf, ("Description", "Tokens", f"Per 1M tokens ({currency})", "Amount"), bold=True)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(_WIDTHS), pdf.get_y())
    model = None
    for line in doc["lines"]:
        if line["line_type"] == "usage":
            if line["model_id"] != model:
                model = line["model_id"]
                _row(pdf, (model, "", "", ""), bold=True)
            _row(pdf, (
                "  " + _CLASS_NAMES.get(line["token_class"], line["token_class"]),
                f"{line['quantity_tokens']:,}",
                f"{Decimal(line['unit_price_per_1m_tokens']).normalize():f}",
                money(line["amount"], currency),
            ))  # fmt: skip
        elif line["line_type"] == "correction":
            corrected = line["model_id"] or _LINE_NAMES.get(line["corrected_line_type"], "")
            if line["token_class"]:
                corrected += " " + _CLASS_NAMES.get(line["token_class"], line["token_class"])
            tokens, price = line["quantity_tokens"], line["unit_price_per_1m_tokens"]
            _row(pdf, (
                f"Correction {line['corrects_invoice_id']}",
                "" if tokens is None else f"{tokens:,}",
                "" if price is None else f"{Decimal(price).normalize():f}",
                money(line["amount"], currency),
            ))  # fmt: skip
            _row(pdf, ("  " + corrected, "", "", ""))
        else:
            _row(pdf, (_LINE_NAMES.get(line["line_type"], line["line_type"]), "", "",
                       money(line["amount"], currency)))  # fmt: skip
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(_WIDTHS), pdf.get_y())
    pdf.ln(2)
    for label, field in [("Usage subtotal", "subtotal"), ("Discounts", "discounts"),
                         ("Credits applied", "credits_applied"),
                         ("Commitment shortfall", "commitment_shortfall"),
                         ("Corrections", "corrections")]:  # fmt: skip
        _row(pdf, (label, "", "", money(doc[field], currency)))
    _row(pdf, ("Total due", "", "", money(doc["total"], currency)), bold=True)
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, _text(
        f"{len(doc['lines'])} lines. Each line is rounded once to the currency's minor unit, "
        "half away from zero; the total is the exact sum of the lines."
    ))  # fmt: skip
    return bytes(pdf.output())


def render_invoices(
    month: MonthInvoices, formats: Sequence[str], issuer: str, report: Report
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every invoice of `month` in `formats`, in memory: file name (files.safe_name of the
    invoice id) -> content, and the tenants whose invoice could not be made, with why (the
    others are made). A draft is assembled from the marts; an issued invoice's JSON is its
    stored document of record, byte for byte (its SHA-256 is
    raw.issued_invoices.content_sha256), and its PDF is drawn from it.
    """
    drafts = month.invoices.filter(pl.col("status") == "draft")
    assembled, refused = split_valid(DOCUMENTS_OUT, documents(drafts, month.lines, issuer))
    docs = pl.concat([
        assembled.select("invoice_id", pl.col("json") + "\n"),
        month.records.select("invoice_id", pl.col("document_json").alias("json")),
    ]).sort("invoice_id")  # fmt: skip
    files: dict[str, bytes] = {}
    if "csv" in formats:
        made = docs["invoice_id"].implode()
        lines = month.lines.filter(pl.col("invoice_id").is_in(made))
        for invoice, text in csv_documents(lines).collect().rows():
            files[f"{safe_name(invoice)}.csv"] = text.encode()
    total = len(docs)
    for done, (invoice, text) in enumerate(docs.rows(), start=1):
        name = safe_name(invoice)
        if "json" in formats:
            files[f"{name}.json"] = text.encode()
        if "pdf" in formats:
            doc = json.loads(text)
            try:
                files[f"{name}.pdf"] = render_pdf(doc)
            except Exception as exc:  # one tenant's document never stops the others
                refused[doc["tenant_id"]] = f"its PDF cannot be drawn ({type(exc).__name__}: {exc})"
                for suffix in (".json", ".csv"):
                    files.pop(f"{name}{suffix}", None)
            if done == total or done % max(1, total // 20) == 0:  # about 20 updates
                report("render PDF", done, total)
    return files, refused
