"""The `report` commands (cost and margin of a month) and `reconcile` of a vendor bill."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from meterhouse import jobs, render
from meterhouse.commands.common import err, out, user_errors
from meterhouse.commands.options import DbOption, MonthOption, TargetOption, month, target
from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.db import resolve_db

app = typer.Typer(help="Cost and margin reports.", no_args_is_help=True)

FormatOption = Annotated[
    str, typer.Option("--format", help="table (for people) or json (for machines, on stdout).")
]
ReportOutOption = Annotated[
    Path | None, typer.Option("--out", help="Also write the rows, unrounded, to this CSV file.")
]


def _report(kind: str, month_text: str | None, fmt: str, out_file: Path | None,
            db: Path | None, target_name: str) -> None:  # fmt: skip
    from meterhouse.core.money import money_as_text

    with user_errors():
        if fmt not in ("table", "json"):
            raise MeterhouseError(f"--format {fmt}: choose table or json.")
        when = month(month_text)
        rows = jobs.report(kind, resolve_db(db), target(target_name), when, out_file)
    if fmt == "json":
        typer.echo(money_as_text(rows).write_json())
        return
    render.report(out, kind, rows, when)
    if out_file is not None:
        out.print(f"wrote {len(rows):,} rows to {out_file}", highlight=False)


@app.command("cost")
def cost(
    month_text: MonthOption = None,
    fmt: FormatOption = "table",
    out_file: ReportOutOption = None,
    db: DbOption = None,
    target_name: TargetOption = "duckdb",
) -> None:
    """What serving each model cost in --month, per hardware (GPU type, or api:<provider>):
    tokens, cost and cost per 1M tokens (fct_cost_per_1m_tokens summed over the month;
    docs/gpu-cost.md)."""
    _report("cost", month_text, fmt, out_file, db, target_name)


@app.command("margin")
def margin(
    month_text: MonthOption = None,
    fmt: FormatOption = "table",
    out_file: ReportOutOption = None,
    db: DbOption = None,
    target_name: TargetOption = "duckdb",
) -> None:
    """Revenue, cost and gross margin per tenant for --month, worst first (fct_tenant_margin).
    Tenants served at a loss are marked LOSS."""
    _report("margin", month_text, fmt, out_file, db, target_name)


def reconcile(
    vendor_bill: Annotated[
        Path, typer.Option("--vendor-bill", help="The vendor's FOCUS 1.2 bill: CSV or Parquet.")
    ],
    month_text: Annotated[str, typer.Option("--month", help="Month to reconcile, YYYY-MM (UTC).")],
    tolerance: Annotated[
        str, typer.Option(help="Largest relative token difference that passes, e.g. 0.5%.")
    ] = "0.5%",
    provider: Annotated[
        str | None,
        typer.Option(
            help="Our events' provider (default: the bill's ServiceProviderName, "
            "lower case, letters and digits only)."
        ),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write every variance row here: .csv, or .json."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Reconcile a vendor's bill with our metered usage, by charge period, model and token
    class (docs/reconciliation.md). Exit 0 when every difference is within tolerance or
    informational, 1 when not (or on an error)."""
    from meterhouse.core.vendor_bills import parse_tolerance

    with user_errors():
        when, ratio = month(month_text), parse_tolerance(tolerance)
        if out_file is not None and out_file.suffix.lower() not in (".csv", ".json"):
            raise MeterhouseError(f"--out {out_file}: the name must end in .csv or .json.")
        done = jobs.reconcile(resolve_db(db), vendor_bill, when, ratio, provider, out_file)
    render.reconciliation(out, done, vendor_bill, when, ratio)
    failing_rows = int(done.result.rows["is_failing"].sum())
    written = f" Variance rows written to {out_file}." if out_file else ""
    if failing_rows:
        err.print(f"{failing_rows:,} difference(s) beyond tolerance.{written}", highlight=False)
        raise typer.Exit(1)
    out.print(f"everything within tolerance.{written}", highlight=False)
