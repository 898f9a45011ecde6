"""The sample's tenants: who sends traffic, how much, when and to which models.

Each tenant's traffic shape (size, weekly rhythm, growth, start day, token storm, daily hours,
model mix and name spelling) is drawn once per run, separately from the daily events, so the
generator can keep to turning these parameters into rows. The same parameters are written as
reference CSVs, the truth a forecast or anomaly check is scored against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from meterhouse.sample.catalog import Arr, ModelTable

_FIRST = ("Acme", "Blue", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iris", "Juno")
_SECOND = ("Analytics", "Bank", "Cloud", "Devices", "Energy", "Foods", "Games", "Health", "Labs")


@dataclass(frozen=True)
class Tenants:
    """Per-tenant traffic parameters; arrays are indexed by tenant position (tn_0001 first)."""

    ids: list[str]
    names: list[str]
    user_ids: list[str]
    models: ModelTable
    weight: Arr  # share of traffic before seasonality and trend, largest first
    workload: Arr  # 0 = code, 1 = conversation: decides token shapes and the day's rhythm
    weekend: Arr  # weekend volume relative to a weekday
    growth: Arr  # daily growth factor minus one
    first_day: Arr  # day index of the first request
    storm_day: Arr  # day index of the token storm, -1 for none
    storm_mult: Arr
    hour_cdf: Arr  # (tenant, 24) cumulative share of the day's requests by UTC hour
    model_idx: Arr  # (tenant, slots) models the tenant calls ...
    model_cdf: Arr  # ... and their cumulative shares
    spell_cdf: Arr  # (tenant, 3) how the tenant's gateway spells model names
    batch_rate: Arr
    trace_rate: Arr
    n_users: Arr
    user_offset: Arr

    def volume(self, start: date, days: int) -> Arr:
        """(tenant, day) expected share of all events in the period."""
        weekend = np.array([(start + timedelta(days=d)).weekday() >= 5 for d in range(days)])
        age = np.arange(days)[None, :] - self.first_day[:, None]
        trend = np.where(age >= 0, (1.0 + self.growth[:, None]) ** age, 0.0)
        lam = self.weight[:, None] * np.where(weekend, self.weekend[:, None], 1.0) * trend
        # A storm is a runaway client: it ignores the weekend lull.
        rows = np.flatnonzero(self.storm_day >= 0)
        cols = self.storm_day[rows]
        lam[rows, cols] = self.weight[rows] * trend[rows, cols] * self.storm_mult[rows]
        return np.asarray(lam / lam.sum(), dtype=np.float64)


def make_tenants(
    rng: np.random.Generator, n: int, days: int, start: date, md: ModelTable
) -> Tenants:
    """Draw skewed, seasonal, growing tenants, a few new ones and a few with a token storm."""
    weight = np.sort(rng.pareto(1.2, n) + 1.0)[::-1]
    weight /= weight.sum()
    workload = (rng.random(n) < 0.6).astype(np.int64)
    code = workload == 0
    weekend = np.where(code, rng.uniform(0.15, 0.5, n), rng.uniform(0.5, 0.95, n))
    growth = rng.normal(0.004, 0.01, n).clip(-0.03, 0.04)
    first = np.zeros(n, dtype=np.int64)
    n_new = max(1, round(0.1 * n)) if n >= 5 and days >= 4 else 0
    new = rng.choice(np.arange(1, n), n_new, replace=False)  # never the largest tenant
    first[new] = rng.integers(max(1, days // 4), max(2, 3 * days // 4), n_new)
    growth[new] = rng.uniform(0.02, 0.06, n_new)  # newcomers ramp up fast
    storm_day, storm_mult = np.full(n, -1, dtype=np.int64), np.zeros(n)
    stormy = rng.choice(np.arange(1, n), max(1, round(0.1 * n)) if n >= 3 else 0, replace=False)
    storm_day[stormy] = rng.integers(first[stormy], days)
    storm_mult[stormy] = np.round(rng.uniform(5.0, 20.0, len(stormy)), 1)
    # Users sit in a few time zones; coders peak in office hours, chat in the evening.
    local = (np.arange(24)[None, :] + rng.choice([-8, -5, 0, 1, 8], n)[:, None]) % 24
    dist = np.abs(local - np.where(code, 14, 20)[:, None])
    dist = np.minimum(dist, 24 - dist) / np.where(code, 3.0, 4.5)[:, None]
    profile = np.where(code, 0.05, 0.2)[:, None] + np.exp(-0.5 * dist**2)
    hour_cdf = np.cumsum(profile, axis=1) / profile.sum(axis=1, keepdims=True)
    api, hosted = np.flatnonzero(~md.self_hosted), np.flatnonzero(md.self_hosted)
    n_hosts = max(1, round(0.15 * n)) if len(hosted) else 0
    hosts = set(rng.choice(n, n_hosts, replace=False).tolist())
    slots = 6
    model_idx, model_cdf = np.zeros((n, slots), dtype=np.int64), np.ones((n, slots))
    for t in range(n):  # a few draws per tenant, not per row
        k = min(int(rng.integers(2, slots)), len(api))
        chosen = rng.choice(api, k, replace=False, p=md.popularity[api] / md.popularity[api].sum())
        if t in hosts:  # a tenant that runs its own GPUs sends them most of its traffic
            chosen = np.concatenate([[rng.choice(hosted)], chosen[: slots - 1]])
        shares = np.sort(rng.dirichlet(np.full(len(chosen), 0.8)))[::-1]
        model_idx[t] = chosen[np.minimum(np.arange(slots), len(chosen) - 1)]
        model_cdf[t, : len(chosen)] = np.cumsum(shares)
    prefixed = rng.random(n) < 0.3
    spell = np.where(prefixed[:, None], [0.15, 0.83, 0.02], [0.93, 0.05, 0.02])
    for cdf in (hour_cdf, model_cdf, spell := np.cumsum(spell, axis=1)):
        cdf[:, -1] = 1.0  # rounding must not leave a draw past the last slot
    n_users = np.maximum(5, 500 * np.sqrt(weight / weight[0])).astype(np.int64)
    combos = rng.permutation(len(_FIRST) * len(_SECOND))
    names = [
        f"{_FIRST[c // len(_SECOND)]} {_SECOND[c % len(_SECOND)]}"
        + (f" {t + 1}" if n > len(combos) else "")
        for t, c in enumerate(combos[np.arange(n) % len(combos)])
    ]
    return Tenants(
        ids=[f"tn_{t + 1:04d}" for t in range(n)],
        names=names,
        user_ids=[f"usr_{t + 1:04d}_{u + 1:04d}" for t in range(n) for u in range(n_users[t])],
        models=md,
        weight=weight,
        workload=workload,
        weekend=weekend,
        growth=growth,
        first_day=first,
        storm_day=storm_day,
        storm_mult=storm_mult,
        hour_cdf=hour_cdf,
        model_idx=model_idx,
        model_cdf=model_cdf,
        spell_cdf=spell,
        batch_rate=np.where(rng.random(n) < 0.3, rng.uniform(0.1, 0.4, n), 0.0),
        trace_rate=rng.beta(2.0, 2.0, n),
        n_users=n_users,
        user_offset=np.concatenate([[0], np.cumsum(n_users)[:-1]]),
    )


def write_reference(ref: Path, ten: Tenants, start: date) -> None:
    """tenants.csv and token_storms.csv: the truth a forecast or anomaly check can be scored on."""
    ref.mkdir(parents=True, exist_ok=True)
    first = [start + timedelta(days=int(d)) for d in ten.first_day]
    pl.DataFrame(
        {
            "tenant_id": ten.ids,
            "tenant_name": ten.names,
            "size_weight": np.round(ten.weight, 6),
            "workload": np.where(ten.workload == 0, "code", "conv"),
            "first_active_date": first,
            "growth_per_day": np.round(ten.growth, 5),
        }
    ).write_csv(ref / "tenants.csv")
    stormy = np.flatnonzero(ten.storm_day >= 0)
    pl.DataFrame(
        {
            "tenant_id": [ten.ids[t] for t in stormy],
            "storm_date": [start + timedelta(days=int(ten.storm_day[t])) for t in stormy],
            "multiplier": ten.storm_mult[stormy],
        },
        schema={"tenant_id": pl.String, "storm_date": pl.Date, "multiplier": pl.Float64},
    ).write_csv(ref / "token_storms.csv")
