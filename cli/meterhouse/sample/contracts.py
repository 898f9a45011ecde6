"""Contracts for the sample's tenants: the three CSVs of seeds/contracts, for every tenant.

Most tenants get a contract (the rest are billed on the default plan): a plan, a currency, and
now and then a discount, graduated volume tiers, a monthly commitment, a free allowance, a
plan change at a month boundary or a prepaid credit grant, some of which expire inside the
sample. Enterprise contracts bill a gateway's cache hits (bill_gateway_cache_hits). Money
terms are sized from the tenant's expected traffic at a rough list cost per request, so that
some commitments are met and some fall short, some credits run out and some lapse. Drawn
from their own random stream: adding contracts does not change the events.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from meterhouse.sample.tenants import Tenants

COST_PER_REQUEST_USD = 0.002  # rough list cost of a sample request (their median is near it)
TOKENS_PER_REQUEST = 1_500
UNITS_PER_USD = {"USD": 1.0, "EUR": 0.9, "GBP": 0.8}  # near the fx_rates seed; sizing only
HEADERS = {
    "tenant_contracts": [
        "contract_id", "tenant_id", "plan_id", "currency", "discount_ratio",
        "monthly_commitment_amount", "free_tokens_per_month", "bills_failed_requests",
        "bill_gateway_cache_hits", "effective_from", "effective_to",
    ],
    "contract_volume_tiers": ["contract_id", "from_tokens", "discount_ratio"],
    "credit_grants": ["grant_id", "tenant_id", "currency", "amount", "granted_on", "expires_on"],
}  # fmt: skip


def _money(value: float) -> str:
    """A round amount (two significant digits, at least 10) as a decimal string."""
    return f"{max(10, int(float(f'{value:.2g}')))}.00"


def _round_tokens(value: float) -> str:
    """A round token count (one significant digit, at least 100k)."""
    return str(max(100_000, int(float(f"{value:.1g}"))))


def _month(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def write_contracts(
    folder: Path, ten: Tenants, start: date, days: int, events_per_day: int, seed: int
) -> None:
    rng = np.random.default_rng([seed, 2])
    n = len(ten.ids)
    monthly_usd = ten.weight * events_per_day * 30 * COST_PER_REQUEST_USD
    monthly_tokens = ten.weight * events_per_day * 30 * TOKENS_PER_REQUEST
    first, second = _month(start), _month(start, 1)
    changes = _month(start + timedelta(days=days - 1)) > first  # a month boundary inside
    rows: dict[str, list[list[str]]] = {name: [] for name in HEADERS}
    for t in np.flatnonzero(rng.random(n) < 0.75):  # a few draws per tenant, not per row
        tenant, currency = ten.ids[t], str(rng.choice(list(UNITS_PER_USD), p=[0.6, 0.25, 0.15]))
        monthly = monthly_usd[t] * UNITS_PER_USD[currency]
        plans = [str(rng.choice(["standard", "enterprise", "list"], p=[0.55, 0.35, 0.1]))]
        if changes and rng.random() < 0.1:
            plans.append("enterprise" if plans[0] != "enterprise" else "standard")
        commitment = _money(monthly * rng.uniform(0.6, 1.6)) if rng.random() < 0.25 else "0"
        free = (
            _round_tokens(monthly_tokens[t] * rng.uniform(0.05, 0.3))
            if rng.random() < 0.25
            else "0"
        )
        discount = str(rng.choice(["0", "0", "0.05", "0.10"]))
        if plans[0] == "enterprise":  # its rate card is the discount: 10% over list
            discount = "0"
        failed = "true" if rng.random() < 0.1 else "false"
        tiered = rng.random() < 0.3
        for k, plan in enumerate(plans):
            contract = f"ct_{tenant}_{k + 1}"
            begins = first if k == 0 else second
            ends = second.isoformat() if k == 0 and len(plans) > 1 else ""
            rows["tenant_contracts"].append([
                contract, tenant, plan, currency, discount, commitment, free, failed,
                # an enterprise deal pays for every answered request, cached or not (no draw:
                # the other terms stay as they were)
                "true" if plan == "enterprise" else "false", begins.isoformat(), ends,
            ])  # fmt: skip
            if tiered:
                step = _round_tokens(monthly_tokens[t] * 0.5)
                rows["contract_volume_tiers"] += [
                    [contract, "0", "0"], [contract, step, "0.05"],
                    [contract, str(4 * int(step)), "0.10"],
                ]  # fmt: skip
        if rng.random() < 0.25:
            granted = start + timedelta(days=int(rng.integers(0, 10)))
            expires = _month(granted, int(rng.integers(1, 4)))  # lapses after 1 to 3 months
            amount = _money(monthly * rng.uniform(0.3, 2.5))
            rows["credit_grants"].append([
                f"cg_{tenant}", tenant, currency, amount, granted.isoformat(), expires.isoformat(),
            ])  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    for name, header in HEADERS.items():
        with (folder / f"{name}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows[name])
