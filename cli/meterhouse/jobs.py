"""The work behind the commands, one function per command: the multi-step ones (the nightly
job, issuing and refreshing, forecasting and storing) compose the loader, dbt and the
warehouse here, and the engine a command runs on is chosen here only, in `marts`. Jobs print
nothing: they return results for meterhouse.render, and tell a `Listener` as each step of a
long job finishes (docs/decisions/0014)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import duckdb

from meterhouse.core.text import csv_safe
from meterhouse.errors import MeterhouseError
from meterhouse.files import write_files, write_whole
from meterhouse.progress import progress
from meterhouse.warehouse.db import connect
from meterhouse.warehouse.dbt import check_contracts, node_names, run_dbt
from meterhouse.warehouse.lock import dbt_dir
from meterhouse.warehouse.spark import Target, spark_marts

# The heavy modules (Pandera, the forecaster, the PDF renderer) are imported by the job that
# needs them, so the command line starts fast.
if TYPE_CHECKING:
    import polars as pl

    from meterhouse.core.sources import Source
    from meterhouse.warehouse.holds import HoldChange
    from meterhouse.warehouse.ingest import IngestResult, SourceCheck
    from meterhouse.warehouse.invoices import Issued
    from meterhouse.warehouse.mart_checks import MartCheck
    from meterhouse.warehouse.prices import PriceImport
    from meterhouse.warehouse.reconcile import BillReconciliation
    from meterhouse.warehouse.summary import Summary


class Listener(Protocol):
    """Told as each step of a long job finishes, so the user sees it as it happens."""

    def loaded(self, result: IngestResult) -> None: ...
    def summarized(self, summary: Summary, db: Path) -> None: ...
    def forecast(self, done: Forecast) -> None: ...
    def issued(self, done: Issued, month: date) -> None: ...
    def warn(self, text: str) -> None: ...
    def kept(self, what: str) -> None: ...


@contextmanager
def marts(db: Path, target: Target) -> Iterator[duckdb.DuckDBPyConnection]:
    """The built warehouse, read-only: the DuckDB file, or the Spark build beside it."""
    if target == "spark":
        with spark_marts(db) as con:
            yield con
    else:
        with connect(db, read_only=True) as con:
            yield con


@dataclass(frozen=True)
class SourceChoice:
    """What `--source`, `--mapping` and `--tenant-from` said (docs/sources.md)."""

    name: str = "events"
    mapping: Path | None = None
    tenant_from: str | None = None


def source(choice: SourceChoice) -> Source:
    """The source chosen, its mapping file read and checked."""
    from meterhouse.core.sources.registry import make_source

    mapping = None
    if choice.mapping is not None:
        try:
            mapping = (choice.mapping.read_text(encoding="utf-8"), str(choice.mapping))
        except (OSError, UnicodeDecodeError) as error:
            raise MeterhouseError(
                f"{choice.mapping}: cannot read the mapping file ({error})."
            ) from error
    return make_source(choice.name, mapping, choice.tenant_from)


def load(db: Path, paths: Sequence[Path], allow_changed: bool, gpu_hours: bool,
         choice: SourceChoice = SourceChoice()) -> IngestResult:  # fmt: skip
    """Load usage exports of a source (or GPU-hour telemetry) through the one loader."""
    from meterhouse.schemas.events import EVENTS
    from meterhouse.schemas.gpu_hours import GPU_HOURS
    from meterhouse.warehouse.ingest import ingest

    if gpu_hours and choice.name != "events":
        raise MeterhouseError("--source is for usage exports; GPU-hour telemetry has its own "
                              "contract (docs/gpu-hour-contract.md).")  # fmt: skip
    dataset = GPU_HOURS if gpu_hours else EVENTS
    chosen = source(choice)  # a bad mapping is refused before the warehouse is opened
    with connect(db) as con, progress(f"ingest {dataset.name}") as report:
        return ingest(con, paths, dataset=dataset, allow_changed=allow_changed, report=report,
                      source=chosen)  # fmt: skip


def check_source(choice: SourceChoice, paths: Sequence[Path], rows: int) -> list[SourceCheck]:
    """`sources check`: each file as it would load (its first rows, and what would be
    quarantined and why), writing nothing."""
    from meterhouse.warehouse.ingest import check_files

    return check_files(paths, source(choice), rows)


def build(db: Path, select: str | None, full_refresh: bool, contracts: Path | None,
          target: Target, full_check: bool = False) -> MartCheck:  # fmt: skip
    """`dbt build`: the models and their tests, then the marts' checks (docs/decisions/0020)."""
    extra = (["--select", select] if select else []) + (["--full-refresh"] if full_refresh else [])
    since = None if full_check or full_refresh else _built_through(db, target)
    run_dbt("build", db, extra, contracts, target, check_after=since)
    return check_marts(db, target, since)


