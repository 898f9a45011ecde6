"""The `meterhouse` command line: thin commands that parse, call one function and print."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, cast, get_args

import duckdb
import typer
from rich.table import Table

from meterhouse.core.text import csv_safe
from meterhouse.errors import MeterhouseError
from meterhouse.progress import progress
from meterhouse.terminal import SafeConsole, error_text, printable_line
from meterhouse.warehouse.db import DB_ENV, connect, describe_duckdb_error, resolve_db
from meterhouse.warehouse.ingest import IngestResult, ingest
from meterhouse.warehouse.spark import (
    TARGET_ENV,
    Target,
    spark_marts,
)
from meterhouse.warehouse.summary import Summary, summarize

app = typer.Typer(
    help="meterhouse: token-usage billing warehouse. Loads nightly usage exports into DuckDB "
    "and builds the billing models with dbt.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = SafeConsole(soft_wrap=True)
err = SafeConsole(stderr=True, soft_wrap=True)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar=DB_ENV,
        help=f"DuckDB warehouse file (default: meterhouse.duckdb; env {DB_ENV}).",
        show_default=False,
    ),
]

TargetOption = Annotated[
    str,
    typer.Option(
        "--target",
        envvar=TARGET_ENV,
        help=f"Engine the models run on: duckdb (the warehouse file) or spark (dbt-spark, PySpark "
        f"local or a cluster; tables beside the warehouse file; docs/scale-out.md). Env "
        f"{TARGET_ENV}.",
    ),
]

ContractsOption = Annotated[
    Path | None,
    typer.Option(
        "--contracts",
        envvar="METERHOUSE_CONTRACTS_DIR",
        help="Folder with tenant_contracts.csv, contract_volume_tiers.csv and credit_grants.csv "
        "(default: the shipped seeds/contracts; env METERHOUSE_CONTRACTS_DIR). Give the same "
        "folder every night: invoices follow the contracts of the latest build.",
        show_default=False,
    ),
]


def _target(name: str) -> Target:
    if name not in get_args(Target):
        raise MeterhouseError(f"--target {name}: choose duckdb or spark.")
    return cast(Target, name)


@contextmanager
def _marts(db: Path, target: Target) -> Iterator[duckdb.DuckDBPyConnection]:
    """The built warehouse, read-only: the DuckDB file, or the Spark build beside it."""
    if target == "spark":
        with spark_marts(db) as con:
            yield con
    else:
        with connect(db, read_only=True) as con:
            yield con


# What the command under way has committed so far, for the message if it is interrupted.
_kept: list[str] = []


def kept(what: str) -> None:
    """Record that `what` is committed, so an interruption after it says so."""
    _kept.append(what)


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can fix: one message on stderr, exit code 2, no traceback. So are a full
    disk, a file that cannot be written and a damaged warehouse, wherever they happen."""
    _kept.clear()
    try:
        yield
    except MeterhouseError as exc:
        err.print(error_text(str(exc)), soft_wrap=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        err.print(error_text(f"{exc.strerror or exc}{where}. Fix it and run this again."))
        raise typer.Exit(2) from None
    except duckdb.Error as exc:
        message = describe_duckdb_error(None, exc)
        if message is None:
            raise
        err.print(error_text(message))
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        done = "; ".join(_kept)
        err.print(
            f"interrupted: {done}; the step under way was rolled back."
            if done
            else "interrupted: nothing of the unfinished step was kept."
        )
        raise typer.Exit(130) from None


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the sample into.")],
    days: Annotated[int, typer.Option(min=1, help="Days of usage.")] = 30,
    tenants: Annotated[int, typer.Option(min=1, help="Number of tenants.")] = 20,
    events_per_day: Annotated[int, typer.Option(min=1, help="Requests per day, roughly.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 42,
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD).")
    ] = datetime(2026, 9, 1),
    fleet_scale: Annotated[
        int, typer.Option(min=1, help="Multiply the self-hosted GPU fleet (10 GPUs at 1).")
    ] = 1,
) -> None:
    """Write realistic sample usage exports (one Parquet file per day) with real-world dirt,
    GPU-hour telemetry of the self-hosted fleet, and the tenants' contracts and the GPU
    inventory (give them to nightly with --gpu-hours OUT/gpu_hours --contracts OUT/contracts)."""
    from meterhouse.paths import shared_data_dir
    from meterhouse.sample import generate_sample

    with user_errors():
        summary = generate_sample(
            out_dir, days=days, tenants=tenants, events_per_day=events_per_day, seed=seed,
            start=start.date(), shared_data=shared_data_dir(), fleet_scale=fleet_scale,
        )  # fmt: skip
    out.print(
        f"wrote {summary.rows_written:,} rows in {summary.files} files under {out_dir}/events "
        f"({summary.clean_events:,} distinct valid requests, {summary.duplicate_rows:,} "
        f"duplicates, {summary.conflict_rows:,} conflicts, {summary.bad_rows:,} bad rows, "
        f"{summary.late_rows:,} late)\ntokens from {summary.token_source}; "
        f"models from {summary.model_source}\n{summary.gpu_hours.rows_written:,} GPU-hour "
        f"rows under {out_dir}/gpu_hours\ntenant contracts and GPU inventory in "
        f"{out_dir}/contracts"
    )


