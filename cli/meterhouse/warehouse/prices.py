"""Keep the vendor price book's history: a re-import closes changed prices and opens new ones.

Prices are keyed by model, service tier, context tier and token class. An import at time T:
a new key opens at T; a changed price closes the row in force at T and opens a new one; an
unchanged price adds nothing; a key the new catalog no longer lists stays in force (a vendor
dropping a model from a catalog does not end what it charged). Nothing is deleted, and an
import may not start before a price already in force, nor before usage already loaded:
history is not rewritten, so rated usage and issued invoices keep their prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import polars as pl

from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.db import transaction

KEY_COLUMNS = ("model_id", "service_tier", "min_context_tokens", "token_class")
KEY = ", ".join(KEY_COLUMNS)


@dataclass(frozen=True)
class PriceImport:
    models: int
    opened: int  # keys priced for the first time
    changed: int  # keys whose price changed: old row closed, new row opened
    unchanged: int


def _refuse_rewriting_history(con: duckdb.DuckDBPyConnection, effective_from: datetime) -> None:
    [(last_event,)] = con.execute("select max(event_at) from raw.usage_events").fetchall()
    if last_event is not None and effective_from <= last_event:
        raise MeterhouseError(
            f"usage up to {last_event:%Y-%m-%d %H:%M:%S} UTC is already loaded and priced; "
            f"prices starting {effective_from:%Y-%m-%d %H:%M:%S} would re-price it. Give an "
            "--effective-from after that (history is never rewritten)."
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
        if opened or changed:  # an import that changes nothing is a no-op, whatever its date
            _refuse_rewriting_history(con, effective_from)
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
    return PriceImport(prices["model_id"].n_unique(), opened, changed, unchanged)
