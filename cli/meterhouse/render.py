"""How results read in a terminal and in a log: the tables and the multi-line results of the
commands (a command prints its own one-line confirmations). Every function takes a result and
the console to print on, and opens nothing: the jobs (meterhouse.jobs) fetched it. Money is
shown to the cent here only; the money of record stays unrounded (docs/decisions/0005)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from rich.table import Table

from meterhouse.terminal import SafeConsole
from meterhouse.warehouse import memory

if TYPE_CHECKING:
    from meterhouse.jobs import Forecast, TracedLine
    from meterhouse.sample.generator import SampleSummary
    from meterhouse.warehouse.holds import HoldChange
    from meterhouse.warehouse.ingest import IngestResult, SourceCheck
    from meterhouse.warehouse.invoices import Issued
    from meterhouse.warehouse.mart_checks import MartCheck
    from meterhouse.warehouse.prices import PriceImport
    from meterhouse.warehouse.reconcile import BillReconciliation
    from meterhouse.warehouse.summary import Summary


def usd(amount: Decimal | None) -> str:
    """Display only: to the cent, half away from zero (docs/decisions/0005)."""
    return "" if amount is None else f"{amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def sample(out: SafeConsole, summary: SampleSummary, out_dir: Path) -> None:
    out.print(
        f"wrote {summary.rows_written:,} rows in {summary.files} files under {out_dir}/events "
        f"({summary.clean_events:,} distinct valid requests, {summary.duplicate_rows:,} "
        f"duplicates, {summary.conflict_rows:,} conflicts, {summary.bad_rows:,} bad rows, "
        f"{summary.late_rows:,} late)\ntokens from {summary.token_source}; "
        f"models from {summary.model_source}\n{summary.gpu_hours.rows_written:,} GPU-hour "
        f"rows under {out_dir}/gpu_hours\ntenant contracts and GPU inventory in "
        f"{out_dir}/contracts"
    )


def ingest(out: SafeConsole, result: IngestResult, every_file: bool = False) -> None:
    """A line per file loaded or skipped, named relative to the folder given, then the totals.
    A file loaded before is listed only with `every_file`: a nightly folder grows every day."""
    for f in result.files:
        if f.skipped and (every_file or not f.loaded_before):
            out.print(f"skipped {f.name}: {f.skipped}", highlight=False)
        elif not f.skipped:
            out.print(
                f"loaded  {f.name}: read {f.rows_read:,} = loaded {f.rows_loaded:,} + duplicate "
                f"{f.rows_duplicate:,} + quarantined {f.rows_quarantined:,}"
                + (f"; {f.rows_served_from_cache:,} of the loaded served from a gateway cache"
                   if f.rows_served_from_cache else "")
                + (f"; {f.rows_skipped:,} not usage, left out" if f.rows_skipped else ""),
                highlight=False,
            )  # fmt: skip
    read, loaded = result.total("rows_read"), result.total("rows_loaded")
    dup, bad = result.total("rows_duplicate"), result.total("rows_quarantined")
    new = sum(1 for f in result.files if not f.skipped)
    left_out: dict[str, int] = {}
    for f in result.files:
        for why, count in f.left_out.items():
            left_out[why] = left_out.get(why, 0) + count
    out.print(
        f"{new} new file(s), {len(result.files) - new} already loaded. Rows read {read:,} = "
        f"loaded {loaded:,} + duplicates {dup:,} + quarantined {bad:,}."
        + "".join(f" Left out as not usage: {n:,} {why}." for why, n in left_out.items())
    )


def source_checks(out: SafeConsole, checks: list[SourceCheck]) -> None:
    """`sources check`: per file, its first rows as they would load, then what would be
    quarantined (by rule and source field), left out, or not read."""
    for check in checks:
        bad = int(check.quarantined["rows"].sum()) if check.quarantined.height else 0
        out.print(f"{check.name}: {check.rows_read:,} usage record(s); {bad:,} would be "
                  "quarantined", highlight=False)  # fmt: skip
        if check.first_rows.height:
            table = Table("request_id", "event_at (UTC)", "tenant_id", "model",
                          "input (cache read / write / 1h)", "output (reasoning)", "status",
                          title=f"first rows as they would load ({check.name})")  # fmt: skip
            for r in check.first_rows.iter_rows(named=True):
                table.add_row(
                    r["request_id"], f"{r['event_at']:%Y-%m-%d %H:%M:%S.%f}"[:-3], r["tenant_id"],
                    r["model"],
                    f"{r['input_tokens']:,} ({r['cache_read_tokens']:,} / "
                    f"{r['cache_write_tokens']:,} / {r.get('cache_write_1h_tokens', 0):,})",
                    f"{r['output_tokens']:,} ({r['reasoning_tokens']:,})", r["status"],
                )  # fmt: skip
            out.print(table)
        for rules, detail, rows, first in check.quarantined.iter_rows():
            why = f"{rules}" + (f" ({detail})" if detail else "")
            out.print(f"  quarantined {rows:,} row(s), first at record {first:,}: {why}",
                      highlight=False)  # fmt: skip
        for why, count in check.skipped.items():
            out.print(f"  left out {count:,} record(s): {why}", highlight=False)
        if check.content_columns:
            out.print(f"  content, never stored: {', '.join(check.content_columns)}",
                      highlight=False)  # fmt: skip
        if check.ignored_columns:
            out.print(f"  not read: {', '.join(check.ignored_columns)}", highlight=False)
    out.print("nothing was written (a check; `meterhouse ingest --source ...` loads).")


def summary(out: SafeConsole, s: Summary, db: Path) -> None:
    span = f"{s.first_date} to {s.last_date}" if s.first_date else "no events yet"
    out.print(f"warehouse {db}", highlight=False)
    out.print(memory.describe(db), highlight=False)
    out.print(
        f"{s.files} file(s) loaded: rows read {s.rows_read:,} = loaded {s.rows_loaded:,} + "
        f"duplicates {s.rows_duplicate:,} + quarantined {s.rows_quarantined:,}"
        + (f" ({s.left_out:,} records that are not usage left out)" if s.left_out else "")
        + f"\n{s.events:,} events, {s.tenants} tenants, {s.models} model names, {span}"
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
        out.print(
            f"vendor cost at list price: USD {usd(s.api_cost_usd)} (shown to the cent); "
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


def issued(out: SafeConsole, done: Issued, month: date) -> None:
    if done.already:
        names = ", ".join(done.already[:5]) + (", ..." if len(done.already) > 5 else "")
        out.print(f"{len(done.already):,} invoice(s) of {month:%Y-%m} were issued before and "
                  f"stay as they are ({names}).", highlight=False)  # fmt: skip
    if done.issued and done.refused:  # partly issued: say whose invoices are and are not
        out.print(f"issued {len(done.issued):,} invoice(s) for {month:%Y-%m} "
                  f"({_some(done.issued)}); not issued: {_some(sorted(done.refused))} "
                  "(refused below); refreshing the billing marts", highlight=False)  # fmt: skip
    elif done.issued:
        out.print(f"issued {len(done.issued):,} invoice(s) for {month:%Y-%m}; refreshing the "
                  "billing marts", highlight=False)  # fmt: skip
    elif done.marts_behind:
        out.print("the billing marts still showed issued invoices as drafts (an earlier issue "
                  "was interrupted): refreshing them")  # fmt: skip
    elif not done.refused:
        out.print("nothing to issue.")


def _some(names: list[str], shown: int = 10) -> str:
    """The first `shown` names, then how many more."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more:,} more" if more > 0 else "")