def _print_ingest(result: IngestResult) -> None:
    for f in result.files:
        if f.skipped:
            out.print(f"skipped {f.path}: {f.skipped}", highlight=False)
        else:
            out.print(
                f"loaded  {f.path}: read {f.rows_read:,} = loaded {f.rows_loaded:,} + duplicate "
                f"{f.rows_duplicate:,} + quarantined {f.rows_quarantined:,}", highlight=False
            )  # fmt: skip
    read, loaded = result.total("rows_read"), result.total("rows_loaded")
    dup, bad = result.total("rows_duplicate"), result.total("rows_quarantined")
    new = sum(1 for f in result.files if not f.skipped)
    out.print(
        f"{new} new file(s), {len(result.files) - new} already loaded. Rows read {read:,} = "
        f"loaded {loaded:,} + duplicates {dup:,} + quarantined {bad:,}."
    )


def _ingest(db: Path, paths: list[Path], allow_changed: bool, gpu_hours: bool) -> IngestResult:
    from meterhouse.schemas.events import EVENTS
    from meterhouse.schemas.gpu_hours import GPU_HOURS

    dataset = GPU_HOURS if gpu_hours else EVENTS
    with connect(db) as con, progress(f"ingest {dataset.name}") as report:
        return ingest(con, paths, dataset=dataset, allow_changed=allow_changed, report=report)


@app.command(name="ingest")
def ingest_command(
    paths: Annotated[list[Path], typer.Argument(help="Parquet files or folders of them.")],
    db: DbOption = None,
    allow_changed: Annotated[
        bool,
        typer.Option(help="Load a file again although its content changed since it was loaded."),
    ] = False,
    gpu_hours: Annotated[
        bool,
        typer.Option(
            "--gpu-hours",
            help="The files are GPU-hour telemetry (docs/gpu-hour-contract.md), not events.",
        ),
    ] = False,
) -> None:
    """Load Parquet usage exports: validate, quarantine bad rows, deduplicate on request_id.

    With --gpu-hours, load GPU-hour telemetry the same way, deduplicated on (gpu_id, hour_at).
    Files load in path order in one transaction: all new files or none. A file already loaded
    is skipped. Prints rows read = loaded + duplicates + quarantined.
    """
    with user_errors():
        _print_ingest(_ingest(resolve_db(db), paths, allow_changed, gpu_hours))


@app.command()
def build(
    db: DbOption = None,
    select: Annotated[str | None, typer.Option(help="dbt selector, e.g. 'staging'.")] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(help="Rebuild incremental models from all events (after editing seeds)."),
    ] = False,
    contracts: ContractsOption = None,
    target: TargetOption = "duckdb",
) -> None:
    """Run `dbt build` (models and their tests) on the warehouse, or on Spark with
    --target spark."""
    from meterhouse.warehouse.dbt import run_dbt

    extra = (["--select", select] if select else []) + (["--full-refresh"] if full_refresh else [])
    with user_errors():
        run_dbt("build", resolve_db(db), extra, contracts, _target(target))


