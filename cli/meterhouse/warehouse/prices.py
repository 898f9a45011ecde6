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

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

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


def _reprice_days(con: duckdb.DuckDBPyConnection, effective_from: datetime) -> list[date]:
    """Record every loaded usage day from `effective_from` on as changed (kind 'reprice'), so
    the next build re-rates it; the months they fall in, for the user."""
    days = frame(
        con,
        "select usage_date, min(file_id) as first_file_id, max(file_id) as last_file_id, "
        "count(*) as row_count from raw.usage_events where usage_date >= $day "
        "group by usage_date order by usage_date",
        {"day": effective_from.date()},
    )
    record_changed_days(con, days, dataset=EVENTS_DATASET, kind="reprice",
                        at=datetime.now(UTC).replace(tzinfo=None),
                        detail=f"prices from {effective_from:%Y-%m-%d %H:%M:%S}")  # fmt: skip
    return sorted({d.replace(day=1) for d in days["usage_date"].to_list()})


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
