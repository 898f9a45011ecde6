"""An idle tenant: a contract with a free allowance, volume tiers, a discount and a commitment,
and a month without billable usage (only failed requests, which its contract does not bill)
and a projection of no tokens for the rest of the month. Prorating over zero billable tokens
divided by zero and failed the build, so nobody's invoice was built; now no usage prorates
nothing: the build passes, the idle tenant's projection is its commitment, and the other
tenant's invoice is exactly its usage at list price."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import polars as pl
import yaml

from tests.conftest import event_rows, query, run

Write = Callable[[str, pl.DataFrame], Path]
SHIPPED = Path(__file__).resolve().parents[2] / "seeds" / "contracts"
TRAINED_THROUGH = date(2026, 10, 10)
# gpt-4.1, standard tier, list price per 1M tokens (seeds/reference/price_book_snapshot.csv)
LINES = (
    "select line_type, token_class, quantity_tokens, amount from main.fct_invoice_lines "
    "where invoice_id = '{invoice_id}' order by all"
)
PROJECTION = (
    "select tenant_id, projected_usage_amount, projected_total, projected_total_low_80, "
    "projected_total_high_80 from main.fct_spend_projection order by tenant_id"
)
PRICES = {"input": Decimal(2), "cache_read": Decimal("0.5"), "output": Decimal(8)}
# tenants without a contract: the default plan's markup over list (dbt_project.yml vars)
MARKUP = Decimal(
    str(
        yaml.safe_load((SHIPPED.parents[1] / "dbt_project.yml").read_text())["vars"][
            "default_plan_markup_ratio"
        ]
    )
)


def _contracts(tmp_path: Path) -> Path:
    folder = tmp_path / "contracts"
    shutil.copytree(SHIPPED, folder)
    (folder / "tenant_contracts.csv").write_text(
        "contract_id,tenant_id,plan_id,currency,discount_ratio,monthly_commitment_amount,"
        "free_tokens_per_month,bills_failed_requests,effective_from,effective_to\n"
        "ct_idle,tn_idle,list,USD,0.05,100.00,5000000,false,2026-01-01,\n"
    )
    (folder / "contract_volume_tiers.csv").write_text(
        "contract_id,from_tokens,discount_ratio\nct_idle,0,0\nct_idle,1000000,0.10\n"
    )
    (folder / "credit_grants.csv").write_text(
        "grant_id,tenant_id,currency,amount,granted_on,expires_on\n"
    )
    return folder


def _events() -> pl.DataFrame:
    september = datetime(2026, 9, 15, 12, tzinfo=UTC)
    october = datetime(2026, 10, 5, 12, tzinfo=UTC)
    busy = event_rows(10, "busy-", tenant_id=["tn_busy"] * 10, event_at=[october] * 10,
                      input_tokens=[2_000_000] * 10, cache_read_tokens=[500_000] * 10,
                      output_tokens=[300_000] * 10, reasoning_tokens=[0] * 10,
                      status=["success"] * 10)  # fmt: skip
    idle_before = event_rows(4, "idle-sep-", tenant_id=["tn_idle"] * 4, event_at=[september] * 4,
                             input_tokens=[3_000_000] * 4, status=["success"] * 4)  # fmt: skip
    idle_failed = event_rows(3, "idle-oct-", tenant_id=["tn_idle"] * 3, event_at=[october] * 3,
                             status=["error"] * 3)  # fmt: skip
    return pl.concat([busy, idle_before, idle_failed])


def _forecast(db: Path) -> None:
    """What `meterhouse forecast` would store: tn_idle idle to the end of October, tn_busy on."""
    days = [TRAINED_THROUGH + timedelta(days=d) for d in range(1, 22)]
    rows = [
        ("tenant", tenant, direction, day, (day - TRAINED_THROUGH).days, tokens, tokens, tokens,
         tokens, tokens, "recent_mean", TRAINED_THROUGH)
        for tenant, per_day in (("tn_idle", 0), ("tn_busy", 1_000_000))
        for direction in ("input", "output")
        for day in days
        for tokens in [per_day]
    ]  # fmt: skip
    with duckdb.connect(str(db)) as con:
        con.executemany(
            "insert into app.usage_forecasts values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_an_idle_month_and_an_idle_projection_bill_nothing_and_stop_nobody(
    write: Write, db: Path, tmp_path: Path
) -> None:
    events = _events()
    assert run("ingest", write("events.parquet", events), "--db", db).exit_code == 0
    _forecast(db)
    built = run("build", "--db", db, "--contracts", _contracts(tmp_path))
    assert built.exit_code == 0, built.output
    status = run("status", "--db", db)  # it read the projection that divided by zero
    assert status.exit_code == 0, status.output

    # October: tn_idle's only usage is failed requests its contract does not bill: no usage
    # line and nothing prorated over it (no free allowance, tier or discount line)
    assert query(db, LINES.format(invoice_id="INV-202610-tn_idle")) == []
    # September, with usage, has all three: the contract's terms are applied where they apply
    september = query(db, LINES.format(invoice_id="INV-202609-tn_idle"))
    assert {line[0] for line in september} >= {"usage", "free_allowance", "tier_discount"}

    # the projection of October for tn_idle: no tokens projected, nothing prorated
    projection = query(db, PROJECTION)
    assert projection[1] == (
        "tn_idle", Decimal("0.00"), Decimal("100.00"), Decimal("100.00"), Decimal("100.00")
    )  # fmt: skip
    assert projection[0][0] == "tn_busy"
    assert projection[0][1] > 0

    # tn_busy (no contract: the default plan) is billed exactly its usage at list price plus
    # the default markup
    busy = events.filter(pl.col("tenant_id") == "tn_busy")
    tokens = {
        "input": int((busy["input_tokens"] - busy["cache_read_tokens"]).sum()),
        "cache_read": int(busy["cache_read_tokens"].sum()),
        "output": int(busy["output_tokens"].sum()),
    }
    expected = sorted(
        (
            "usage",
            token_class,
            quantity,
            _cents(quantity * PRICES[token_class] * (1 + MARKUP) / 1_000_000),
        )
        for token_class, quantity in tokens.items()
    )
    assert query(db, LINES.format(invoice_id="INV-202610-tn_busy")) == expected
    assert expected[1][1:] == ("input", 15_000_000, _cents(30 * (1 + MARKUP)))  # $2 per 1M
    total = query(db, "select total_amount from main.fct_invoices where tenant_id = 'tn_busy'")
    assert total == [(sum((amount for *_, amount in expected), Decimal(0)),)]
