"""Read one month's invoices from the billing marts, refusing what must not be invoiced; issue
them (freeze them in app.issued_invoices, app.issued_invoice_lines, app.issued_sell_prices);
trace a line to its requests.

Refusals come before anything is written: an unknown tenant, a month or tenant without an
invoice (saying whether it has usage at all) stop the whole command; a tenant with unpriced
usage (an invoice would silently leave it out, unless the caller allows it) or with rows the
invoice schemas refuse is refused by name, and the others are invoiced. The rows travel to
Polars through Arrow. An issued invoice's document of record is the JSON stored when it was
issued, checked against its SHA-256 whenever it is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import polars as pl

from meterhouse.core.invoices import documents
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.invoices import DOCUMENTS_OUT, INVOICES_IN, LINES_IN, split_valid
from meterhouse.warehouse.db import frame, require_built, transaction
from meterhouse.warehouse.holds import marts_behind_loads

# The dbt --select arguments that refresh the marts after an issue: everything downstream of
# the issued invoices and their lines (the `app` source), so the marts show them as issued.
ISSUED_SELECTOR = ("source:app.issued_invoices+", "source:app.issued_invoice_lines+")


@dataclass(frozen=True)
class MonthInvoices:
    invoices: pl.LazyFrame  # fct_invoices rows, checked by INVOICES_IN
    lines: pl.LazyFrame  # fct_invoice_lines rows, checked by LINES_IN
    records: pl.DataFrame  # invoice_id, document_json of the issued ones, hash-checked
    refused: dict[str, str]  # tenant -> why its invoice cannot be made (the others can)


@dataclass(frozen=True)
class Issued:
    issued: list[str]  # invoice ids issued now
    already: list[str]  # invoice ids issued before: left as they are
    # the billing marts still show as drafts invoices issued before (an issue interrupted
    # before its refresh): they must be refreshed
    marts_behind: bool = False
    refused: dict[str, str] = field(default_factory=dict)  # tenant -> why it was not issued


def _month_rows(
    con: duckdb.DuckDBPyConnection, table: str, month: date, tenants: list[str]
) -> pl.DataFrame:
    """A relation's rows of one month (and of `tenants`, when given), through Arrow."""
    return frame(
        con,
        f"select * from {table} where invoice_month = $month "
        "and (len($tenants::varchar[]) = 0 or list_contains($tenants::varchar[], tenant_id))",
        {"month": month, "tenants": tenants},
    )


def read_month(
    con: duckdb.DuckDBPyConnection, month: date, tenants: list[str], allow_unpriced: bool
) -> MonthInvoices:
    require_built(con, "billing marts", "main.fct_invoices", "main.fct_invoice_lines",
                  "main.fct_usage_daily", "app.issued_invoices")  # fmt: skip
    label = f"{month:%Y-%m}"
    usage = dict(
        con.execute(
            "select tenant_id, bool_or(date_trunc('month', usage_date) = ?) "
            "from main.fct_usage_daily group by tenant_id",
            [month],
        ).fetchall()
    )
    unknown = sorted(set(tenants) - set(usage))
    if unknown:
        raise MeterhouseError(
            f"unknown tenant {', '.join(unknown)}: the warehouse has no usage for it in any month "
            f"({len(usage)} tenants known; 'meterhouse status' lists the months)."
        )
    invoices = _month_rows(con, "main.fct_invoices", month, tenants)
    found = set(invoices["tenant_id"])
    if not found:
        months = con.execute(
            "select min(invoice_month), max(invoice_month) from main.fct_invoices"
        ).fetchall()[0]
        span = (
            f"invoices exist from {months[0]:%Y-%m} to {months[1]:%Y-%m}"
            if months[0]
            else "no invoices exist yet"
        )
        raise MeterhouseError(f"no invoices for {label} ({span}).")
    missing = sorted(set(tenants) - found)
    if missing:
        no_plan = "usage but no contract, and no default plan is set"
        reasons = [f"{t} ({no_plan if usage[t] else 'no usage'})" for t in missing]
        raise MeterhouseError(f"no invoice for {label}: {', '.join(reasons)}.")
    lines = _month_rows(con, "main.fct_invoice_lines", month, tenants)
    records = _month_rows(
        con,
        "(select *, sha256(document_json) as sha256_now from app.issued_invoices)",
        month,
        tenants,
    )
    tampered = records.filter(pl.col("content_sha256") != pl.col("sha256_now"))
    if len(tampered):
        raise MeterhouseError(
            f"issued invoice {', '.join(tampered['invoice_id'])}: the stored document no longer "
            "matches the SHA-256 it was issued with (app.issued_invoices was edited). Restore "
            "the warehouse from a backup; nothing was written."
        )
    # an invoice issued is issued, even while the marts still say draft (an interrupted issue)
    invoices = invoices.with_columns(
        status=pl.when(pl.col("invoice_id").is_in(records["invoice_id"].implode()))
        .then(pl.lit("issued"))
        .otherwise("status")
    )
    refused = {} if allow_unpriced else _unpriced(con, invoices, month)
    invoices, invalid = split_valid(INVOICES_IN, invoices)
    lines, invalid_lines = split_valid(LINES_IN, lines)
    for tenant, why in [*invalid.items(), *invalid_lines.items()]:  # every reason, kept
        refused[tenant] = f"{refused[tenant]}; {why}" if tenant in refused else why
    return MonthInvoices(
        invoices=invoices.filter(~pl.col("tenant_id").is_in(list(refused))).lazy(),
        lines=lines.filter(~pl.col("tenant_id").is_in(list(refused))).lazy(),
        records=records.filter(~pl.col("tenant_id").is_in(list(refused))).select(
            "invoice_id", "document_json"
        ),
        refused=refused,
    )


