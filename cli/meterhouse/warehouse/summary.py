"""What the warehouse holds, for `meterhouse status` and the end of `nightly`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb


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


def summarize(con: duckdb.DuckDBPyConnection) -> Summary:
    manifest = con.execute(
        "select count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0), "
        "coalesce(sum(rows_duplicate), 0), coalesce(sum(rows_quarantined), 0) "
        "from raw.load_manifest"
    ).fetchone() or (0, 0, 0, 0, 0)
    events = con.execute(
        "select count(*), count(distinct tenant_id), count(distinct model), "
        "min(usage_date), max(usage_date) from raw.usage_events"
    ).fetchone() or (0, 0, 0, None, None)
    by_rule = con.execute(
        "select rules_broken, count(*) from raw.quarantined_events group by all order by 2 desc"
    ).fetchall()
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where schema_name <> 'raw' and not temporary order by all"
    ).fetchall()
    relations = [
        (schema, table, (con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
                         or (0,))[0])
        for schema, table in tables
    ]  # fmt: skip
    return Summary(
        *(int(v) for v in manifest),
        int(events[0]),
        int(events[1]),
        int(events[2]),
        events[3],
        events[4],
        [(str(r), int(n)) for r, n in by_rule],
        [(str(s), str(t), int(n)) for s, t, n in relations],
    )