def _built_through(db: Path, target: Target) -> int | None:
    """The last change the marts were built through, before a build: its check reads the
    days changed after it. None (check every row) before the first build."""
    from meterhouse.warehouse.mart_checks import watermark

    try:
        with marts(db, target) as con:
            return watermark(con)
    except MeterhouseError:  # no warehouse or no Spark build yet
        return None


def check_marts(db: Path, target: Target, since: int | None) -> MartCheck:
    """The marts the commands read, against their dbt contracts and what a reader relies on:
    the rows of the days changed after change `since`, or every row when None."""
    from meterhouse.warehouse.mart_checks import check_marts as check

    with marts(db, target) as con:
        return check(con, dbt_dir(db) / "target", since)


@dataclass(frozen=True)
class Night:
    marts_failed: bool  # marts billing does not depend on did not build
    forecast_error: str | None
    checked: MartCheck

    @property
    def needs_attention(self) -> bool:
        return self.marts_failed or self.forecast_error is not None or bool(self.checked.failures)


def nightly(db: Path, events: Path, gpu_hours: Path | None, contracts: Path | None,
            target: Target, listener: Listener, full_check: bool = False,
            choice: SourceChoice = SourceChoice()) -> Night:  # fmt: skip
    """Load what is new, build and test the models, summarise, forecast 30 days ahead, check
    the marts of the days the night changed (all with `full_check`). A failing billing mart
    stops the night (the loads are kept); a failing mart billing does not depend on, or a
    failing forecast, does not (docs/decisions/0013, 0020)."""
    if contracts is not None:
        check_contracts(contracts)  # before loading anything
    listener.loaded(load(db, [events], allow_changed=False, gpu_hours=False, choice=choice))
    if gpu_hours is not None:
        listener.loaded(load(db, [gpu_hours], allow_changed=False, gpu_hours=True))
    # dbt unit tests check the SQL logic, not the night's data: `make test` and
    # `meterhouse build` run them; the nightly job skips them.
    listener.kept("the new files are loaded and kept")
    since = None if full_check else _built_through(db, target)
    built = run_dbt("build", db, ["--exclude", "test_type:unit"], contracts, target, check=False,
                    check_after=since)  # fmt: skip
    if built.billing:
        raise MeterhouseError(
            f"the billing marts did not build: {node_names(built.billing)}. The loaded "
            "files are kept and invoices stay as of the last good build; fix the cause and "
            "run the nightly again (it loads nothing twice)."
        )
    failed = built.returncode != 0
    if failed:
        listener.warn(f"these marts did not build: {node_names(built.failed)}; the billing "
                      "marts did. Going on; exit 1 at the end.")  # fmt: skip
    listener.summarized(summary(db, target), db)
    forecast_error = None
    try:
        listener.forecast(forecast(db, [], 30, None, target))
    except MeterhouseError as exc:
        forecast_error = f"the forecast failed: {exc}"
    return Night(failed, forecast_error, check_marts(db, target, since))


def summary(db: Path, target: Target) -> Summary:
    """What the warehouse holds."""
    from meterhouse.warehouse.summary import summarize

    with marts(db, target) as con:
        return summarize(con)


@dataclass(frozen=True)
class Written:
    files: list[Path]
    refused: dict[str, str]  # tenant: why no invoice was written


