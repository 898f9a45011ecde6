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
from meterhouse.core.parallel import in_parallel
from meterhouse.files import safe_name
from meterhouse.pdf import render_pdf
from meterhouse.progress import Report
from meterhouse.schemas.invoices import DOCUMENTS_OUT, split_valid
from meterhouse.warehouse.invoices import MonthInvoices

FORMATS = ("json", "csv", "pdf")
# A worker process costs about a second to start (fpdf and the fonts imported, once): with
# fewer PDFs than this each, they are drawn in this process.
PDFS_PER_WORKER = 40


def _pdfs(docs: list[tuple[str, str]]) -> list[tuple[str, str, bytes | None, str | None]]:
    """Each (invoice id, JSON document) drawn as a PDF: (invoice id, tenant, PDF, None), or
    (invoice id, tenant, None, why) for a document that cannot be drawn."""
    drawn: list[tuple[str, str, bytes | None, str | None]] = []
    for invoice, text in docs:
        doc = json.loads(text)
        try:
            drawn.append((invoice, doc["tenant_id"], render_pdf(doc), None))
        except Exception as exc:  # one tenant's document never stops the others
            drawn.append((invoice, doc["tenant_id"], None, f"{type(exc).__name__}: {exc}"))
    return drawn


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
    for invoice, text in docs.rows():
        if "json" in formats:
            files[f"{safe_name(invoice)}.json"] = text.encode()
    if "pdf" in formats:
        ids, total = docs["invoice_id"].to_list(), len(docs)
        for invoice, tenant, pdf, error in in_parallel(  # in order: the first n are drawn
            _pdfs, docs.rows(), per_worker=PDFS_PER_WORKER,
            done=lambda n: report(f"render PDF {ids[n - 1]}", n, total),
        ):  # fmt: skip
            name = safe_name(invoice)
            if pdf is not None:
                files[f"{name}.pdf"] = pdf
                continue
            refused[tenant] = f"its PDF cannot be drawn ({error})"  # never stops the others
            for suffix in (".json", ".csv"):
                files.pop(f"{name}{suffix}", None)
    return files, refused
