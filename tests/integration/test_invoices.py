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
import yaml

from tests.conftest import query, run

REFERENCE = Path(__file__).resolve().parents[2] / "seeds" / "reference"
# the default plan for tenants without a contract, as the dbt project configures it
VARS = yaml.safe_load((REFERENCE.parents[1] / "dbt_project.yml").read_text())["vars"]
MONTHS = (date(2026, 9, 1), date(2026, 10, 1))
CLASSES = {  # invoice token class: (quantity column, list price column)
    "input": ("uncached_input_tokens", "input_usd_per_1m_tokens"),
    "cache_read": ("cache_read_tokens", "cache_read_usd_per_1m_tokens"),
    "cache_write": ("cache_write_5m_tokens", "cache_write_usd_per_1m_tokens"),
    "cache_write_1h": ("cache_write_1h_tokens", "cache_write_1h_usd_per_1m_tokens"),
    "reasoning": ("reasoning_tokens", "reasoning_usd_per_1m_tokens"),
    "output": ("non_reasoning_output_tokens", "output_usd_per_1m_tokens"),
}


def seed(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


def dec(value: str) -> Decimal:
    return Decimal(value) if value else Decimal(0)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def contract_for(contracts: Path, tenant: str, month: date) -> dict[str, Any]:
    for row in seed(contracts, "tenant_contracts"):
        ends = date.fromisoformat(row["effective_to"]) if row["effective_to"] else date.max
        if row["tenant_id"] == tenant and date.fromisoformat(row["effective_from"]) <= month < ends:
            return row
    return {"contract_id": "default", "plan_id": VARS["default_plan_id"], "currency": "USD",
            "discount_ratio": "",
            "monthly_commitment_amount": "", "free_tokens_per_month": "",
            "bills_failed_requests": "false"}  # fmt: skip


def sell_price_usd(
    month: date, plan: str, model: str, token_class: str, listed: Decimal
) -> Decimal:
    listed_plans = {c["plan_id"] for c in seed(REFERENCE, "rate_cards")}
    if plan == VARS["default_plan_id"] and plan not in listed_plans:
        return listed * (1 + Decimal(str(VARS["default_plan_markup_ratio"])))
    cards = [c for c in seed(REFERENCE, "rate_cards") if c["plan_id"] == plan
             and c["model_id"] in (model, "*") and c["token_class"] in (token_class, "*")
             and date.fromisoformat(c["effective_from"]) <= month]  # fmt: skip
    card = max(cards, key=lambda c: (c["model_id"] != "*", c["token_class"] != "*"))
    if card["usd_per_1m_tokens"]:
        return Decimal(card["usd_per_1m_tokens"])
    return listed * (1 + Decimal(card["markup_ratio"]))


def fx(currency: str, month: date) -> Decimal:
    rates = [
        r
        for r in seed(REFERENCE, "fx_rates")
        if r["currency"] == currency and date.fromisoformat(r["rate_month"]) <= month
    ]
    return Decimal(max(rates, key=lambda r: r["rate_month"])["units_per_usd"])


def total_before_credits(
    usage: list[dict[str, Any]], contracts: Path, tenant: str, month: date
) -> tuple[Decimal, str]:
    """The tenant-month's rounded lines summed, commitment applied, and the currency."""
    contract = contract_for(contracts, tenant, month)
    bills_failed = contract["bills_failed_requests"] == "true"
    rate = fx(contract["currency"], month)
    quantities: dict[tuple[str, str, Decimal], int] = defaultdict(int)  # one line per unit price
    for u in usage:
        if u["tenant_id"] != tenant or u["usage_date"].replace(day=1) != month:
            continue
        if not (u["is_success"] or bills_failed):
            continue
        for token_class, (quantity, price) in CLASSES.items():
            if u[quantity]:
                unit = sell_price_usd(
                    month, contract["plan_id"], u["model_id"], token_class, u[price]
                )
                unit = (unit * rate).quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)
                quantities[(u["model_id"], token_class, unit)] += u[quantity]
    lines: list[Decimal] = []
    usage_amount, tokens = Decimal(0), 0
    for (_, _, unit), quantity in quantities.items():
        amount = unit * quantity / Decimal(1_000_000)
        lines.append(cents(amount))
        usage_amount += amount
        tokens += quantity
    free = min(int(dec(contract["free_tokens_per_month"])), tokens)
    free_amount = usage_amount * free / tokens
    tiers = sorted((int(t["from_tokens"]), Decimal(t["discount_ratio"]))
                   for t in seed(contracts, "contract_volume_tiers")
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
    return max(total, dec(contract["monthly_commitment_amount"])), contract["currency"]


def expected_invoices(db: Path, contracts: Path) -> dict[tuple[str, date], tuple[Decimal, str]]:
    """Every tenant-month's total and currency, prepaid credits drawn oldest month first."""
    columns = [r[0] for r in query(db, "describe main.int_usage_priced_daily")]
    priced = query(db, "select * from main.int_usage_priced_daily where is_priced")
    usage = [dict(zip(columns, r, strict=True)) for r in priced]
    invoices = {
        (tenant, month): total_before_credits(usage, contracts, tenant, month)
        for tenant in {u["tenant_id"] for u in usage}
        for month in MONTHS
        if any(u["tenant_id"] == tenant and u["usage_date"].replace(day=1) == month for u in usage)
    }
    for grant in seed(contracts, "credit_grants"):
        left = Decimal(grant["amount"])
        first = date.fromisoformat(grant["granted_on"]).replace(day=1)
        ends = date.fromisoformat(grant["expires_on"]).replace(day=1)
        for month in MONTHS:
            key = (grant["tenant_id"], month)
            if key in invoices and first <= month < ends:
                total, currency = invoices[key]
                drawn = min(left, max(total, Decimal(0)))
                invoices[key] = (total - drawn, currency)
                left -= drawn
    return invoices


@pytest.mark.slow
def test_invoice_totals_match_an_independent_decimal_recomputation(
    tmp_path: Path, db: Path
) -> None:
    sample = tmp_path / "sample"
    assert run("generate", "--out", sample, "--days", 45, "--tenants", 20,
               "--events-per-day", 1500, "--seed", 2).exit_code == 0  # fmt: skip
    contracts = sample / "contracts"
    before = {p.name: p.read_bytes() for p in contracts.iterdir()}
    result = run("nightly", "--events", sample / "events", "--contracts", contracts, "--db", db)
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_bytes() for p in contracts.iterdir()} == before  # read, never written
    invoices = {
        (tenant, month): (total, currency)
        for tenant, month, total, currency in query(
            db, "select tenant_id, invoice_month, total_amount, currency from main.fct_invoices"
        )
    }
    with localcontext() as ctx:
        ctx.prec = 60
        expected = expected_invoices(db, contracts)
    assert invoices == expected
    # the generated contracts exercise every term at least once
    lines = {r[0] for r in query(db, "select distinct line_type from main.fct_invoice_lines")}
    assert lines >= {"usage", "discount", "tier_discount", "free_allowance",
                     "commitment_shortfall", "credit"}  # fmt: skip
    assert {c for _, c in invoices.values()} == {"USD", "EUR", "GBP"}
