"""What the warehouse holds, for `meterhouse status` and the end of `nightly`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb

from meterhouse.warehouse.sql_text import duckdb_identifier


@dataclass(frozen=True)
class Summary:
    files: int
    rows_read: int
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int
    events: int
    tenants: int
    models: int
    first_date: date | None
    last_date: date | None
    quarantine_by_rule: list[tuple[str, int]]
    dbt_relations: list[tuple[str, str, int]]  # schema, name, rows
    api_cost_usd: Decimal | None = None  # vendor cost at list price, unrounded
    unpriced_requests: int = 0
    invoices: list[tuple[date, str, str, int, Decimal, int]] = field(default_factory=list)
    # month, status, currency, invoices, total amount, invoices with unpriced usage
    anomalies: list[tuple[str, str, int, int]] = field(default_factory=list)
    # kind, severity, days in the last 7 days of data, tenants
    gpu_hours: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    # telemetry files, rows read, loaded, duplicates, quarantined
    held: int = 0  # loaded events quarantined after the fact (meterhouse quarantine)
    left_out: int = 0  # records of other sources that are not usage (agent spans, cache hits)


def summarize(con: duckdb.DuckDBPyConnection) -> Summary:
    manifest, gpu_hours = (
        con.execute(
            "select count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0), "
            "coalesce(sum(rows_duplicate), 0), coalesce(sum(rows_quarantined), 0), "
            "coalesce(sum(rows_skipped), 0) from raw.load_manifest where dataset = ?",
            [dataset],
        ).fetchall()[0]
        for dataset in ("usage_events", "gpu_hours")
    )
    [events] = con.execute(
        "select count(*), count(distinct tenant_id), count(distinct model), "
        "min(usage_date), max(usage_date) from raw.usage_events"
    ).fetchall()
    by_rule = con.execute(
        "select rules_broken, count(*) from raw.quarantined_events group by all order by 2 desc, 1"
    ).fetchall()
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema <> 'raw' order by all"
    ).fetchall()
    relations = [  # the marts users query; seeds and intermediates stay out of the summary
        (
            schema,
            table,
            con.execute(
                f"select count(*) from {duckdb_identifier(schema)}.{duckdb_identifier(table)}"
            ).fetchall()[0][0],
        )
        for schema, table in tables
        if table.startswith(("fct_", "dim_"))
    ]
    built = {table for schema, table in tables if schema == "main"}
    held = 0
    if ("raw", "event_holds") in set(con.execute(
        "select table_schema, table_name from information_schema.tables"
    ).fetchall()):  # fmt: skip
        [(held,)] = con.execute(
            "select count(*) from raw.event_holds where released_at is null"
        ).fetchall()
    cost, unpriced = None, 0
    if "fct_usage_daily" in built:
        [(cost, unpriced)] = con.execute(
            "select sum(api_cost_usd), coalesce(sum(request_count) filter (not is_priced), 0) "
            "from main.fct_usage_daily"
        ).fetchall()
    invoices = []
    if "fct_invoices" in built:
        invoices = con.execute(
            "select invoice_month, status, currency, count(*), sum(total_amount), "
            "count(*) filter (unpriced_tokens > 0) from main.fct_invoices group by all "
            "order by all"
        ).fetchall()
    anomalies = []
    if "fct_usage_anomalies" in built:
        anomalies = con.execute(
            "select kind, severity, count(*), count(distinct tenant_id) "
            "from main.fct_usage_anomalies where usage_date > "
            "(select max(usage_date) - 7 from main.fct_usage_daily) group by all order by all"
        ).fetchall()
    files, read, loaded, duplicate, quarantined, left_out = (int(v) for v in manifest)
    return Summary(
        files=files,
        rows_read=read,
        rows_loaded=loaded,
        rows_duplicate=duplicate,
        rows_quarantined=quarantined,
        left_out=left_out,
        events=int(events[0]),
        tenants=int(events[1]),
        models=int(events[2]),
        first_date=events[3],
        last_date=events[4],
        quarantine_by_rule=[(str(r), int(n)) for r, n in by_rule],
        dbt_relations=[(str(s), str(t), int(n)) for s, t, n in relations],
        api_cost_usd=cost,
        unpriced_requests=int(unpriced),
        invoices=[(m, str(s), str(c), int(n), t, int(u)) for m, s, c, n, t, u in invoices],
        anomalies=[(str(k), str(s), int(n), int(t)) for k, s, n, t in anomalies],
        gpu_hours=tuple(int(v) for v in gpu_hours[:5]),  # type: ignore[arg-type]
        held=int(held),
    )