def write_invoices(db: Path, target: Target, month: date, tenants: list[str],
                   formats: list[str], issuer: str, allow_unpriced: bool,
                   out_dir: Path) -> Written:  # fmt: skip
    """The month's invoices as files: drafts from the marts, issued ones as issued."""
    from meterhouse.documents import render_invoices
    from meterhouse.warehouse.invoices import read_month

    with marts(db, target) as con:
        found = read_month(con, month, tenants, allow_unpriced)
    with progress("invoices") as report:
        rendered, refused = render_invoices(found, formats, issuer, report)
        files = write_files(out_dir, rendered)
    return Written(files, {**found.refused, **refused})


def issue(db: Path, month: date, tenants: list[str], allow_unpriced: bool, issuer: str,
          listener: Listener) -> Issued:  # fmt: skip
    """Issue the month's drafts, then refresh the billing marts that show them."""
    from meterhouse.warehouse.invoices import ISSUED_SELECTOR, issue_month

    now = datetime.now(UTC).replace(tzinfo=None)
    with connect(db) as con:
        done = issue_month(con, month, tenants, allow_unpriced, issuer, now)
    if done.issued:
        listener.kept(f"{len(done.issued):,} invoice(s) of {month:%Y-%m} were issued and are "
                      f"kept (run 'meterhouse invoice issue --month {month:%Y-%m}' again to "
                      "refresh the billing marts)")  # fmt: skip
    listener.issued(done, month)
    if done.issued or done.marts_behind:
        run_dbt("build", db, ["--select", *ISSUED_SELECTOR, "--exclude", "test_type:unit"])
    return done


@dataclass(frozen=True)
class TracedLine:
    line: dict[str, object]  # the invoice line
    requests: pl.DataFrame  # request_id, event_at, quantity_tokens
    traced_tokens: int

    @property
    def adds_up(self) -> bool:
        """Whether the requests sum to the line (a contract edit can change a line alone)."""
        return self.traced_tokens == self.line["quantity_tokens"]


def explain(db: Path, invoice_id: str, line: int, out_file: Path | None) -> TracedLine:
    """The requests behind an invoice line, written whole to `out_file` when given."""
    from meterhouse.warehouse.invoices import explain_line

    with connect(db, read_only=True) as con:
        found = explain_line(con, invoice_id, line)
    if out_file is not None:
        write_whole(out_file, csv_safe(found.requests).write_csv().encode())
    return TracedLine(found.line, found.requests, int(found.requests["quantity_tokens"].sum()))


@dataclass(frozen=True)
class Forecast:
    through: date  # the last day of history
    horizon: int
    summary: pl.DataFrame  # per tenant, largest first (core.forecast.forecast_summary)
    methods: pl.DataFrame  # series of each type per method


def forecast(db: Path, tenants: list[str], horizon: int, out_dir: Path | None,
             target: Target) -> Forecast:  # fmt: skip
    """Forecast every series `horizon` days ahead, store the forecasts in the warehouse (and
    refresh the marts built from them on Spark), and write a CSV and charts to `out_dir`."""
    from meterhouse.charts import tenant_charts
    from meterhouse.core.forecast import forecast_summary
    from meterhouse.warehouse.forecast import make_forecasts, read_series, store_forecasts

    with marts(db, target) as con:
        series = read_series(con, tenants)
    with progress("forecast") as report:
        report(f"{len(series.items):,} series, {horizon} days ahead", 0, 0)
        rows = make_forecasts(series, horizon)
    with connect(db) as con:
        store_forecasts(con, rows)
    if target == "spark":  # what Spark built from the forecasts are tables: rebuild them
        run_dbt("run", db, ["--select", "fct_usage_forecast+"], None, target)
    if out_dir is not None:
        with progress("charts") as report:
            write_files(out_dir, {"forecast.csv": csv_safe(rows).write_csv().encode(),
                                  **tenant_charts(series, rows, report)})  # fmt: skip
    summary_rows, methods = forecast_summary(rows)
    return Forecast(series.through, horizon, summary_rows, methods)


