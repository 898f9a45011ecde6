"""Changes to loaded data that bring no new file: the changed-days record, and holds.

Every change to loaded data writes, in the transaction that makes it, one row per UTC day it
changed to `raw.changed_days`, under one new change_id (ids only grow): a load (written by the
loader, warehouse/ingest.py), a hold or a release of loaded events (here); later a back-dated
price, a revised usage bucket, retention or erasure. The incremental models re-rate every day
recorded after the change they last rated (docs/decisions/0004), so no change needs a full
refresh and none is missed.

A hold (`meterhouse quarantine --request-id ID --reason TEXT`) takes a loaded event out of the
marts after the fact: the event stays in `raw.usage_events`, unchanged (a re-send of it is
still a duplicate, and a release restores it exactly), an open hold is recorded in
`raw.event_holds` (who, when, why) and the staging model leaves out every held event. Row
accounting then reads loaded = in the marts + held (docs/event-contract.md, `fct_file_loads`).
A held event of a month already invoiced becomes a correction on the tenant's next open
invoice, like late usage (docs/decisions/0007); the issued invoice never changes.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import duckdb
import polars as pl

from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.db import transaction

ChangeKind = Literal["load", "quarantine", "release", "reprice"]
EVENTS_DATASET = "usage_events"
_SHOWN = 10  # ids named in a refusal before "and N more"


def default_operator() -> str:
    """Who makes a change by hand when no name is given: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def next_change_id(con: duckdb.DuckDBPyConnection) -> int:
    """The id the next change gets (call it inside the change's transaction)."""
    [(change_id,)] = con.execute(
        "select coalesce(max(change_id), 0) + 1 from raw.changed_days"
    ).fetchall()
    return int(change_id)


def record_changed_days(
    con: duckdb.DuckDBPyConnection,
    days: pl.DataFrame,
    *,
    dataset: str,
    kind: ChangeKind,
    at: datetime,
    by: str | None = None,
    detail: str | None = None,
) -> int | None:
    """Record one change: a row per day of `days` (usage_date, first_file_id, last_file_id,
    row_count) under a new change_id, which is returned (None when `days` is empty: nothing
    changed). Runs inside the caller's transaction."""
    if days.is_empty():
        return None
    change_id = next_change_id(con)
    con.register("_changed_days", days)
    try:
        con.execute(
            "insert into raw.changed_days (change_id, dataset, usage_date, change_kind, "
            "first_file_id, last_file_id, row_count, changed_at, changed_by, detail) "
            "select $change_id, $dataset, usage_date, $kind, first_file_id, last_file_id, "
            "row_count, $at, $by, $detail from _changed_days",
            {"change_id": change_id, "dataset": dataset, "kind": kind, "at": at, "by": by,
             "detail": detail},
        )  # fmt: skip
    finally:
        con.unregister("_changed_days")
    return change_id


@dataclass(frozen=True)
class HoldChange:
    change_id: int
    events: pl.DataFrame  # request_id, tenant_id, usage_date of the events held or released
    issued_invoices: list[str]  # issued invoices of their months: the change is a correction


def _names(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOWN])
    return shown + (f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else "")


def _requested(request_ids: Sequence[str]) -> pl.DataFrame:
    ids = list(dict.fromkeys(request_ids))  # in the order given, once each
    if not ids:
        raise MeterhouseError("give at least one --request-id.")
    return pl.DataFrame({"request_id": ids}, schema={"request_id": pl.String})


def _loaded(con: duckdb.DuckDBPyConnection, requested: pl.DataFrame) -> pl.DataFrame:
    """The loaded events of `requested`, with their open hold (null when none); refuses ids
    that are not loaded events, by name, saying which were quarantined at load."""
    con.register("_requested", requested)
    try:
        found = con.sql(
            "select r.request_id, e.tenant_id, e.usage_date, e.file_id, "
            "h.held_at, h.held_by, h.reason, "
            "(select string_agg(distinct q.rules_broken, '; ') from raw.quarantined_events q "
            " where q.request_id = r.request_id) as quarantined_for "
            "from _requested r "
            "left join raw.usage_events e on e.request_id = r.request_id "
            "left join raw.event_holds h "
            "  on h.request_id = r.request_id and h.released_at is null"
        ).pl()
    finally:
        con.unregister("_requested")
    found = requested.join(found, on="request_id", how="left", maintain_order="left")
    unknown = found.filter(pl.col("tenant_id").is_null())
    if unknown.height:
        at_load = unknown.filter(pl.col("quarantined_for").is_not_null())
        note = (
            f" ({_names(at_load['request_id'].to_list())} quarantined at load already: "
            "see raw.quarantined_events)"
            if at_load.height
            else ""
        )
        raise MeterhouseError(
            f"no loaded event with request_id {_names(unknown['request_id'].to_list())}{note}. "
            "Check the ids (they are case-sensitive); nothing was changed."
        )
    return found