def explained(out: SafeConsole, found: TracedLine, invoice_id: str, line: int, show: int,
              out_file: Path | None) -> None:  # fmt: skip
    row, requests = found.line, found.requests
    price = Decimal(str(row["unit_price_per_1m_tokens"])).normalize()
    what = f"{row['model_id']} {row['token_class']} at {price:f} {row['currency']} per 1M tokens"
    if row["line_type"] == "correction":
        what = f"correction of {row['corrects_invoice_id']}: {what}"
    table = Table("request_id", "event_at (UTC)", "tokens",
                  title=f"{invoice_id} line {line}: {what}")  # fmt: skip
    for request_id, event_at, tokens in requests.head(show).rows():
        table.add_row(request_id, f"{event_at:%Y-%m-%d %H:%M:%S}", f"{tokens:,}")
    out.print(table)
    out.print(f"{len(requests):,} requests, {found.traced_tokens:,} tokens; the line bills "
              f"{row['quantity_tokens']:,} tokens for {row['amount']} {row['currency']}."
              + (f" All requests written to {out_file}." if out_file else ""),
              highlight=False)  # fmt: skip


def forecast(out: SafeConsole, done: Forecast) -> None:
    title = f"token forecasts from {done.through:%Y-%m-%d} (fct_usage_forecast)"
    table = Table("tenant", "method", "tomorrow (80% interval)", f"next {done.horizon} days",
                  title=title)  # fmt: skip
    for key, method, tomorrow, low, high, total in done.summary.head(25).rows():
        table.add_row(key, method, f"{tomorrow:,} ({low:,}-{high:,})", f"{total:,}")
    out.print(table)
    counts = ", ".join(f"{n} {kind} series by {m}" for kind, m, n in done.methods.rows())
    shown = len(done.summary)
    out.print(f"{counts}; the {min(25, shown)} largest of {shown} tenants shown.",
              highlight=False)  # fmt: skip


