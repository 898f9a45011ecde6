"""The sample's self-hosted fleet: a GPU inventory and hourly GPU telemetry that agree with
the events.

Every GPU that serves sample events (and one spare per GPU kind that serves nothing, so idle
cost exists) is in `gpu_inventory.csv`, beside the tenant contracts: H100s at the list rate of
the GPU price list, L40S GPUs (not on that list) at a contract rate that changes once inside
the sample. Each day gets one telemetry file with a row per GPU and hour, busy for the time its
requests took at a fixed concurrency (continuous batching). The fleet is sized to the
traffic: the serving GPUs are autoscaled, powered in an hour with requests for as long as keeps
them 30-70% busy and off in an hour without; each spare is a standby GPU, powered for a
health check at the start of each day and serving nothing, so idle cost exists.
The files carry dirt the loader must handle: re-sent rows, a conflicting re-send and rows that
break a rule, and the summary counts each, so tests can check the loader's counts.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from meterhouse.sample.catalog import Arr

HOUR_US = 3_600_000_000
# requests a GPU serves at once (continuous batching): busy time = request time / CONCURRENCY
CONCURRENCY = 24
BUSY_SHARE = (0.3, 0.7)  # how busy an autoscaled GPU is while powered, drawn per GPU-hour
STANDBY_SECONDS = 60  # a spare's daily health check, in the day's first hour
DUPLICATE_RATE = 0.01
BAD_KINDS = ("busy_above_powered", "powered_above_hour", "null_gpu_id", "hour_not_whole")
# GPU kind (as in the sample's gpu ids) -> (gpu_type, GPUs per node, contract USD per GPU-hour
# before and after the rate change, or None for the list rate).
KINDS: dict[str, tuple[str, int, tuple[str, str] | None]] = {
    "h100": ("H100-80GB-HBM3", 8, None),
    "l40s": ("L40S", 4, ("0.9900", "0.8900")),
}
INVENTORY_HEADER = [
    "gpu_id", "gpu_type", "node_id", "gpus_per_node", "region", "provider",
    "contract_usd_per_gpu_hour", "effective_from", "effective_to",
]  # fmt: skip
SCHEMA = pa.schema(
    [
        ("hour", pa.timestamp("us", tz="UTC")),
        ("gpu_id", pa.string()),
        ("busy_seconds", pa.float64()),
        ("powered_seconds", pa.int32()),
    ]
)


@dataclass
class TelemetryCounts:
    rows_written: int = 0
    clean_rows: int = 0
    duplicate_rows: int = 0
    conflict_rows: int = 0
    bad_rows: int = 0


def fleet(serving: list[str]) -> list[str]:
    """The fleet: the GPUs that serve events, then one spare per GPU kind."""
    kinds = sorted({g.split("-")[1] for g in serving})
    return serving + [f"gpu-{kind}-spare-01" for kind in kinds]


def write_inventory(path: Path, gpus: list[str], start: date, days: int) -> None:
    """gpu_inventory.csv: one row per GPU and contract-rate period."""
    change = start + timedelta(days=max(1, days * 2 // 3))
    rows = []
    for index, gpu in enumerate(gpus):
        kind = gpu.split("-")[1]
        gpu_type, per_node, contract = KINDS[kind]
        node = f"node-{kind}-{index // per_node + 1:02d}"
        base = [gpu, gpu_type, node, per_node, "onprem-fra1", "self-hosted"]
        if contract is None:
            rows.append([*base, "", "2020-01-01", ""])
        else:
            rows.append([*base, contract[0], "2020-01-01", change.isoformat()])
            rows.append([*base, contract[1], change.isoformat(), ""])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(INVENTORY_HEADER)
        writer.writerows(rows)


def day_telemetry(
    rng: np.random.Generator,
    day_us: int,
    gpus: list[str],
    gpu: Arr,
    event_us: Arr,
    latency_ms: Arr,
    counts: TelemetryCounts,
) -> pa.Table:
    """One day's telemetry rows for every GPU and hour, dirt included.

    `gpu` (index into `gpus`, -1 for API requests), `event_us` and `latency_ms` are the day's
    requests as generated, before any of them is made late or spoiled.
    """
    n_gpus, hours = len(gpus), 24
    served = gpu >= 0
    hour = ((event_us[served] - day_us) // HOUR_US).clip(0, hours - 1)
    request_s = np.zeros(n_gpus * hours)
    np.add.at(request_s, gpu[served] * hours + hour, latency_ms[served] / 1000.0)
    busy = np.round(request_s / CONCURRENCY, 3)
    share = rng.uniform(*BUSY_SHARE, n_gpus * hours)
    # whole seconds, never below the busy time; 0 in an hour without requests
    powered = np.minimum(np.maximum(np.round(busy / share), np.ceil(busy)), 3600).astype(np.int64)
    standby = np.repeat(np.array(["spare" in g for g in gpus]), hours) & (
        np.tile(np.arange(hours), n_gpus) == 0
    )
    powered[standby] = STANDBY_SECONDS
    busy = np.minimum(busy, powered)
    gpu_idx = np.repeat(np.arange(n_gpus), hours)
    hour_us = day_us + np.tile(np.arange(hours), n_gpus) * HOUR_US
    n = n_gpus * hours

    dup = rng.choice(n, int(rng.binomial(n, DUPLICATE_RATE)), replace=False)
    conflict = rng.choice(np.flatnonzero(powered > 1), 1, replace=False)  # a powered hour
    bad = rng.choice(n, len(BAD_KINDS), replace=False)
    pick = np.concatenate([np.arange(n), dup, conflict, bad])
    ids = np.array(gpus, dtype=object)[gpu_idx[pick]]
    at, p = hour_us[pick].copy(), powered[pick].copy()
    b = busy[pick].copy()
    first_conflict, first_bad = n + len(dup), n + len(dup) + 1
    b[first_conflict] += 1.0 + rng.integers(0, 100)
    b[first_conflict] = min(b[first_conflict], float(p[first_conflict]))
    if b[first_conflict] == busy[conflict[0]]:  # a full-power busy GPU: change powered instead
        p[first_conflict] -= 1
    for offset, kind in enumerate(BAD_KINDS):
        row = first_bad + offset
        if kind == "busy_above_powered":
            b[row] = p[row] + 1.0 + rng.integers(0, 100)
        elif kind == "powered_above_hour":
            p[row] = 3600 + 1 + int(rng.integers(0, 600))
        elif kind == "null_gpu_id":
            ids[row] = None
        else:
            at[row] += int(rng.integers(1, 59)) * 60_000_000
    order = rng.permutation(len(pick))
    order = np.concatenate([np.sort(order[order < n]), order[order >= n]])  # repeats after
    counts.rows_written += len(pick)
    counts.clean_rows += n
    counts.duplicate_rows += len(dup)
    counts.conflict_rows += 1
    counts.bad_rows += len(BAD_KINDS)
    return pa.Table.from_arrays(
        [
            pa.array(at[order], pa.timestamp("us", tz="UTC")),
            pa.array(list(ids[order]), pa.string()),
            pa.array(b[order], pa.float64()),
            pa.array(p[order].astype(np.int32), pa.int32()),
        ],
        schema=SCHEMA,
    )
