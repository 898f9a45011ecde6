"""Poison rows: one tenant's bad data must never stop another's bill.

- A token count near 2**63 passed the contract before the 100M bound and overflowed the sums,
  failing every later build for every tenant; now it is quarantined at the door.
- An event that passes every rule but is wrong (90M tokens by a gateway bug) is quarantined
  after the fact by request id (`meterhouse quarantine`): the next build drops it from its
  tenant's invoice and nothing else, the accounting holds, and a release restores every total
  exactly. In a month already issued it becomes a correction on the next open invoice; the
  issued invoice never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from tests.conftest import event_rows, manifest_totals, query, run

Write = Callable[[str, pl.DataFrame], Path]
INT64_MAX = 2**63 - 1
WRONG = "a-wrong"  # the request of tn_a a gateway bug reported with 90M input tokens
USAGE = (
    "select tenant_id, model_id, usage_date, service_tier, is_priced, request_count, "
    "input_tokens, output_tokens, uncached_input_tokens, cache_read_tokens, cache_write_tokens, "
    "reasoning_tokens, non_reasoning_output_tokens, api_cost_usd from main.fct_usage_daily "
    "order by all"
)
BILLED_A = (
    "select sum(quantity_tokens) from main.fct_invoice_lines "
    "where tenant_id = 'tn_a' and line_type = 'usage'"
)
LINES = "select * from main.fct_invoice_lines order by all"
INVOICES = (
    "select invoice_id, status, subtotal, corrections, total_amount from main.fct_invoices "
    "order by all"
)


def ok(*args: str | Path) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _with_wrong_event(night: pl.DataFrame) -> pl.DataFrame:
    """tn_a's request a-3 renamed WRONG and reported with 90M input tokens: every rule holds."""
    wrong = pl.col("request_id") == "a-3"
    return night.with_columns(
        input_tokens=pl.when(wrong).then(pl.lit(90_000_000, pl.Int64)).otherwise("input_tokens"),
        request_id=pl.when(wrong).then(pl.lit(WRONG)).otherwise("request_id"),
    )


def _night() -> pl.DataFrame:
    """October: tn_a's 20 requests and tn_b's 20, on 1 October."""
    return pl.concat([
        event_rows(20, "a-", tenant_id=["tn_a"] * 20),
        event_rows(20, "b-", tenant_id=["tn_b"] * 20),
    ])  # fmt: skip


def _tenant(db: Path, sql: str, tenant: str) -> list[tuple[Any, ...]]:
    return [row for row in query(db, sql) if tenant in map(str, row)]


def _accounting(db: Path) -> list[tuple[Any, ...]]:
    return query(
        db,
        "select file_id, read_count, loaded_count, duplicate_count, quarantined_count, "
        "in_marts_count, held_count from main.fct_file_loads order by 1",
    )


def test_a_count_near_2_63_is_stopped_at_the_door(write: Write, tmp_path: Path) -> None:
    poison = event_rows(2, "p-", tenant_id=["tn_a"] * 2, output_tokens=[INT64_MAX, 10],
                        reasoning_tokens=[0, 0])  # fmt: skip

    # Without the door (the row stored as the contract before the bound let it in), the sums
    # overflow and the build fails for every tenant.
    before = tmp_path / "before.duckdb"
    ok("ingest", write("night.parquet", _night()), "--db", before)
    with duckdb.connect(str(before)) as con:
        con.execute(
            "insert into raw.usage_events select * replace ('p-' || source_row as request_id, "
            "case when source_row = 0 then ? else output_tokens end as output_tokens, "
            "0 as reasoning_tokens) from raw.usage_events where tenant_id = 'tn_a' and "
            "source_row < 2",
            [INT64_MAX],
        )
    failed = run("build", "--db", before)
    assert failed.exit_code != 0
    assert query(before, "select count(*) from information_schema.tables "
                         "where table_name = 'fct_invoices'") == [(0,)]  # fmt: skip

    # Through the door: quarantined with its reason; the build passes and bills both tenants.
    db = tmp_path / "warehouse.duckdb"
    night = pl.concat([_night(), poison], how="vertical_relaxed")
    assert "quarantined 1" in ok("ingest", write("poison.parquet", night), "--db", db)
    assert query(db, "select request_id, rules_broken from raw.quarantined_events") == [
        ("p-0", "too_many_tokens")
    ]
    assert manifest_totals(db) == (42, 41, 0, 1)
    ok("build", "--db", db)
    assert [t for (t,) in query(db, "select tenant_id from main.fct_invoices order by 1")] == [
        "tn_a",
        "tn_b",
    ]
    assert query(db, "select output_tokens from main.fct_usage_daily where tenant_id = 'tn_a'") == [
        (sum(range(10, 30)) + 10,)
    ]


