"""Invoices from `meterhouse nightly`, recomputed independently in plain Python with Decimal.

The recomputation starts from the rated usage (int_usage_priced_daily) and the seed CSVs and
applies the contract terms as docs/pricing.md and docs/decisions/0005 describe them, with
Python's own Decimal arithmetic instead of SQL.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import query, run

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
MONTH = date(2026, 9, 1)
CLASSES = {  # invoice token class: (quantity column, list price column)
    "input": ("uncached_input_tokens", "input_usd_per_1m_tokens"),
    "cache_read": ("cache_read_tokens", "cache_read_usd_per_1m_tokens"),
    "cache_write": ("cache_write_tokens", "cache_write_usd_per_1m_tokens"),
    "reasoning": ("reasoning_tokens", "reasoning_usd_per_1m_tokens"),
    "output": ("non_reasoning_output_tokens", "output_usd_per_1m_tokens"),
}


def seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


def dec(value: str) -> Decimal:
    return Decimal(value) if value else Decimal(0)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def contract_for(tenant: str) -> dict[str, Any]:
    for row in seed("tenant_contracts"):
        ends = date.fromisoformat(row["effective_to"]) if row["effective_to"] else date.max
        if row["tenant_id"] == tenant and date.fromisoformat(row["effective_from"]) <= MONTH < ends:
            return row
    return {"contract_id": "default", "plan_id": "list", "currency": "USD", "discount_ratio": "",
            "monthly_commitment_amount": "", "free_tokens_per_month": "",
            "bills_failed_requests": "false"}  # fmt: skip


def sell_price_usd(plan: str, model: str, token_class: str, list_price: Decimal) -> Decimal:
    cards = [c for c in seed("rate_cards") if c["plan_id"] == plan
             and c["model_id"] in (model, "*") and c["token_class"] in (token_class, "*")
             and date.fromisoformat(c["effective_from"]) <= MONTH]  # fmt: skip
    card = max(cards, key=lambda c: (c["model_id"] != "*", c["token_class"] != "*"))
    if card["usd_per_1m_tokens"]:
        return Decimal(card["usd_per_1m_tokens"])
    return list_price * (1 + Decimal(card["markup_ratio"]))


def fx(currency: str) -> Decimal:
    rates = [
        r
        for r in seed("fx_rates")
        if r["currency"] == currency and date.fromisoformat(r["rate_month"]) <= MONTH
    ]
    return Decimal(max(rates, key=lambda r: r["rate_month"])["units_per_usd"])


def expected_total(db: Path, tenant: str) -> Decimal:
    contract = contract_for(tenant)
    columns = [r[0] for r in query(db, "describe main.int_usage_priced_daily")]
    priced = query(db, "select * from main.int_usage_priced_daily where is_priced")
    usage = [dict(zip(columns, r, strict=True)) for r in priced]
    usage = [u for u in usage if u["tenant_id"] == tenant
             and MONTH <= u["usage_date"] < date(2026, 10, 1)]  # fmt: skip
    bills_failed = contract["bills_failed_requests"] == "true"
    quantities: dict[tuple[str, str, Decimal], int] = defaultdict(int)
    for u in usage:
        if not (u["is_success"] or bills_failed):
            continue
        for token_class, (quantity, price) in CLASSES.items():
            if u[quantity]:
                quantities[(u["model_id"], token_class, u[price])] += u[quantity]
    rate = fx(contract["currency"])
    lines: list[Decimal] = []
    usage_amount, tokens = Decimal(0), 0
    for (model, token_class, list_price), quantity in quantities.items():
        unit = sell_price_usd(contract["plan_id"], model, token_class, list_price) * rate
        unit = unit.quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)
        amount = unit * quantity / Decimal(1_000_000)
        lines.append(cents(amount))
        usage_amount += amount
        tokens += quantity
    free = min(int(dec(contract["free_tokens_per_month"])), tokens)
    free_amount = usage_amount * free / tokens
    tiers = sorted((int(t["from_tokens"]), Decimal(t["discount_ratio"]))
                   for t in seed("contract_volume_tiers")
                   if t["contract_id"] == contract["contract_id"])  # fmt: skip
    tier_amount = Decimal(0)
    for index, (start, ratio) in enumerate(tiers):
        end = tiers[index + 1][0] if index + 1 < len(tiers) else tokens
        in_tier = max(min(tokens, end) - start, 0)
        if ratio and in_tier:
            share = usage_amount * in_tier / tokens * ratio
            tier_amount += share
            lines.append(cents(-share))
    discount = (usage_amount - free_amount - tier_amount) * dec(contract["discount_ratio"])
    lines += [cents(-free_amount)] if free_amount else []
    lines += [cents(-discount)] if discount else []
    total = sum(lines, Decimal(0))
    commitment = dec(contract["monthly_commitment_amount"])
    return max(total, commitment)


@pytest.mark.slow
def test_invoice_totals_match_an_independent_decimal_recomputation(
    tmp_path: Path, db: Path
) -> None:
    sample = tmp_path / "sample"
    assert run("generate", "--out", sample, "--days", 35, "--tenants", 6,
               "--events-per-day", 1500, "--seed", 5).exit_code == 0  # fmt: skip
    result = run("nightly", "--events", sample / "events", "--db", db)
    assert result.exit_code == 0, result.output
    invoices = {
        tenant: (total, currency)
        for tenant, total, currency in query(
            db,
            "select tenant_id, total_amount, currency from main.fct_invoices "
            "where invoice_month = date '2026-09-01'",
        )
    }
    # tn_0001: EUR, tiers, discount, commitment; tn_0002: GBP, free allowance;
    # tn_0004: bills failed requests, USD discount; tn_0005: no contract, default list plan
    for tenant, currency in [("tn_0001", "EUR"), ("tn_0002", "GBP"), ("tn_0004", "USD"),
                             ("tn_0005", "USD")]:  # fmt: skip
        with localcontext() as ctx:
            ctx.prec = 60
            expected = expected_total(db, tenant)
        assert invoices[tenant] == (expected, currency), tenant