def _unpriced(
    con: duckdb.DuckDBPyConnection, invoices: pl.DataFrame, month: date
) -> dict[str, str]:
    """Tenant -> why its draft cannot be invoiced: usage without a price, which the invoice
    would leave out. The other tenants' invoices are made."""
    drafts = invoices.filter((pl.col("unpriced_tokens") > 0) & (pl.col("status") == "draft"))
    if drafts.is_empty():
        return {}
    models = dict(
        con.execute(
            "select tenant_id, string_agg(distinct model_name, ', ' order by model_name) "
            "from main.fct_unpriced_usage where date_trunc('month', usage_date) = $month "
            "and list_contains($tenants::varchar[], tenant_id) group by tenant_id",
            {"month": month, "tenants": drafts["tenant_id"].to_list()},
        ).fetchall()
    )
    return {
        tenant: (
            f"{tokens:,} tokens of unpriced usage ({models.get(tenant, 'see fct_unpriced_usage')})"
            " that an invoice would leave out. Import a price (meterhouse prices import, then "
            "build), or add one to seeds/reference/price_overrides.csv or an alias to "
            "seeds/reference/model_aliases.csv (then build), or pass "
            "--allow-unpriced to invoice without it"
        )
        for tenant, tokens in drafts.select("tenant_id", "unpriced_tokens").rows()
    }


