"""Keep the vendor price book's history: a re-import closes changed prices and opens new ones.

Prices are keyed by model, service tier, context tier and token class. An import at time T:
a new key opens at T; a changed price closes the row in force at T and opens a new one; an
unchanged price adds nothing; a key the new catalog no longer lists stays in force (a vendor
dropping a model from a catalog does not end what it charged). Nothing is deleted, and an
import may not start before a price already in force for its key (type-2 history stays
intact). It may start before usage already loaded (a new user loads past exports, then
prices them) while no invoice of an affected month is issued: every usage day from
`effective_from` on is recorded in raw.changed_days (kind 'reprice'), so the next build
re-rates those days. Once a month from `effective_from` on is issued, it is refused: an
issued invoice never changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.db import frame, transaction
from meterhouse.warehouse.holds import EVENTS_DATASET, record_changed_days

KEY_COLUMNS = ("model_id", "service_tier", "min_context_tokens", "token_class")
KEY = ", ".join(KEY_COLUMNS)


@dataclass(frozen=True)
class PriceImport:
    models: int
    opened: int  # keys priced for the first time
    changed: int  # keys whose price changed: old row closed, new row opened
    unchanged: int
    repriced_months: list[date] = field(default_factory=list)  # loaded usage to be re-rated


def _refuse_rewriting_history(con: duckdb.DuckDBPyConnection, effective_from: datetime) -> None:
    first_month = effective_from.date().replace(day=1)
    issued = con.execute(
        "select invoice_month, count(*), min(tenant_id) from app.issued_invoices "
        "where invoice_month >= ? group by invoice_month order by invoice_month",
        [first_month],
    ).fetchall()
    if issued:
        months = ", ".join(f"{m:%Y-%m} ({n:,} invoice(s), e.g. {t})" for m, n, t in issued)
        last = issued[-1][0]
        after = last.replace(year=last.year + last.month // 12, month=last.month % 12 + 1)
        raise MeterhouseError(
            f"prices starting {effective_from:%Y-%m-%d %H:%M:%S} UTC would re-price usage of "
            f"issued invoices: {months}. An issued invoice never changes. Give --effective-from "
            f"{after:%Y-%m-%d} or later; a price agreed for an issued month is a credit or an "
            "adjustment on the next invoice (docs/pricing.md)."
        )
    [(later,)] = con.execute(
        f"select count(*) from raw.price_book p join _prices n using ({KEY}) "
        "where p.effective_to is null and p.effective_from >= ?",
        [effective_from],
    ).fetchall()
    if later:
        raise MeterhouseError(
            f"{later} price(s) in the book already start on or after {effective_from:%Y-%m-%d}"
            "; an import must start after the prices it replaces. Give a later "
            "--effective-from (history is never rewritten)."
        )


def _reprice_days(
    con: duckdb.DuckDBPyConnection, effective_from: datetime, detail: str | None = None
) -> list[date]:
    """Record every loaded usage day from `effective_from` on as changed (kind 'reprice'), so
    the next build re-rates it; the months they fall in, for the user."""
    days = frame(
        con,
        "select usage_date, min(file_id) as first_file_id, max(file_id) as last_file_id, "
        "count(*) as row_count from raw.usage_events where usage_date >= $day "
        "group by usage_date order by usage_date",
        {"day": effective_from.date()},
    )
    detail = detail or f"prices from {effective_from:%Y-%m-%d %H:%M:%S}"
    record_changed_days(con, days, dataset=EVENTS_DATASET, kind="reprice",
                        at=datetime.now(UTC).replace(tzinfo=None), detail=detail)  # fmt: skip
    return sorted({d.replace(day=1) for d in days["usage_date"].to_list()})


# The files of the dbt project that decide how a loaded day is rated (model resolution, list
# prices and overrides, provider names, the token classes): when one changes, the next build
# re-rates the loaded days of the months still open (docs/decisions/0025). More than strictly
# needed, never less.
RATING_INPUTS = ("dbt_project.yml", "seeds/reference", "macros", "models/staging/meterhouse",
                 "models/intermediate/pricing")  # fmt: skip


def rating_inputs(project: Path) -> dict[str, str]:
    """SHA-256 of each file of RATING_INPUTS in `project`, by its path in the project."""
    found = {}
    for part in RATING_INPUTS:
        root = project / part
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file():
                found[path.relative_to(project).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return found


def _first_open_month(con: duckdb.DuckDBPyConnection) -> date | None:
    """The first month with usage of a tenant whose invoice of it is not issued (else the month
    after the last issued one); None when nothing is issued."""
    [(first, last)] = con.execute("""
        select
            (select min(month) from (
                select distinct tenant_id, date_trunc('month', usage_date)::date as month
                from raw.usage_events
            ) as used
            where not exists (
                select 1 from app.issued_invoices as issued
                where issued.tenant_id = used.tenant_id and issued.invoice_month = used.month
            )),
            (select max(invoice_month) from app.issued_invoices)
    """).fetchall()
    if last is None:
        return None
    if first is None:  # every month with usage is issued: re-rate what comes after it
        return date(last.year + last.month // 12, last.month % 12 + 1, 1)
    return first  # type: ignore[no-any-return]


def reprice_if_rating_changed(
    con: duckdb.DuckDBPyConnection, record: Path, project: Path, rated: bool
) -> tuple[list[str], date | None]:
    """Before a build: when the rating inputs differ from those `record` (a JSON file) says the
    rated days were rated with, or `rated` days exist with no record (a warehouse of an earlier
    meterhouse), record every loaded day from the first month not issued for every tenant
    with usage in it as changed (kind 'reprice': a month issued for all keeps the rating it
    was issued with); then record the inputs of now. Returns what changed (empty when nothing
    did) and the first day re-rated (None: from the first loaded day)."""
    now = rating_inputs(project)
    before: dict[str, str] | None = json.loads(record.read_text()) if record.is_file() else None
    if before is None:
        changed = ["no record of what the rated days were rated with"] if rated else []
    else:
        changed = sorted(k for k in now.keys() | before.keys() if now.get(k) != before.get(k))
    since = None
    if changed:
        since = _first_open_month(con)
        with transaction(con):
            _reprice_days(con, datetime.combine(since or date.min, datetime.min.time()),
                          detail="rating inputs changed: " + ", ".join(changed))  # fmt: skip
    if changed or before is None:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    return changed, since


def import_prices(
    con: duckdb.DuckDBPyConnection, prices: pl.DataFrame, effective_from: datetime, source: str
) -> PriceImport:
    """Merge `prices` (core.prices.PRICE_COLUMNS) into raw.price_book as of `effective_from`."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with transaction(con, _prices=prices):
        con.execute(f"""
            create or replace temp table _compared as
            select n.*, p.usd_per_1m_tokens as current_usd_per_1m_tokens
            from _prices n
            left join raw.price_book p using ({KEY})
            where p.effective_to is null
        """)
        [(opened, changed, unchanged)] = con.execute("""
            select count(*) filter (current_usd_per_1m_tokens is null),
                   count(*) filter (current_usd_per_1m_tokens <> usd_per_1m_tokens),
                   count(*) filter (current_usd_per_1m_tokens = usd_per_1m_tokens)
            from _compared
        """).fetchall()
        repriced: list[date] = []
        if opened or changed:  # an import that changes nothing is a no-op, whatever its date
            _refuse_rewriting_history(con, effective_from)
            repriced = _reprice_days(con, effective_from)
        con.execute(
            f"""
            update raw.price_book p set effective_to = ?
            from _compared c
            where p.effective_to is null
              and {" and ".join(f"p.{k} = c.{k}" for k in KEY_COLUMNS)}
              and c.current_usd_per_1m_tokens <> c.usd_per_1m_tokens
            """,
            [effective_from],
        )
        con.execute(
            """
            insert into raw.price_book by name
            select model_id, provider, service_tier, min_context_tokens, token_class,
                   usd_per_1m_tokens, ?::timestamp as effective_from,
                   null::timestamp as effective_to, ? as source, ?::timestamp as imported_at
            from _compared
            where current_usd_per_1m_tokens is distinct from usd_per_1m_tokens
            """,
            [effective_from, source, now],
        )
        con.execute("drop table _compared")
    return PriceImport(prices["model_id"].n_unique(), opened, changed, unchanged, repriced)