@app.command()
def nightly(
    events: Annotated[Path, typer.Option(help="Folder of the nightly Parquet exports.")],
    gpu_hours: Annotated[
        Path | None,
        typer.Option(
            "--gpu-hours",
            help="Folder of GPU-hour telemetry exports of the self-hosted fleet (optional).",
        ),
    ] = None,
    db: DbOption = None,
    contracts: ContractsOption = None,
    target: TargetOption = "duckdb",
) -> None:
    """The nightly job: ingest what is new under --events (and --gpu-hours), build and test
    the models, then forecast every tenant and model 30 days ahead (fct_usage_forecast).

    The loader always writes the warehouse file; with --target spark the models are built on
    Spark from its raw tables."""
    from meterhouse.warehouse.dbt import check_contracts, node_names, run_dbt

    with user_errors():
        engine = _target(target)
        if contracts is not None:
            check_contracts(contracts)  # before loading anything
        path = resolve_db(db)
        _print_ingest(_ingest(path, [events], allow_changed=False, gpu_hours=False))
        if gpu_hours is not None:
            _print_ingest(_ingest(path, [gpu_hours], allow_changed=False, gpu_hours=True))
        # dbt unit tests check the SQL logic, not the night's data: `make test` and
        # `meterhouse build` run them; the nightly job skips them.
        kept("the new files are loaded and kept")
        built = run_dbt("build", path, ["--exclude", "test_type:unit"], contracts, engine,
                        check=False)  # fmt: skip
        if built.billing:
            raise MeterhouseError(
                f"the billing marts did not build: {node_names(built.billing)}. The loaded "
                "files are kept and invoices stay as of the last good build; fix the cause and "
                "run the nightly again (it loads nothing twice)."
            )
        if built.returncode:  # only marts billing does not depend on (docs/decisions/0013)
            err.print(error_text(f"these marts did not build: {node_names(built.failed)}; the "
                                 "billing marts did. Going on; exit 1 at the end."))  # fmt: skip
        _print_summary(path, engine)
        try:
            _forecast(path, [], 30, None, engine)
        except MeterhouseError as exc:
            err.print(error_text(f"the forecast failed: {exc}"))
            raise typer.Exit(1) from None
        if built.returncode:
            raise typer.Exit(1)


MonthOption = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m"], help="Billing month, YYYY-MM (UTC).", show_default=False),
]
TenantOption = Annotated[
    list[str] | None, typer.Option(help="Only this tenant; repeat for several.")
]
IssuerOption = Annotated[
    str, typer.Option(envvar="METERHOUSE_ISSUER", help="Issuer named on the invoice.")
]
AllowUnpricedOption = Annotated[
    bool,
    typer.Option(help="Invoice tenants with unpriced usage anyway (that usage is left out)."),
]

invoice_app = typer.Typer(
    help="Tenant invoices: write them (drafts, or issued ones as issued), issue them, trace "
    "their lines to requests.",
)
app.add_typer(invoice_app, name="invoice")


def _month(month: datetime | None) -> datetime:
    if month is None:
        raise MeterhouseError("give the billing month: --month YYYY-MM.")
    return month