def _issued_invoices(con: duckdb.DuckDBPyConnection, events: pl.DataFrame) -> list[str]:
    months = events.select(
        "tenant_id", pl.col("usage_date").dt.truncate("1mo").alias("invoice_month")
    ).unique()
    con.register("_months", months)
    try:
        rows = con.execute(
            "select distinct i.invoice_id from app.issued_invoices i "
            "inner join _months m on m.tenant_id = i.tenant_id "
            "and m.invoice_month = i.invoice_month order by 1"
        ).fetchall()
    finally:
        con.unregister("_months")
    return [str(invoice_id) for (invoice_id,) in rows]


def _days(events: pl.DataFrame) -> pl.DataFrame:
    return events.group_by("usage_date").agg(
        pl.col("file_id").min().alias("first_file_id"),
        pl.col("file_id").max().alias("last_file_id"),
        pl.len().cast(pl.Int64).alias("row_count"),
    )


def hold_events(
    con: duckdb.DuckDBPyConnection,
    request_ids: Sequence[str],
    *,
    reason: str,
    by: str,
    at: datetime,
) -> HoldChange:
    """Hold loaded events out of the marts, in one transaction: an open hold per event (who,
    when, why) and the changed days of their usage_dates. Refuses, changing nothing, ids that
    are not loaded events and events already held. `at` is UTC (naive)."""
    if not reason.strip():
        raise MeterhouseError("give the reason for the quarantine: --reason TEXT.")
    found = _loaded(con, _requested(request_ids))
    held = found.filter(pl.col("held_at").is_not_null())
    if held.height:
        raise MeterhouseError(
            f"already quarantined: {_names(held['request_id'].to_list())} (release them first "
            "with --release to change the reason); nothing was changed."
        )
    events = found.select("request_id", "tenant_id", "usage_date", "file_id")
    with transaction(con, _held=events):
        change_id = record_changed_days(
            con, _days(events), dataset=EVENTS_DATASET, kind="quarantine", at=at, by=by,
            detail=reason,
        )  # fmt: skip
        con.execute(
            "insert into raw.event_holds (request_id, tenant_id, usage_date, file_id, reason, "
            "held_by, held_at, hold_change_id) select request_id, tenant_id, usage_date, "
            "file_id, $reason, $by, $at, $change_id from _held",
            {"reason": reason, "by": by, "at": at, "change_id": change_id},
        )
    assert change_id is not None
    return HoldChange(change_id, events.drop("file_id"), _issued_invoices(con, events))


def release_events(
    con: duckdb.DuckDBPyConnection,
    request_ids: Sequence[str],
    *,
    reason: str | None,
    by: str,
    at: datetime,
) -> HoldChange:
    """Release held events back into the marts, in one transaction: their holds are closed
    (who, when, why) and their usage_dates recorded as changed. The events are exactly as they
    were loaded. Refuses, changing nothing, ids that are not loaded events or not held."""
    reason = reason.strip() if reason and reason.strip() else None
    found = _loaded(con, _requested(request_ids))
    free = found.filter(pl.col("held_at").is_null())
    if free.height:
        raise MeterhouseError(
            f"not quarantined: {_names(free['request_id'].to_list())}; nothing was changed."
        )
    events = found.select("request_id", "tenant_id", "usage_date", "file_id")
    with transaction(con, _released=events):
        change_id = record_changed_days(
            con, _days(events), dataset=EVENTS_DATASET, kind="release", at=at, by=by,
            detail=reason,
        )  # fmt: skip
        con.execute(
            "update raw.event_holds set released_by = $by, released_at = $at, "
            "release_reason = $reason, release_change_id = $change_id "
            "where released_at is null and request_id in (select request_id from _released)",
            {"reason": reason, "by": by, "at": at, "change_id": change_id},
        )
    assert change_id is not None
    return HoldChange(change_id, events.drop("file_id"), _issued_invoices(con, events))


def _relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }


def marts_behind_loads(con: duckdb.DuckDBPyConnection) -> bool:
    """True when loaded data changed after the marts were last built: a change in
    raw.changed_days after the one fct_usage_daily was rated through (a load, a hold, a
    release). Warehouses whose changes predate the record compare file ids as before."""
    relations = _relations(con)
    if "main.fct_usage_daily" not in relations:
        return True
    [(changed,)] = con.execute(
        "select max(change_id) from raw.changed_days where dataset = ?", [EVENTS_DATASET]
    ).fetchall()
    if changed is None:  # nothing recorded yet: loads made before the record existed
        [(loaded, built)] = con.execute(
            "select (select max(file_id) from raw.usage_events), "
            "(select max(last_file_id) from main.fct_usage_daily)"
        ).fetchall()
        return loaded is not None and (built is None or loaded > built)
    [(built,)] = con.execute(
        "select max(rated_through_change_id) from main.fct_usage_daily"
    ).fetchall()
    if built is None and "main.int_usage_days_rated" in relations:  # no usage in the marts
        [(built,)] = con.execute(
            "select max(rated_through_change_id) from main.int_usage_days_rated"
        ).fetchall()
    return built is None or int(changed) > int(built)