def backtest(db: Path, tenants: list[str], horizons: tuple[int, ...], origins: int
             ) -> pl.DataFrame:  # fmt: skip
    """Rolling-origin scores of the tenants' forecasts (warehouse.forecast.backtest_table)."""
    from meterhouse.warehouse.forecast import backtest_table, read_series

    with connect(db, read_only=True) as con:
        series = read_series(con, tenants, with_models=False)
    with progress("backtest") as report:
        report(f"{len(series.items)} series, {len(horizons)} horizons, {origins} origins", 0, 0)
        return backtest_table(series, horizons, origins)


def export_focus(db: Path, month: date, tenants: list[str], issuer: str, out_file: Path
                 ) -> tuple[pl.DataFrame, dict[str, str], str]:  # fmt: skip
    """The month's invoice lines as FOCUS rows, written to `out_file`; the tenants left out,
    with why; and the FOCUS version."""
    from meterhouse.warehouse.focus import FOCUS_VERSION, read_focus, write_focus

    with connect(db, read_only=True) as con:
        rows, refused = read_focus(con, month, tenants, issuer)
    if rows.is_empty():
        raise MeterhouseError(
            f"no FOCUS rows written for {month:%Y-%m}: every tenant's rows fail the export's "
            "check (" + "; ".join(f"{t}: {why}" for t, why in sorted(refused.items())) + ")."
        )
    write_focus(rows, out_file)
    return rows, refused, FOCUS_VERSION


def reconcile(db: Path, bill: Path, month: date, ratio: Decimal, provider: str | None,
              out_file: Path | None) -> BillReconciliation:  # fmt: skip
    """A vendor bill against metered usage; every variance row written to `out_file`."""
    from meterhouse.core.money import money_as_text
    from meterhouse.warehouse.reconcile import reconcile_bill

    with connect(db, read_only=True) as con:
        done = reconcile_bill(con, bill, month, ratio, provider)
    variances = done.result.variances
    if out_file is not None:
        text = (
            money_as_text(variances).write_json()
            if out_file.suffix.lower() == ".json"
            else csv_safe(variances).write_csv(datetime_format="%Y-%m-%dT%H:%M:%SZ")
        )
        write_whole(out_file, text.encode())
    return done


def report(kind: str, db: Path, target: Target, month: date, out_file: Path | None
           ) -> pl.DataFrame:  # fmt: skip
    """The month's cost or margin rows, written unrounded to `out_file` when given."""
    from meterhouse.warehouse.reports import month_cost, month_margin

    with marts(db, target) as con:
        rows = (month_cost if kind == "cost" else month_margin)(con, month)
    if out_file is not None:
        write_whole(out_file, csv_safe(rows).write_csv().encode())
    return rows


def import_prices(db: Path, litellm: Path, effective_from: datetime) -> PriceImport:
    """List prices from a LiteLLM catalog into the price book."""
    from meterhouse.core.prices import catalog_prices, load_catalog
    from meterhouse.warehouse.prices import import_prices as merge

    if not litellm.is_file():
        raise MeterhouseError(f"{litellm}: no such file. Give the path of the catalog JSON.")
    prices = catalog_prices(load_catalog(litellm.read_bytes(), str(litellm)))
    with connect(db) as con:
        return merge(con, prices, effective_from, source=f"litellm:{litellm.name}")


def quarantine(db: Path, request_ids: list[str], reason: str | None, release: bool,
               by: str | None) -> HoldChange:  # fmt: skip
    """Hold loaded events out of the marts, or release them."""
    from meterhouse.warehouse.holds import default_operator, hold_events, release_events

    if not db.exists():
        raise MeterhouseError(f"no warehouse at {db}: nothing to quarantine.")
    if not release and not (reason and reason.strip()):
        raise MeterhouseError("give the reason: --reason TEXT (recorded with who and when).")
    now = datetime.now(UTC).replace(tzinfo=None)
    with connect(db) as con:
        return (release_events if release else hold_events)(
            con, request_ids, reason=reason or "", by=by or default_operator(), at=now
        )
