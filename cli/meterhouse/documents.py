"""Invoice files: JSON (docs/invoice-schema.md), CSV of the lines, and a PDF a person would
accept, drawn from the same JSON document (so the files can never disagree) by
meterhouse.pdf. Everything is rendered in memory first, then each file is written whole
(a temporary name, then a rename): a failure never leaves a half-written invoice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import polars as pl

from meterhouse.core.invoices import csv_documents, documents
from meterhouse.files import safe_name
from meterhouse.pdf import render_pdf
from meterhouse.progress import Report
from meterhouse.schemas.invoices import DOCUMENTS_OUT, split_valid
from meterhouse.warehouse.invoices import MonthInvoices

FORMATS = ("json", "csv", "pdf")


def render_invoices(
    month: MonthInvoices, formats: Sequence[str], issuer: str, report: Report
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every invoice of `month` in `formats`, in memory: file name (files.safe_name of the
    invoice id) -> content, and the tenants whose invoice could not be made, with why (the
    others are made). A draft is assembled from the marts; an issued invoice's JSON is its
    stored document of record, byte for byte (its SHA-256 is
    app.issued_invoices.content_sha256), and its PDF is drawn from it.
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
                report(f"render PDF {invoice}", done, total)
    return files, refused