def mart_check(out: SafeConsole, check: MartCheck) -> None:
    """The marts' checks after a build; each failure is a line of its own, on stderr."""
    scope = "every row" if check.days is None else f"the rows of {check.days:,} changed day(s)"
    verdict = f"{len(check.failures):,} failed (above)" if check.failures else "all pass"
    out.print(f"checked {check.marts} marts against their contracts ({check.rows:,} rows, "
              f"{scope}): {verdict}", highlight=False)  # fmt: skip


def backtest(out: SafeConsole, scores: pl.DataFrame) -> None:
    table = Table("horizon", "method", "forecasts", "MASE", "sMAPE", "80% covered",
                  "95% covered", "ETS+s.naive / s.naive / mean",
                  title="backtest (lower MASE is better; 80% should cover ~80%)")  # fmt: skip
    for r in scores.iter_rows(named=True):
        used = " / ".join(
            f"{r[f'share_{m}']:.0%}"
            for m in ("ets_seasonal_naive", "seasonal_naive", "recent_mean")
        )
        table.add_row(
            "all" if r["horizon_days"] == 0 else f"{r['horizon_days']} days", r["method"],
            str(r["forecasts"]), f"{r['mase']:.3f}", f"{r['smape']:.1%}",
            f"{r['covered_80']:.1%}", f"{r['covered_95']:.1%}", used,
        )  # fmt: skip
    out.print(table)


def reconciliation(out: SafeConsole, done: BillReconciliation, bill: Path, month: date,
                   ratio: Decimal) -> None:  # fmt: skip
    table = Table("class", "rows", "metered USD", "billed USD", "difference USD", "gates",
                  title=f"{bill.name} vs metered '{done.provider}' usage, "
                  f"{month:%Y-%m}, tolerance {ratio * 100:f}%")  # fmt: skip
    for kind, rows, expected, billed, difference, failing in done.result.summary.rows():
        table.add_row(kind, f"{rows:,}", usd(expected), usd(billed), usd(difference),
                      "fails" if failing else "")  # fmt: skip
    out.print(table)


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
        "margin_ratio": "margin", "is_loss": "loss", "loss_cause": "why",
    },
}  # fmt: skip


def _cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name.endswith("_ratio"):  # a ratio, not money
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    if isinstance(value, Decimal):
        return usd(value)
    if isinstance(value, bool):
        return "LOSS" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def report(out: SafeConsole, kind: str, rows: pl.DataFrame, month: date) -> None:
    columns = REPORT_COLUMNS[kind]
    table = Table(*columns.values(), title=f"{kind} {month:%Y-%m} (USD rounded to the cent)")
    for row in rows.select(list(columns)).iter_rows(named=True):
        table.add_row(*(_cell(name, value) for name, value in row.items()))
    out.print(table)


def prices_imported(out: SafeConsole, done: PriceImport, effective_from: object) -> None:
    out.print(
        f"{done.models:,} models: {done.opened:,} prices new, {done.changed:,} changed "
        f"(old ones closed at {effective_from:%Y-%m-%d %H:%M}), {done.unchanged:,} unchanged."
    )
    if done.repriced_months:
        months = ", ".join(f"{m:%Y-%m}" for m in done.repriced_months)
        out.print(f"loaded usage of {months} is re-priced from {effective_from:%Y-%m-%d %H:%M}: "
                  "the next 'meterhouse build' (or the nightly job) re-rates those days and "
                  "their draft invoices may change.", highlight=False)  # fmt: skip


def quarantined(out: SafeConsole, change: HoldChange, release: bool) -> None:
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