def issue_month(
    con: duckdb.DuckDBPyConnection,
    month: date,
    tenants: list[str],
    allow_unpriced: bool,
    issuer: str,
    issued_at: datetime,
) -> Issued:
    """Freeze the month's draft invoices (of `tenants`, when given): their document of record,
    its SHA-256, their lines and sell prices, in one transaction. Invoices issued before stay
    as they are. Refuses a month not over at `issued_at` (UTC, naive) and marts older than the
    last load."""
    if datetime(month.year + month.month // 12, month.month % 12 + 1, 1) > issued_at:
        raise MeterhouseError(
            f"{month:%Y-%m} is not over yet: issue it from the first day of the next month (UTC)."
        )
    require_built(con, "billing marts", "main.fct_sell_prices")
    found = read_month(con, month, tenants, allow_unpriced)
    [(built,)] = con.execute("select max(last_file_id) from main.fct_usage_daily").fetchall()
    if marts_behind_loads(con):
        raise MeterhouseError(
            "events were loaded after the marts were last built: run 'meterhouse build' (or the "
            "nightly job) first, so the invoices include them. Nothing was issued."
        )
    invoices = found.invoices.collect()
    already = sorted(invoices.filter(pl.col("status") == "issued")["invoice_id"])
    drafts = invoices.filter(pl.col("status") == "draft")
    [(behind,)] = con.execute(
        "select count(*) from main.fct_invoices as marts inner join app.issued_invoices as issued "
        "using (invoice_id) where marts.status = 'draft'"
    ).fetchall()
    if drafts.is_empty():
        return Issued([], already, marts_behind=behind > 0, refused=found.refused)
    lines = found.lines.join(drafts.lazy().select("invoice_id"), on="invoice_id").collect()
    docs, refused = split_valid(
        DOCUMENTS_OUT, documents(drafts.lazy(), lines.lazy(), issuer, issued_at)
    )
    refused.update(found.refused)
    lines = lines.filter(pl.col("invoice_id").is_in(docs["invoice_id"].implode()))
    documents_now = docs.with_columns(pl.col("json") + "\n").to_arrow()
    with transaction(con, issuing_documents=documents_now, issuing_lines=lines.to_arrow()):
        con.execute(
            "insert into app.issued_invoices select invoice_id, tenant_id, invoice_month, "
            "currency, cast(total as decimal(38, 2)), line_count, $issuer, $issued_at, $through, "
            "json, sha256(json) from issuing_documents",
            {"issuer": issuer, "issued_at": issued_at, "through": built or 0},
        )
        con.execute(
            "insert into app.issued_invoice_lines by name select invoice_id, line_number, "
            "line_type, model_id, token_class, quantity_tokens, unit_price_per_1m_tokens, "
            "tier_from_tokens, credit_grant_id, corrects_invoice_id, corrected_line_type, "
            "amount, currency from issuing_lines"
        )
        con.execute(  # the prices behind the lines, for tracing them to requests later
            "insert into app.issued_sell_prices by name select documents.invoice_id, "
            "prices.model_id, prices.is_success, prices.is_served_from_cache, "
            "prices.token_class, prices.list_usd_per_1m_tokens, prices.is_billable, "
            "prices.unit_price_per_1m_tokens "
            "from main.fct_sell_prices as prices inner join issuing_documents as documents "
            "using (tenant_id, invoice_month)"
        )
    return Issued(sorted(docs["invoice_id"]), already, marts_behind=True, refused=refused)


@dataclass(frozen=True)
class Explained:
    line: dict[str, object]  # the fct_invoice_lines row
    requests: pl.DataFrame  # request_id, event_at, quantity_tokens: their tokens sum to the line


def explain_line(con: duckdb.DuckDBPyConnection, invoice_id: str, line_number: int) -> Explained:
    """The requests behind one usage line (or usage correction line) of an invoice, from
    fct_invoice_line_requests; refuses other lines, which no request makes on its own."""
    lines = frame(con, "select * from main.fct_invoice_lines where invoice_id = $id "
                        "order by line_number", {"id": invoice_id})  # fmt: skip
    if lines.is_empty():
        raise MeterhouseError(
            f"no invoice {invoice_id}: ids look like INV-YYYYMM-<tenant> (the file names "
            "'meterhouse invoice' writes)."
        )
    found = lines.filter(pl.col("line_number") == line_number)
    traceable = lines.filter(pl.coalesce("corrected_line_type", "line_type") == "usage")[
        "line_number"
    ].to_list()
    if found.is_empty() or line_number not in traceable:
        kind = "does not exist"
        if len(found):
            found_type, corrected = found["line_type"][0], found["corrected_line_type"][0]
            kind = f"is a {found_type} line" + (f" of a {corrected} line" if corrected else "")
        raise MeterhouseError(
            f"line {line_number} of {invoice_id} {kind}: only usage lines (and their "
            f"corrections) come from requests; this invoice has them at lines "
            f"{_ranges(traceable) or 'none'}."
        )
    requests = frame(
        con,
        "select request_id, event_at, quantity_tokens from main.fct_invoice_line_requests "
        "where invoice_id = $id and line_number = $line order by event_at, request_id",
        {"id": invoice_id, "line": line_number},
    )
    return Explained(line=found.row(0, named=True), requests=requests)


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)