@invoice_app.callback(invoke_without_command=True)
def invoice(
    ctx: typer.Context,
    month: MonthOption = None,
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
    target: TargetOption = "duckdb",
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
    from meterhouse.documents import FORMATS, render_invoices
    from meterhouse.files import write_files
    from meterhouse.warehouse.invoices import read_month

    with user_errors():
        chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
        wrong = sorted(set(chosen) - set(FORMATS)) or ([] if chosen else ["(none)"])
        if wrong:
            raise MeterhouseError(f"--format {', '.join(wrong)}: choose from {', '.join(FORMATS)}.")
        when = _month(month)
        with _marts(resolve_db(db), _target(target)) as con:
            found = read_month(con, when.date(), tenant or [], allow_unpriced)
        with progress("invoices") as report:
            rendered, refused = render_invoices(found, chosen, issuer, report)
            files = write_files(out_dir, rendered)
        out.print(f"wrote {len(files):,} files for {when:%Y-%m} under {out_dir}", highlight=False)
        _refused({**found.refused, **refused}, f"no invoice written for {when:%Y-%m}")


@invoice_app.command("issue")
def invoice_issue(
    month: MonthOption = None,
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
    from meterhouse.warehouse.dbt import run_dbt
    from meterhouse.warehouse.invoices import issue_month

    with user_errors():
        when, path = _month(month), resolve_db(db)
        now = datetime.now(UTC).replace(tzinfo=None)
        with connect(path) as con:
            done = issue_month(con, when.date(), tenant or [], allow_unpriced, issuer, now)
        if done.already:
            names = ", ".join(done.already[:5]) + (", ..." if len(done.already) > 5 else "")
            out.print(f"{len(done.already):,} invoice(s) of {when:%Y-%m} were issued before and "
                      f"stay as they are ({names}).", highlight=False)  # fmt: skip
        if done.issued:
            kept(f"{len(done.issued):,} invoice(s) of {when:%Y-%m} were issued and are kept "
                 f"(run 'meterhouse invoice issue --month {when:%Y-%m}' again to refresh the "
                 "billing marts)")  # fmt: skip
            out.print(f"issued {len(done.issued):,} invoice(s) for {when:%Y-%m}; refreshing the "
                      "billing marts", highlight=False)  # fmt: skip
        elif done.marts_behind:
            out.print("the billing marts still showed issued invoices as drafts (an earlier issue "
                      "was interrupted): refreshing them")  # fmt: skip
        elif not done.refused:
            out.print("nothing to issue.")
        if done.issued or done.marts_behind:
            run_dbt("build", path, ["--select", "source:meterhouse.issued_invoices+",
                                    "source:meterhouse.issued_invoice_lines+",
                                    "--exclude", "test_type:unit"])  # fmt: skip
        _refused(done.refused, f"not issued for {when:%Y-%m}")


def _refused(refused: dict[str, str], what: str) -> None:
    """Name each tenant that was refused and why, then exit 1: the others were done."""
    for tenant, why in sorted(refused.items()):
        err.print(f"refused {printable_line(tenant)}: {what}: {why}")
    if refused:
        err.print(f"{len(refused):,} tenant(s) refused; the others were done.")
        raise typer.Exit(1)


@invoice_app.command("explain")
def invoice_explain(
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
    from meterhouse.files import write_whole
    from meterhouse.warehouse.invoices import explain_line

    with user_errors():
        with connect(resolve_db(db), read_only=True) as con:
            found = explain_line(con, invoice_id, line)
        if out_file is not None:
            write_whole(out_file, csv_safe(found.requests).write_csv().encode())
    row, requests = found.line, found.requests
    traced = int(requests["quantity_tokens"].sum())
    price = Decimal(str(row["unit_price_per_1m_tokens"])).normalize()
    what = f"{row['model_id']} {row['token_class']} at {price:f} {row['currency']} per 1M tokens"
    if row["line_type"] == "correction":
        what = f"correction of {row['corrects_invoice_id']}: {what}"
    table = Table("request_id", "event_at (UTC)", "tokens",
                  title=f"{invoice_id} line {line}: {what}")  # fmt: skip
    for request_id, event_at, tokens in requests.head(show).rows():
        table.add_row(request_id, f"{event_at:%Y-%m-%d %H:%M:%S}", f"{tokens:,}")
    out.print(table)
    out.print(f"{len(requests):,} requests, {traced:,} tokens; the line bills "
              f"{row['quantity_tokens']:,} tokens for {row['amount']} {row['currency']}."
              + (f" All requests written to {out_file}." if out_file else ""),
              highlight=False)  # fmt: skip
    if traced != row["quantity_tokens"]:
        err.print(
            error_text(
                "the requests do not add up to the line: it was changed by a "
                "contract edit, not only by requests (docs/invoice-schema.md)."
            )
        )
        raise typer.Exit(1)


forecast_app = typer.Typer(
    help="Token forecasts per tenant and model, and how accurate they have been.",
)
app.add_typer(forecast_app, name="forecast")


@forecast_app.callback(invoke_without_command=True)
def forecast(
    ctx: typer.Context,
    tenant: TenantOption = None,
    horizon: Annotated[int, typer.Option(min=1, max=366, help="Days ahead.")] = 30,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Also write forecast.csv and a PNG chart per tenant here."),
    ] = None,
    db: DbOption = None,
    target: TargetOption = "duckdb",
) -> None:
    """Forecast daily tokens --horizon days ahead, with 80% and 95% intervals, for every tenant
    and model (or only --tenant), store them (fct_usage_forecast) and print a summary.

    Each series gets ETS or the seasonal-naive forecast, whichever did better on its last
    week; new tenants get a recent mean (docs/forecasting.md)."""
    if ctx.invoked_subcommand is not None:
        return
    with user_errors():
        _forecast(resolve_db(db), tenant or [], horizon, out_dir, _target(target))


def _forecast(
    path: Path, tenants: list[str], horizon: int, out_dir: Path | None, target: Target
) -> None:
    from meterhouse.core.forecast import forecast_summary
    from meterhouse.files import write_files
    from meterhouse.warehouse.forecast import (
        make_forecasts,
        read_series,
        store_forecasts,
        tenant_charts,
    )

    with _marts(path, target) as con:
        series = read_series(con, tenants)
    with progress("forecast") as report:
        report(f"{len(series.items):,} series, {horizon} days ahead", 0, 0)
        rows = make_forecasts(series, horizon)
    with connect(path) as con:
        store_forecasts(con, rows)
    if target == "spark":  # the forecast and projection marts Spark published are copies
        from meterhouse.warehouse.dbt import run_dbt

        run_dbt("run", path, ["--select", "fct_usage_forecast fct_spend_projection"], None, target)
    if out_dir is not None:
        with progress("charts") as report:
            write_files(out_dir, {"forecast.csv": csv_safe(rows).write_csv().encode(),
                                  **tenant_charts(series, rows, report)})  # fmt: skip
    summary, methods = forecast_summary(rows)
    title = f"token forecasts from {series.through:%Y-%m-%d} (fct_usage_forecast)"
    table = Table("tenant", "method", "tomorrow (80% interval)", f"next {horizon} days",
                  title=title)  # fmt: skip
    for key, method, tomorrow, low, high, total in summary.head(25).rows():
        table.add_row(key, method, f"{tomorrow:,} ({low:,}-{high:,})", f"{total:,}")
    out.print(table)
    counts = ", ".join(f"{n} {kind} series by {m}" for kind, m, n in methods.rows())
    out.print(f"{counts}; the {min(25, len(summary))} largest of {len(summary)} tenants shown.",
              highlight=False)  # fmt: skip


@forecast_app.command("backtest")
def forecast_backtest(
    horizon: Annotated[
        list[int] | None, typer.Option(min=1, help="Days ahead; repeat (default: 7 and 30).")
    ] = None,
    origins: Annotated[int, typer.Option(min=1, help="Rolling origins, a week apart.")] = 4,
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
    db: DbOption = None,
) -> None:
    """Rolling-origin backtest of the tenants' forecasts: each origin's forecast sees only the
    days before it. Prints MASE, sMAPE and 80%/95% interval coverage per horizon and overall,
    for the chosen method (auto) and the seasonal-naive baseline (same weekday last week)."""
    from meterhouse.warehouse.forecast import backtest_table, read_series

    horizons = tuple(horizon or [7, 30])
    with user_errors():
        with connect(resolve_db(db), read_only=True) as con:
            series = read_series(con, tenant or [], with_models=False)
        with progress("backtest") as report:
            report(f"{len(series.items)} series, {len(horizons)} horizons, {origins} origins", 0, 0)
            scores = backtest_table(series, horizons, origins)
    if as_json:
        out.print_json(data=scores.to_dicts())
        return
    table = Table("horizon", "method", "forecasts", "MASE", "sMAPE", "80% covered",
                  "95% covered", "ETS / naive / mean",
                  title="backtest (lower MASE is better; 80% should cover ~80%)")  # fmt: skip
    for r in scores.iter_rows(named=True):
        used = " / ".join(
            f"{r[f'share_{m}']:.0%}" for m in ("ets", "seasonal_naive", "recent_mean")
        )
        table.add_row(
            "all" if r["horizon_days"] == 0 else f"{r['horizon_days']} days", r["method"],
            str(r["forecasts"]), f"{r['mase']:.3f}", f"{r['smape']:.1%}",
            f"{r['covered_80']:.1%}", f"{r['covered_95']:.1%}", used,
        )  # fmt: skip
    out.print(table)


export_app = typer.Typer(help="Billing data for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("focus")
def export_focus(
    month: MonthOption = None,
    out_file: Annotated[
        Path, typer.Option("--out", help="File to write: CSV, or Parquet if it ends in .parquet.")
    ] = Path("focus.csv"),
    tenant: TenantOption = None,
    issuer: IssuerOption = "meterhouse",
    db: DbOption = None,
) -> None:
    """Write a month's invoice lines as FOCUS 1.2 billing rows (docs/focus-export.md): one row
    per line, BilledCost summing to each invoice's total, corrections as ChargeClass
    Correction."""
    from meterhouse.warehouse.focus import read_focus, write_focus

    with user_errors():
        when = _month(month)
        with connect(resolve_db(db), read_only=True) as con:
            rows = read_focus(con, when.date(), tenant or [], issuer)
        write_focus(rows, out_file)
    invoices = rows["InvoiceId"].n_unique()
    out.print(f"wrote {len(rows):,} FOCUS rows of {invoices:,} invoice(s) for {when:%Y-%m} to "
              f"{out_file}", highlight=False)  # fmt: skip


@app.command("reconcile")
def reconcile_command(
    vendor_bill: Annotated[
        Path, typer.Option("--vendor-bill", help="The vendor's FOCUS 1.2 bill: CSV or Parquet.")
    ],
    month: Annotated[str, typer.Option(help="Month to reconcile, YYYY-MM (UTC).")],
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
    from meterhouse.core.money import money_as_text
    from meterhouse.core.vendor_bills import parse_month, parse_tolerance
    from meterhouse.files import write_whole
    from meterhouse.warehouse.reconcile import reconcile_bill

    with user_errors():
        when, ratio = parse_month(month), parse_tolerance(tolerance)
        if out_file is not None and out_file.suffix.lower() not in (".csv", ".json"):
            raise MeterhouseError(f"--out {out_file}: the name must end in .csv or .json.")
        with connect(resolve_db(db), read_only=True) as con:
            done = reconcile_bill(con, vendor_bill, when, ratio, provider)
        variances = done.result.variances
        if out_file is not None:
            text = (
                money_as_text(variances).write_json()
                if out_file.suffix.lower() == ".json"
                else csv_safe(variances).write_csv(datetime_format="%Y-%m-%dT%H:%M:%SZ")
            )
            write_whole(out_file, text.encode())
    table = Table("class", "rows", "metered USD", "billed USD", "difference USD", "gates",
                  title=f"{vendor_bill.name} vs metered '{done.provider}' usage, "
                  f"{when:%Y-%m}, tolerance {ratio * 100:f}%")  # fmt: skip
    for kind, rows, expected, billed, difference, failing in done.result.summary.rows():
        table.add_row(kind, f"{rows:,}", _usd(expected), _usd(billed), _usd(difference),
                      "fails" if failing else "")  # fmt: skip
    out.print(table)
    failing_rows = int(done.result.rows["is_failing"].sum())
    written = f" Variance rows written to {out_file}." if out_file else ""
    if failing_rows:
        err.print(f"{failing_rows:,} difference(s) beyond tolerance.{written}", highlight=False)
        raise typer.Exit(1)
    out.print(f"everything within tolerance.{written}", highlight=False)


def _usd(amount: Decimal | None) -> str:
    """Display only: to the cent, half away from zero (docs/decisions/0005)."""
    return "" if amount is None else f"{amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


sample_app = typer.Typer(help="Demo inputs built from a generated sample.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")


@sample_app.command("vendor-bill")
def sample_vendor_bill(
    sample: Annotated[Path, typer.Option(help="Folder written by 'meterhouse generate'.")],
    month: Annotated[str, typer.Option(help="Month to bill, YYYY-MM.")],
    provider: Annotated[str, typer.Option(help="Provider of our events to bill.")] = "openai",
    catalog: Annotated[
        Path | None,
        typer.Option(
            help="LiteLLM catalog the warehouse imported (default: the shipped "
            "snapshot seed, as a warehouse without an import prices)."
        ),
    ] = None,
    clean: Annotated[bool, typer.Option(help="Inject no discrepancies.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the injections.")] = 42,
) -> None:
    """Write a vendor's FOCUS 1.2 bill for --month from the sample's events, at list price,
    with known discrepancies injected (listed in a .truth.json beside it)."""
    from meterhouse.core.vendor_bills import parse_month
    from meterhouse.sample.vendor_bill import write_vendor_bill

    with user_errors():
        path = write_vendor_bill(sample, parse_month(month), provider, seed, catalog=catalog,
                                 inject=not clean)  # fmt: skip
    out.print(f"wrote {path} (injected discrepancies in {path.with_suffix('.truth.json')})",
              highlight=False)  # fmt: skip


prices_app = typer.Typer(
    help="The vendor price book (what we pay per 1M tokens), with its history.",
    no_args_is_help=True,
)
app.add_typer(prices_app, name="prices")


@prices_app.command("import")
def prices_import(
    litellm: Annotated[
        Path,
        typer.Option(help="LiteLLM's model_prices_and_context_window.json."),
    ],
    effective_from: Annotated[
        datetime,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
            help="When these prices start to apply (UTC), e.g. the catalog's snapshot date.",
        ),
    ],
    db: DbOption = None,
) -> None:
    """Import list prices from a LiteLLM catalog; changed prices close the old ones.

    Usage is always rated with the price in force at the event's time, so an import never
    changes what older usage cost.
    """
    from meterhouse.core.prices import catalog_prices, load_catalog
    from meterhouse.warehouse.prices import import_prices

    with user_errors():
        if not litellm.is_file():
            raise MeterhouseError(f"{litellm}: no such file. Give the path of the catalog JSON.")
        prices = catalog_prices(load_catalog(litellm.read_bytes(), str(litellm)))
        with connect(resolve_db(db)) as con:
            done = import_prices(con, prices, effective_from, source=f"litellm:{litellm.name}")
    out.print(
        f"{done.models:,} models: {done.opened:,} prices new, {done.changed:,} changed "
        f"(old ones closed at {effective_from:%Y-%m-%d %H:%M}), {done.unchanged:,} unchanged."
    )


@app.command()
def status(db: DbOption = None, target: TargetOption = "duckdb") -> None:
    """Show what the warehouse holds: loads, events, quarantine, built models."""
    with user_errors():
        _print_summary(resolve_db(db), _target(target))


def _print_summary(db: Path, target: Target) -> None:
    with _marts(db, target) as con:
        s: Summary = summarize(con)
    span = f"{s.first_date} to {s.last_date}" if s.first_date else "no events yet"
    out.print(f"warehouse {db}", highlight=False)
    out.print(
        f"{s.files} file(s) loaded: rows read {s.rows_read:,} = loaded {s.rows_loaded:,} + "
        f"duplicates {s.rows_duplicate:,} + quarantined {s.rows_quarantined:,}\n"
        f"{s.events:,} events, {s.tenants} tenants, {s.models} model names, {span}"
    )
    if s.held:
        out.print(f"of the loaded events, {s.held:,} are quarantined after loading and left out "
                  "of the marts ('meterhouse quarantine --release' restores them)")  # fmt: skip
    if s.gpu_hours[0]:
        files, read, loaded, duplicate, quarantined = s.gpu_hours
        out.print(
            f"{files} GPU telemetry file(s): rows read {read:,} = GPU-hours loaded {loaded:,} + "
            f"duplicates {duplicate:,} + quarantined {quarantined:,}"
        )
    if s.api_cost_usd is not None:
        cost = s.api_cost_usd.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        out.print(
            f"vendor cost at list price: USD {cost:,} (shown to the cent); "
            f"{s.unpriced_requests:,} requests unpriced (see fct_unpriced_usage)"
        )
    if s.invoices:
        table = Table("month", "status", "currency", "invoices", "total", "with unpriced usage",
                      title="invoices (fct_invoices)")  # fmt: skip
        for month, status, currency, count, total, unpriced in s.invoices:
            table.add_row(f"{month:%Y-%m}", status, currency, str(count), f"{total:,}",
                          str(unpriced))  # fmt: skip
        out.print(table)
    if s.anomalies:
        table = Table("kind", "severity", "days", "tenants",
                      title="anomalies in the last 7 days (fct_usage_anomalies)")  # fmt: skip
        for kind, severity, days, tenants in s.anomalies:
            table.add_row(kind, severity, str(days), str(tenants))
        out.print(table)
    if s.quarantine_by_rule:
        table = Table("quarantined because", "rows", title="quarantine (raw.quarantined_events)")
        for rule, n in s.quarantine_by_rule:
            table.add_row(rule, f"{n:,}")
        out.print(table)
    if s.dbt_relations:
        table = Table("schema", "mart", "rows", title="marts")
        for schema, name, n in s.dbt_relations:
            table.add_row(schema, name, f"{n:,}")
        out.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()


report_app = typer.Typer(help="Cost and margin reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")

FormatOption = Annotated[
    str, typer.Option("--format", help="table (for people) or json (for machines, on stdout).")
]
ReportOutOption = Annotated[
    Path | None, typer.Option("--out", help="Also write the rows, unrounded, to this CSV file.")
]
REPORT_COLUMNS = {
    "cost": {
        "model_id": "model", "hardware": "hardware", "input_tokens": "input tokens",
        "output_tokens": "output tokens", "cost_usd": "cost USD",
        "input_cost_usd_per_1m_tokens": "input USD/1M", "output_cost_usd_per_1m_tokens":
        "output USD/1M", "cost_usd_per_1m_tokens": "blended USD/1M",
        "mean_gpu_utilization_ratio": "GPU busy",
    },
    "margin": {
        "tenant_id": "tenant", "invoice_id": "invoice", "revenue_usd": "revenue USD",
        "api_cost_usd": "API cost USD", "gpu_cost_usd": "GPU cost USD",
        "failed_request_cost_usd": "failed req. USD", "gross_margin_usd": "margin USD",
        "margin_ratio": "margin", "is_loss": "loss",
    },
}  # fmt: skip


def _cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name.endswith("_ratio"):  # a ratio, not money
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    if isinstance(value, Decimal):
        return _usd(value)
    if isinstance(value, bool):
        return "LOSS" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _report(
    kind: str,
    month: datetime | None,
    fmt: str,
    out_file: Path | None,
    db: Path | None,
    target: str,
) -> None:
    from meterhouse.core.money import money_as_text
    from meterhouse.files import write_whole
    from meterhouse.warehouse.reports import month_cost, month_margin

    with user_errors():
        if fmt not in ("table", "json"):
            raise MeterhouseError(f"--format {fmt}: choose table or json.")
        when = _month(month)
        with _marts(resolve_db(db), _target(target)) as con:
            rows = (month_cost if kind == "cost" else month_margin)(con, when.date())
        if out_file is not None:
            write_whole(out_file, csv_safe(rows).write_csv().encode())
    if fmt == "json":
        typer.echo(money_as_text(rows).write_json())
        return
    columns = REPORT_COLUMNS[kind]
    table = Table(*columns.values(), title=f"{kind} {when:%Y-%m} (USD rounded to the cent)")
    for row in rows.select(list(columns)).iter_rows(named=True):
        table.add_row(*(_cell(name, value) for name, value in row.items()))
    out.print(table)
    if out_file is not None:
        out.print(f"wrote {len(rows):,} rows to {out_file}", highlight=False)


@report_app.command("cost")
def report_cost(
    month: MonthOption = None,
    fmt: FormatOption = "table",
    out_file: ReportOutOption = None,
    db: DbOption = None,
    target: TargetOption = "duckdb",
) -> None:
    """What serving each model cost in --month, per hardware (GPU type, or api:<provider>):
    tokens, cost and cost per 1M tokens (fct_cost_per_1m_tokens summed over the month;
    docs/gpu-cost.md)."""
    _report("cost", month, fmt, out_file, db, target)


@report_app.command("margin")
def report_margin(
    month: MonthOption = None,
    fmt: FormatOption = "table",
    out_file: ReportOutOption = None,
    db: DbOption = None,
    target: TargetOption = "duckdb",
) -> None:
    """Revenue, cost and gross margin per tenant for --month, worst first (fct_tenant_margin).
    Tenants served at a loss are marked LOSS."""
    _report("margin", month, fmt, out_file, db, target)


@app.command("quarantine")
def quarantine_command(
    request_ids: Annotated[
        list[str],
        typer.Option("--request-id", help="A loaded event's request_id; repeat for several."),
    ],
    reason: Annotated[
        str | None,
        typer.Option(help="Why: recorded with who and when (required, except with --release)."),
    ] = None,
    release: Annotated[
        bool,
        typer.Option("--release", help="Release held events: back in the marts, as loaded."),
    ] = False,
    by: Annotated[
        str | None,
        typer.Option(envvar="METERHOUSE_OPERATOR", help="Who (default: your login name)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Quarantine loaded events after the fact: they stay stored but leave the marts (the
    next build re-rates their days; docs/event-contract.md). --release undoes it exactly.
    Unknown request ids are refused by name, and nothing is changed."""
    from meterhouse.warehouse.holds import default_operator, hold_events, release_events

    with user_errors():
        path = resolve_db(db)
        if not path.exists():
            raise MeterhouseError(f"no warehouse at {path}: nothing to quarantine.")
        if not release and not (reason and reason.strip()):
            raise MeterhouseError("give the reason: --reason TEXT (recorded with who and when).")
        now = datetime.now(UTC).replace(tzinfo=None)
        with connect(path) as con:
            change = (release_events if release else hold_events)(
                con, request_ids, reason=reason or "", by=by or default_operator(), at=now
            )
    events = change.events
    days = ", ".join(f"{d:%Y-%m-%d}" for d in sorted(set(events["usage_date"])))
    tenants = ", ".join(sorted(set(events["tenant_id"])))
    out.print(
        f"{'released' if release else 'quarantined'} {events.height:,} event(s) of {tenants} "
        f"(change {change.change_id}). The next 'meterhouse build' (or the nightly job) re-rates "
        f"{days}.",
        highlight=False,
    )
    if change.issued_invoices:
        out.print(
            f"issued already: {', '.join(change.issued_invoices)}. They do not change; the "
            "difference becomes correction lines on each tenant's next open invoice.",
            highlight=False,
        )