def test_quarantine_after_the_fact_drops_the_event_and_release_restores_it(
    write: Write, db: Path
) -> None:
    night = _with_wrong_event(_night())
    ok("ingest", write("night.parquet", night), "--db", db)
    ok("build", "--db", db)
    usage, lines, invoices = query(db, USAGE), query(db, LINES), query(db, INVOICES)
    [(billed_before,)] = query(db, BILLED_A)

    refused = run("quarantine", "--request-id", WRONG, "--request-id", "nope", "--reason", "x",
                  "--db", db)  # fmt: skip
    assert refused.exit_code != 0
    assert "'nope'" in refused.output
    assert query(db, "select count(*) from raw.event_holds") == [(0,)]

    said = ok("quarantine", "--request-id", WRONG, "--reason", "gateway bug: 90M tokens",
              "--by", "ops@example.com", "--db", db)  # fmt: skip
    assert "quarantined 1 event(s) of tn_a" in said
    assert "re-rates 2026-10-01" in said
    assert query(db, "select held_by, reason from raw.event_holds") == [
        ("ops@example.com", "gateway bug: 90M tokens")
    ]
    ok("build", "--db", db)

    [(input_a,)] = query(
        db, "select input_tokens from main.fct_usage_daily where tenant_id = 'tn_a'"
    )
    assert input_a == sum(range(100, 120)) - 103  # without a-3 (which carried 90M)
    held = night.filter(pl.col("request_id") == WRONG).row(0, named=True)
    [(billed_after,)] = query(db, BILLED_A)
    assert billed_before - billed_after == held["input_tokens"] + held["output_tokens"]
    assert _tenant(db, INVOICES, "tn_b") == [r for r in invoices if "tn_b" in map(str, r)]
    assert _tenant(db, LINES, "tn_b") == [r for r in lines if "tn_b" in map(str, r)]
    [(total_a,)] = query(db, "select total_amount from main.fct_invoices where tenant_id = 'tn_a'")
    assert total_a < next(r[4] for r in invoices if r[0] == "INV-202610-tn_a")
    assert _accounting(db) == [(1, 40, 40, 0, 0, 39, 1)]  # loaded = in the marts + held
    assert "1 are quarantined after loading" in ok("status", "--db", db)

    said = ok("quarantine", "--release", "--request-id", WRONG, "--db", db)
    assert "released 1 event(s) of tn_a" in said
    ok("build", "--db", db)
    assert (query(db, USAGE), query(db, LINES), query(db, INVOICES)) == (usage, lines, invoices)
    assert _accounting(db) == [(1, 40, 40, 0, 0, 40, 0)]
    assert "quarantined after loading" not in ok("status", "--db", db)
    assert query(db, "select change_kind from raw.changed_days order by change_id") == [
        ("load",),
        ("quarantine",),
        ("release",),
    ]


def test_a_held_event_of_an_issued_month_is_a_correction_on_the_next_invoice(
    write: Write, db: Path
) -> None:
    night = _with_wrong_event(_night())
    ok("ingest", write("night.parquet", night), "--db", db)
    ok("build", "--db", db)
    ok("invoice", "issue", "--month", "2026-10", "--db", db)
    issued = query(db, "select * from app.issued_invoices order by all")
    october = query(db, "select * from main.fct_invoices where invoice_month = '2026-10-01' "
                        "order by all")  # fmt: skip

    said = ok("quarantine", "--request-id", WRONG, "--reason", "test traffic", "--db", db)
    assert "issued already: INV-202610-tn_a" in said
    assert "correction" in said
    ok("build", "--db", db)

    assert query(db, "select * from app.issued_invoices order by all") == issued
    assert query(db, "select * from main.fct_invoices where invoice_month = '2026-10-01' "
                     "order by all") == october  # fmt: skip
    corrections = query(
        db,
        "select invoice_id, corrects_invoice_id, token_class, quantity_tokens "
        "from main.fct_invoice_lines where line_type = 'correction' and corrected_line_type = "
        "'usage' order by token_class",
    )
    event = night.filter(pl.col("request_id") == WRONG).row(0, named=True)
    expected = {
        "cache_read": event["cache_read_tokens"],
        "input": event["input_tokens"] - event["cache_read_tokens"] - event["cache_write_tokens"],
        "output": event["output_tokens"] - event["reasoning_tokens"],
        "reasoning": event["reasoning_tokens"],
    }
    assert corrections == [
        ("INV-202611-tn_a", "INV-202610-tn_a", token_class, -tokens)
        for token_class, tokens in sorted(expected.items())
        if tokens
    ]
    # the correction traces to the held request, negative; the issued lines still to theirs
    traced = query(
        db,
        "select line_type, token_class, request_id, r.quantity_tokens "
        "from main.fct_invoice_line_requests r inner join main.fct_invoice_lines l "
        "using (invoice_id, line_number) where invoice_id = 'INV-202611-tn_a' order by all",
    )
    assert traced == [
        ("correction", token_class, WRONG, -tokens)
        for token_class, tokens in sorted(expected.items())
        if tokens
    ]
    assert query(
        db,
        "select sum(quantity_tokens) from main.fct_invoice_line_requests "
        "where invoice_id = 'INV-202610-tn_a'",
    ) == query(
        db,
        "select sum(quantity_tokens) from app.issued_invoice_lines "
        "where invoice_id = 'INV-202610-tn_a' and line_type = 'usage'",
    )
    [(correction_total,)] = query(
        db, "select total_amount from main.fct_invoices where invoice_id = 'INV-202611-tn_a'"
    )
    assert correction_total < 0  # a credit for what was billed
    assert query(db, "select count(*) from main.fct_invoices where tenant_id = 'tn_b' "
                     "and invoice_month > '2026-10-01'") == [(0,)]  # fmt: skip

    ok("quarantine", "--release", "--request-id", WRONG, "--db", db)
    ok("build", "--db", db)
    assert query(
        db, "select count(*) from main.fct_invoice_lines where line_type = 'correction'"
    ) == [(0,)]
    assert query(db, "select * from app.issued_invoices order by all") == issued
