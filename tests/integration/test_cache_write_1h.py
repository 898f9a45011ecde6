"""Anthropic's 1-hour cache writes as a billed token class of their own (cache_write_1h).

Real DuckDB files and the real dbt build, priced with the shipped price book snapshot (no
import): claude-sonnet-4-20250514 lists 3 USD per 1M input tokens, 3.75 for a 5-minute cache
write and 6 for a 1-hour one; Bedrock's claude-3-5-haiku lists a cache-write price (1) and no
1-hour one; gpt-4.1 lists neither (so both cache writes pay its input price, 2). The tenant has
no contract: the default plan sells at list price plus 30%, in USD.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pypdf

from tests.conftest import event_rows, query, run

SONNET, HAIKU, GPT = (
    "claude-sonnet-4-20250514",
    "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "gpt-4.1",
)
MONTH = "2026-10"
# one request per model: 1 uncached input token and 100,000 written to the cache, 33,333 of
# them to the 1-hour cache (so 66,667 for 5 minutes), no output, below every context tier; and
# a fourth request whose 1-hour writes exceed its cache writes
WRITES = {
    "model": [SONNET, HAIKU, GPT, SONNET],
    "input_tokens": [100_001] * 3 + [100],
    "output_tokens": [0] * 4,
    "cache_read_tokens": [0] * 4,
    "cache_write_tokens": [100_000] * 3 + [5],
    "cache_write_1h_tokens": [33_333] * 3 + [10],
    "reasoning_tokens": [0] * 4,
}


def _built(db: Path, write: Any) -> None:
    events = event_rows(4, **WRITES)
    result = run("ingest", write("writes.parquet", events), "--db", db)
    assert result.exit_code == 0, result.output
    result = run("build", "--db", db)
    assert result.exit_code == 0, result.output


def test_one_hour_writes_pay_their_price_and_the_rest_the_five_minute_one(
    db: Path, write: Any
) -> None:
    _built(db, write)
    [(rules,)] = query(db, "select rules_broken from raw.quarantined_events")
    assert rules == "cache_write_1h_exceeds_cache_write"  # r3 is kept out, for that reason only
    costs = dict(query(db, "select model_name, api_cost_usd from main.int_usage_events_priced"))
    assert costs == {
        # 1 x 3 + 66,667 x 3.75 + 33,333 x 6, per 1M tokens, exact
        SONNET: Decimal("0.450002250000000000"),
        # no 1-hour price: the 1-hour writes pay the cache-write price, 1 (and 1 x 0.8)
        HAIKU: Decimal("0.100000800000000000"),
        # no cache-write price either: every input token pays the input price, 2
        GPT: Decimal("0.200002000000000000"),
    }
    daily = query(
        db,
        "select model_id, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens, "
        "input_tokens from main.fct_usage_daily order by model_id",
    )
    assert daily == [(HAIKU, 100_000, 66_667, 33_333, 100_001),
                     (SONNET, 100_000, 66_667, 33_333, 100_001),
                     (GPT, 100_000, 66_667, 33_333, 100_001)]  # fmt: skip

    lines = query(
        db,
        "select model_id, token_class, quantity_tokens, unit_price_per_1m_tokens, amount "
        "from main.fct_invoice_lines where line_type = 'usage' and token_class like 'cache%' "
        "order by model_id, token_class",
    )
    assert lines == [
        # the same list price (1) for both classes, yet two lines: one per class
        (HAIKU, "cache_write", 66_667, Decimal("1.3"), Decimal("0.09")),
        (HAIKU, "cache_write_1h", 33_333, Decimal("1.3"), Decimal("0.04")),
        # 66,667 x 3.75 x 1.3 = 0.325001625; 33,333 x 6 x 1.3 = 0.2599974 (per 1M)
        (SONNET, "cache_write", 66_667, Decimal("4.875"), Decimal("0.33")),
        (SONNET, "cache_write_1h", 33_333, Decimal("7.8"), Decimal("0.26")),
        (GPT, "cache_write", 66_667, Decimal("2.6"), Decimal("0.17")),
        (GPT, "cache_write_1h", 33_333, Decimal("2.6"), Decimal("0.09")),
    ]


def test_the_invoice_files_and_the_focus_export_show_the_one_hour_writes(
    db: Path, write: Any, tmp_path: Path
) -> None:
    _built(db, write)
    out = tmp_path / "invoices"
    result = run("invoice", "--month", MONTH, "--db", db, "--out", out, "--issuer", "Example AI")
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "INV-202610-tn_a.json").read_text())
    one_hour = [line for line in doc["lines"] if line["token_class"] == "cache_write_1h"]
    assert {(line["model_id"], line["quantity_tokens"], line["amount"]) for line in one_hour} == {
        (SONNET, 33_333, "0.26"), (HAIKU, 33_333, "0.04"), (GPT, 33_333, "0.09"),
    }  # fmt: skip
    with (out / "INV-202610-tn_a.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["token_class"] == "cache_write_1h"]
    assert sorted(r["amount"] for r in rows) == ["0.04", "0.09", "0.26"]
    pdf = pypdf.PdfReader(out / "INV-202610-tn_a.pdf")
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert text.count("Cache write (1 hour)") == 3

    focus = tmp_path / "focus.csv"
    result = run("export", "focus", "--month", MONTH, "--db", db, "--out", focus)
    assert result.exit_code == 0, result.output
    with focus.open(newline="") as handle:
        exported = {r["SkuId"]: r for r in csv.DictReader(handle)}
    row = exported[f"{SONNET}-cache_write_1h"]
    assert row["SkuMeter"] == "Cache Write (1h) Input Tokens"
    assert row["ChargeDescription"] == f"Cache write (1 hour) input tokens for {SONNET}"
    details = json.loads(row["SkuPriceDetails"])
    assert (details["TokenDirection"], details["TokenCacheAction"]) == ("Input", "Write")
    assert (row["ConsumedQuantity"], Decimal(row["ListUnitPrice"])) == ("33333", Decimal("7.8"))
    assert Decimal(row["BilledCost"]) == Decimal("0.26")
    assert exported[f"{SONNET}-cache_write"]["SkuMeter"] == "Cache Write Input Tokens"
    assert exported[f"{SONNET}-cache_write"]["ConsumedQuantity"] == "66667"


def test_a_warehouse_from_before_the_column_gets_it_as_zero(db: Path, write: Any) -> None:
    """A warehouse whose events were loaded before cache_write_1h_tokens existed: the next
    writable open adds the column, 0 on those events (all their writes are 5-minute ones), and
    later loads fill it by name, whatever its place in the table."""
    old = event_rows(1, prefix="old", model=[SONNET], input_tokens=[1_000_000],
                     cache_read_tokens=[0], cache_write_tokens=[400_000])  # fmt: skip
    assert run("ingest", write("old.parquet", old), "--db", db).exit_code == 0
    with duckdb.connect(str(db)) as con:  # the table as warehouses created before had it
        con.execute("alter table raw.usage_events drop column cache_write_1h_tokens")
    new = event_rows(1, prefix="new", model=[SONNET], input_tokens=[1_000_000],
                     cache_read_tokens=[0], cache_write_tokens=[400_000],
                     cache_write_1h_tokens=[100_000])  # fmt: skip
    result = run("ingest", write("new.parquet", new), "--db", db)
    assert result.exit_code == 0, result.output
    assert query(db, "select request_id, cache_write_1h_tokens from raw.usage_events "
                     "order by 1") == [("new0", 100_000), ("old0", 0)]  # fmt: skip
    result = run("build", "--db", db)
    assert result.exit_code == 0, result.output
    assert query(db, "select cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens "
                     "from main.fct_usage_daily") == [(800_000, 700_000, 100_000)]  # fmt: skip
