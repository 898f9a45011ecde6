"""The `invoice` commands: write a month's invoices, issue them, explain a line; and the
FOCUS export of their lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from meterhouse import jobs, render
from meterhouse.commands.common import Terminal, out, refused, user_errors, warn
from meterhouse.commands.options import (
    AllowUnpricedOption,
    DbOption,
    IssuerOption,
    MonthOption,
    TargetOption,
    TenantOption,
    month,
    target,
)
from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.db import resolve_db

app = typer.Typer(
    help="Tenant invoices: write them (drafts, or issued ones as issued), issue them, trace "
    "their lines to requests.",
)


@app.callback(invoke_without_command=True)
def invoice(
    ctx: typer.Context,
    month_text: MonthOption = None,
    tenant: TenantOption = None,
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated: json, csv, pdf.")
    ] = "json,csv,pdf",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into.")] = Path(
        "invoices"
    ),
    issuer: IssuerOption = "meterhouse",
    allow_unpriced: AllowUnpricedOption = False,
    db: DbOption = None,
    target_name: TargetOption = "duckdb",
) -> None:
    """Write each tenant's invoice for --month: JSON, CSV of the lines, PDF.

    Files are named by invoice id (INV-YYYYMM-<tenant>); the JSON schema is in
    docs/invoice-schema.md. A draft is assembled from the marts; an issued invoice is written
    exactly as issued. Refuses, writing nothing, an unknown tenant, a month without invoices,
    and unpriced usage unless --allow-unpriced. A tenant whose invoice cannot be made is
    refused by name and the others are written (exit 1). File names encode any tenant id
    safely (docs/invoice-schema.md).
    """
    if ctx.invoked_subcommand is not None:
        return
    from meterhouse.documents import FORMATS

    with user_errors():
        chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
        wrong = sorted(set(chosen) - set(FORMATS)) or ([] if chosen else ["(none)"])
        if wrong:
            raise MeterhouseError(f"--format {', '.join(wrong)}: choose from {', '.join(FORMATS)}.")
        when = month(month_text)
        done = jobs.write_invoices(resolve_db(db), target(target_name), when, tenant or [],
                                   chosen, issuer, allow_unpriced, out_dir)  # fmt: skip
    out.print(f"wrote {len(done.files):,} files for {when:%Y-%m} under {out_dir}", highlight=False)
    refused(done.refused, f"no invoice written for {when:%Y-%m}")


@app.command("issue")
def issue(
    month_text: MonthOption = None,
    tenant: TenantOption = None,
    issuer: IssuerOption = "meterhouse",
    allow_unpriced: AllowUnpricedOption = False,
    db: DbOption = None,
) -> None:
    """Issue the month's draft invoices: freeze each one's JSON document, its SHA-256 and its
    lines in the warehouse. An issued invoice never changes again; usage that arrives later
    for its month becomes correction lines on the tenant's next open invoice. Issuing again is
    a no-op that says so, and completes the refresh of the marts if an earlier issue was
    interrupted. A tenant that cannot be issued is refused by name (exit 1)."""
    with user_errors():
        when = month(month_text)
        done = jobs.issue(resolve_db(db), when, tenant or [], allow_unpriced, issuer, Terminal())
    refused(done.refused, f"not issued for {when:%Y-%m}")


@app.command("explain")
def explain(
    invoice_id: Annotated[str, typer.Option("--invoice-id", help="INV-YYYYMM-<tenant>.")],
    line: Annotated[int, typer.Option(min=1, help="Line number on the invoice.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write every request to this CSV file.")
    ] = None,
    show: Annotated[int, typer.Option(min=0, help="Requests to print.")] = 20,
    db: DbOption = None,
) -> None:
    """List the requests behind a usage line (or a correction of one), with their tokens of
    the line's class; their sum is the line's quantity. Exit 1 if it is not."""
    with user_errors():
        found = jobs.explain(resolve_db(db), invoice_id, line, out_file)
    render.explained(out, found, invoice_id, line, show, out_file)
    if not found.adds_up:
        warn("the requests do not add up to the line: a list price was re-rated into an "
             "issued month, so not only requests changed it (docs/invoice-schema.md).")  # fmt: skip
        raise typer.Exit(1)


export_app = typer.Typer(help="Billing data for other tools.", no_args_is_help=True)


@export_app.command("focus")
def export_focus(
    month_text: MonthOption = None,
    out_file: Annotated[
        Path, typer.Option("--out", help="File to write: CSV, or Parquet if it ends in .parquet.")
    ] = Path("focus.csv"),
    tenant: TenantOption = None,
    issuer: IssuerOption = "meterhouse",
    db: DbOption = None,
) -> None:
    """Write a month's invoice lines as FOCUS billing rows (the version is printed, and named
    in docs/focus-export.md): one row per line, BilledCost summing to each invoice's total,
    corrections as ChargeClass Correction. A tenant whose rows fail the export's check is
    left out by name and the others are written (exit 1)."""
    with user_errors():
        when = month(month_text)
        rows, left_out, version = jobs.export_focus(resolve_db(db), when, tenant or [], issuer,
                                                    out_file)  # fmt: skip
    invoices = rows["InvoiceId"].n_unique()
    out.print(f"wrote {len(rows):,} FOCUS {version} rows of {invoices:,} invoice(s) for "
              f"{when:%Y-%m} to {out_file}", highlight=False)  # fmt: skip
    refused(left_out, f"no FOCUS rows written for {when:%Y-%m}")
