"""Requests a gateway answered from its own response cache (served_from_cache): no vendor cost,
invoiced only under a contract with bill_gateway_cache_hits (docs/decisions/0028).

Real DuckDB files, the real CLI and dbt build, priced with the shipped price book snapshot.
Both tenants are on the `list` plan (sell price = list price) in USD, so every expected amount
is the events' tokens times the snapshot's list price, in Decimal, rounded once per line.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from tests.conftest import event_rows, query, run

SNAPSHOT = Path(__file__).resolve().parents[2] / "seeds" / "reference" / "price_book_snapshot.csv"
MONTH = "2026-10"
MODEL = "gpt-4.1"
PLAIN, BILLS = "tn_plain", "tn_bills"  # contract without, and with, bill_gateway_cache_hits
CONTRACT_COLUMNS = (
    "contract_id,tenant_id,plan_id,currency,discount_ratio,monthly_commitment_amount,"
    "free_tokens_per_month,bills_failed_requests,effective_from,effective_to"
)
# per tenant: a call to the provider and two cache hits (one of a model no price book knows:
# it needs no price, as it costs nothing)
EVENTS = {
    "request_id": ["p_call", "p_hit", "p_hit_odd", "b_call", "b_hit"],
    "tenant_id": [PLAIN, PLAIN, PLAIN, BILLS, BILLS],
    "model": [MODEL, MODEL, "gateway-only-model", MODEL, MODEL],
    "input_tokens": [1_000_000, 3_000_000, 700, 2_000_000, 4_000_003],
    "output_tokens": [100_000, 500_000, 70, 200_000, 300_001],
    "cache_read_tokens": [0, 0, 0, 0, 1_000_000],
    "reasoning_tokens": [0] * 5,
    "served_from_cache": [False, True, True, False, True],
}


def _list_prices() -> dict[str, Decimal]:
    with SNAPSHOT.open() as handle:
        return {
            row["token_class"]: Decimal(row["usd_per_1m_tokens"])
            for row in csv.DictReader(handle)
            if row["model_id"] == MODEL and row["service_tier"] == "standard"
        }


def _expected_lines(tenant: str, billed_hits: bool) -> dict[str, Decimal]:
    """Each usage line's amount from the events as written: tokens per class x list price,
    summed unrounded, rounded once half away from zero."""
    price, raw = _list_prices(), defaultdict(Decimal)
    for row in pl.DataFrame(EVENTS).filter(pl.col("tenant_id") == tenant).iter_rows(named=True):
        if row["model"] != MODEL or (row["served_from_cache"] and not billed_hits):
            continue
        raw["input"] += (row["input_tokens"] - row["cache_read_tokens"]) * price["input"]
        raw["cache_read"] += row["cache_read_tokens"] * price["cache_read"]
        raw["output"] += row["output_tokens"] * price["output"]
    return {
        c: (v / 1_000_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        for c, v in raw.items()
        if v
    }


def _contracts(folder: Path, header: str, rows: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tenant_contracts.csv").write_text("\n".join([header, *rows]) + "\n")
    (folder / "contract_volume_tiers.csv").write_text("contract_id,from_tokens,discount_ratio\n")
    (folder / "credit_grants.csv").write_text(
        "grant_id,tenant_id,currency,amount,granted_on,expires_on\n"
    )
    return folder


def _ok(*args: Any) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.output


def _built(db: Path, write: Any, tmp_path: Path) -> Path:
    contracts = _contracts(
        tmp_path / "contracts",
        CONTRACT_COLUMNS.replace(",effective_from", ",bill_gateway_cache_hits,effective_from"),
        [  # tn_plain leaves the option empty: false
            f"c_plain,{PLAIN},list,USD,0,0,0,false,,2026-01-01,",
            f"c_bills,{BILLS},list,USD,0,0,0,false,TRUE,2026-01-01,",
        ],
    )
    _ok("ingest", write("events.parquet", event_rows(5, **EVENTS)), "--db", db)
    _ok("build", "--db", db, "--contracts", contracts)
    return contracts


def _usage_lines(db: Path, tenant: str) -> dict[str, Decimal]:
    return dict(query(db, "select token_class, amount from main.fct_invoice_lines "
                          f"where tenant_id = '{tenant}' and line_type = 'usage'"))  # fmt: skip


def test_cache_hits_cost_nothing_and_are_invoiced_only_where_the_contract_bills_them(
    db: Path, write: Any, tmp_path: Path
) -> None:
    _built(db, write, tmp_path)
    # tn_plain: the call's tokens only (2.00 input + 0.80 output at 2 and 8 USD per 1M)
    assert _usage_lines(db, PLAIN) == _expected_lines(PLAIN, billed_hits=False)
    assert _usage_lines(db, PLAIN) == {"input": Decimal("2.00"), "output": Decimal("0.80")}
    # tn_bills: the cache hit at the same prices as the call, on the same lines
    assert _usage_lines(db, BILLS) == _expected_lines(BILLS, billed_hits=True)
    [(total,)] = query(
        db, f"select total_amount from main.fct_invoices where tenant_id = '{BILLS}'"
    )
    assert total == sum(_expected_lines(BILLS, billed_hits=True).values())

    # the tokens stay visible, told apart; the vendor cost of a cache hit is 0, priced or not
    daily = query(
        db,
        "select tenant_id, model_id, is_served_from_cache, request_count, input_tokens, "
        "api_cost_usd from main.fct_usage_daily order by all",
    )
    assert daily == [
        (BILLS, MODEL, False, 1, 2_000_000, Decimal("5.6")),  # 2 x 2 + 0.2 x 8
        (BILLS, MODEL, True, 1, 4_000_003, Decimal(0)),
        (PLAIN, "gateway-only-model", True, 1, 700, Decimal(0)),
        (PLAIN, MODEL, False, 1, 1_000_000, Decimal("2.8")),
        (PLAIN, MODEL, True, 1, 3_000_000, Decimal(0)),
    ]
    assert query(db, "select * from main.fct_unpriced_usage") == []
    margin = dict(query(db, "select tenant_id, api_cost_usd from main.fct_tenant_margin"))
    assert margin == {PLAIN: Decimal("2.8"), BILLS: Decimal("5.6")}
    # the provider served the calls only: its cost per 1M and a vendor bill see those alone
    costs = query(
        db,
        "select model_id, hardware, input_tokens, cost_usd, unpriced_tokens "
        f"from main.fct_cost_per_1m_tokens where model_id = '{MODEL}' order by 2",
    )
    assert costs == [
        (MODEL, "api:openai", 3_000_000, Decimal("8.4"), 0),
        (MODEL, "gateway_cache", 7_000_003, Decimal(0), 0),
    ]
    [(vendor_tokens,)] = query(db, "select sum(tokens) from main.fct_vendor_usage_daily")
    assert vendor_tokens == 1_000_000 + 100_000 + 2_000_000 + 200_000


def test_the_focus_export_charges_only_billed_cache_hits(
    db: Path, write: Any, tmp_path: Path
) -> None:
    _built(db, write, tmp_path)
    focus = tmp_path / "focus.csv"
    _ok("export", "focus", "--month", MONTH, "--db", db, "--out", focus, "--issuer", "Example AI")
    with focus.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    billed: dict[str, Decimal] = defaultdict(Decimal)
    tokens: dict[str, int] = defaultdict(int)
    for row in rows:
        billed[row["BillingAccountId"]] += Decimal(row["BilledCost"])
        tokens[row["BillingAccountId"]] += int(row["ConsumedQuantity"] or 0)
    assert billed[PLAIN] == Decimal("2.80")
    assert tokens[PLAIN] == 1_100_000  # no row of tn_plain's 3.5M cached tokens
    assert billed[BILLS] == sum(_expected_lines(BILLS, billed_hits=True).values())
    assert tokens[BILLS] == 2_200_000 + 4_300_004


def test_text_booleans_are_read_and_other_text_is_quarantined(db: Path, tmp_path: Path) -> None:
    export = tmp_path / "gateway.csv"
    lines = ["request_id,event_at,tenant_id,model,input_tokens,output_tokens,Served_From_Cache"]
    for i, text in enumerate([" TRUE ", "yes", "1", "t", "False", "no", "0", "F", "", "maybe"]):
        lines.append(f"r{i},2026-10-01T10:00:00Z,{PLAIN},{MODEL},1000,10,{text}")
    export.write_text("\n".join(lines) + "\n")
    _ok("ingest", export, "--db", db)
    stored = query(db, "select request_id, served_from_cache from raw.usage_events order by 1")
    assert stored == [(f"r{i}", i < 4) for i in range(9)]
    [(rules, row_json)] = query(db, "select rules_broken, row_json from raw.quarantined_events")
    assert rules == "invalid_served_from_cache"
    assert json.loads(row_json)["Served_From_Cache"] == "maybe"

    # a re-send that says otherwise is another request: a conflict naming the column
    resend = tmp_path / "resend.csv"
    resend.write_text(lines[0] + "\n" + lines[1].replace(" TRUE ", "false") + "\n")
    _ok("ingest", resend, "--db", db)
    [(detail,)] = query(db, "select detail from raw.quarantined_events "
                            "where rules_broken = 'conflicting_duplicate'")  # fmt: skip
    assert detail.startswith("differs in served_from_cache")


def test_a_warehouse_from_before_the_column_still_loads_and_builds(
    db: Path, write: Any, tmp_path: Path
) -> None:
    """A warehouse loaded, built and issued before served_from_cache existed, with a contracts
    folder that has no bill_gateway_cache_hits column: the next writable open adds the columns
    (false), the old days keep their rating, and cache hits loaded since are not billed."""
    contracts = _contracts(tmp_path / "old_contracts", CONTRACT_COLUMNS,
                           [f"c_plain,{PLAIN},list,USD,0,0,0,false,2026-01-01,"])  # fmt: skip
    old = event_rows(1, prefix="old", tenant_id=[PLAIN], input_tokens=[1_000_000],
                     output_tokens=[0], cache_read_tokens=[0], reasoning_tokens=[0])  # fmt: skip
    _ok("ingest", write("old.parquet", old), "--db", db)
    _ok("build", "--db", db, "--contracts", contracts)
    with duckdb.connect(str(db)) as con:  # the tables as warehouses created before had them
        con.execute("alter table raw.usage_events drop column served_from_cache")
        con.execute("alter table app.issued_sell_prices drop column is_served_from_cache")
        con.execute("alter table main.int_usage_days_rated drop column is_served_from_cache")

    new = event_rows(2, prefix="new", tenant_id=[PLAIN] * 2, input_tokens=[500_000] * 2,
                     output_tokens=[0] * 2, cache_read_tokens=[0] * 2, reasoning_tokens=[0] * 2,
                     event_at=[old["event_at"][0].replace(day=2)] * 2,
                     served_from_cache=[False, True])  # fmt: skip
    _ok("ingest", write("new.parquet", new), "--db", db)
    stored = query(db, "select request_id, served_from_cache from raw.usage_events order by 1")
    assert stored == [("new0", False), ("new1", True), ("old0", False)]
    _ok("build", "--db", db, "--contracts", contracts)
    assert _usage_lines(db, PLAIN) == {"input": Decimal("3.00")}  # 1.5M x 2 per 1M
    _ok("invoice", "issue", "--month", MONTH, "--db", db)
    frozen = query(db, "select distinct is_served_from_cache, is_billable "
                       "from app.issued_sell_prices order by 1")  # fmt: skip
    assert frozen == [(False, True), (True, False)]
