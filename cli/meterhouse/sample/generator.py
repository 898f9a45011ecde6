"""Deterministic sample exports of per-request LLM token usage, dirt included.

The warehouse has to be developed and tested against data that behaves like a real gateway
export: skewed tenants with weekly rhythms, growth and sudden token storms, real token-count
distributions, model names spelled several ways, and the dirt that real exports carry
(duplicates, conflicting re-sends, late events, rule-breaking rows). The generator knows exactly
how much of each it wrote, so tests can check a loader's counts against `SampleSummary`.

Everything is vectorized per day with numpy and written with pyarrow, so a million events take
seconds; the same seed and arguments give byte-identical Parquet files.
"""

from __future__ import annotations

import binascii
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from meterhouse.sample.catalog import (
    Arr,
    draw_tokens,
    load_models,
    load_token_pools,
    model_table,
)
from meterhouse.sample.contracts import write_contracts
from meterhouse.sample.fleet import TelemetryCounts, day_telemetry, fleet, write_inventory
from meterhouse.sample.tenants import Tenants, make_tenants, write_reference

Frame = dict[str, Arr]

DUPLICATE_RATE, CONFLICT_RATE, LATE_RATE, BAD_RATE = 0.004, 0.0005, 0.003, 0.002
CROSS_DAY_DUPLICATES, CROSS_DAY_CONFLICTS = 0.3, 0.5  # share copied from the previous file
BAD_KINDS = (
    "negative_input",
    "negative_output",
    "cache_exceeds_input",
    "reasoning_exceeds_output",
    "null_tenant_id",
    "unparseable_model",
    "null_request_id",
)
UNPARSEABLE_MODELS = ("", "   ", "gpt 4o", "model\tname")
STATUSES, STATUS_SHARES = ("success", "error", "timeout", "cancelled"), (0.97, 0.02, 0.006, 0.004)
TIERS = ("standard", "batch", "flex", "priority")
HOUR_US, DAY_US = 3_600_000_000, 86_400_000_000
SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("event_at", pa.timestamp("us", tz="UTC")),
        ("tenant_id", pa.string()),
        ("model", pa.string()),
        *((c, pa.int64()) for c in ("input_tokens", "output_tokens", "cache_read_tokens")),
        *((c, pa.int64()) for c in ("cache_write_tokens", "cache_write_1h_tokens")),
        ("reasoning_tokens", pa.int64()),
        *((c, pa.string()) for c in ("user_id", "provider", "region", "service_tier", "status")),
        ("latency_ms", pa.int64()),
        ("first_token_latency_ms", pa.int64()),
        ("gpu_id", pa.string()),
        ("trace_id", pa.string()),
    ]
)


@dataclass(frozen=True)
class SampleSummary:
    """What was written; the counts are exact, so a loader's results can be checked with them."""

    out_dir: Path
    days: int
    start: date
    files: int  # parquet files written
    rows_written: int  # all rows in the files, dirt included
    clean_events: int  # distinct valid requests (what a correct loader must load)
    duplicate_rows: int  # exact extra copies (same request_id, identical content)
    conflict_rows: int  # extra copies with the same request_id but different output_tokens
    bad_rows: int  # rows breaking a contract rule
    late_rows: int  # first copies of valid rows whose event_at date is before the file's date
    token_source: str
    model_source: str
    gpu_hours: TelemetryCounts = field(default_factory=TelemetryCounts)  # telemetry rows


def _hex_ids(rng: np.random.Generator, n: int, nbytes: int) -> Arr:
    return np.frombuffer(binascii.hexlify(rng.bytes(nbytes * n)), dtype=f"S{2 * nbytes}")


def _day_rows(
    rng: np.random.Generator, day: int, counts: Arr, ten: Tenants, pools: list[Arr] | None
) -> Frame:
    """Clean rows for day index `day`: `counts[t]` requests of tenant t, in tenant order."""
    t = np.repeat(np.arange(len(counts)), counts)
    n = len(t)
    md = ten.models

    def pick(cdf: Arr) -> Arr:  # per-row draw from per-row cumulative shares
        return np.asarray((rng.random(n)[:, None] > cdf).sum(axis=1), dtype=np.int64)

    event = day * DAY_US + pick(ten.hour_cdf[t]) * HOUR_US + rng.integers(0, HOUR_US, n)
    m = ten.model_idx[t, pick(ten.model_cdf[t])]
    name = md.spelling[m, pick(ten.spell_cdf[t])]
    inp, visible = draw_tokens(rng, ten.workload[t], pools)
    status = np.searchsorted(np.cumsum(STATUS_SHARES), rng.random(n), side="right").clip(0, 3)
    # Reasoning tokens come on top of the visible answer, so output grows with them.
    thinks = rng.random(n) < md.reasoning_rate[m]
    share = rng.beta(3.0, 2.0, n).clip(0.0, 0.95)
    out = np.where(thinks, np.ceil(visible / (1.0 - share)), visible).astype(np.int64)
    reasoning = np.where(thinks, out - visible, 0)
    cut = np.where(status >= 2, rng.random(n), 1.0)  # timeouts and cancels stop mid-answer
    cut[status == 1] = 0.0
    out = np.floor(out * cut).astype(np.int64)
    reasoning = np.minimum(reasoning, out)
    # Providers only cache long prompts; coding agents resend the same context more often.
    hit_rate = np.where(ten.workload[t] == 0, 0.5, 0.3)
    hit = md.caches[m] & (inp >= 1024) & (rng.random(n) < hit_rate)
    cache_read = np.where(hit, np.floor(inp * rng.beta(4.0, 2.0, n)), 0).astype(np.int64)
    writes = md.writes_cache[m] & (rng.random(n) < 0.08)
    cache_write = np.where(writes, np.floor((inp - cache_read) * rng.beta(2.0, 2.0, n)), 0)
    tier = np.where(md.batchable[m] & (rng.random(n) < ten.batch_rate[t]), 1, 0)
    u = rng.random(n)
    tier = np.where((tier == 0) & md.tiered[m] & (u < 0.02), np.where(u < 0.01, 2, 3), tier)
    ttft = rng.lognormal(np.log(np.where(md.fast[m], 250.0, 600.0)), 0.5) * (1 + 3 * thinks)
    speed = np.where(md.fast[m], 150.0, 60.0) * rng.lognormal(0.0, 0.25, n)
    latency = ttft + out * 1000.0 / speed
    batch = tier == 1  # batch results arrive minutes to hours later, all at once
    latency = np.where(batch, rng.uniform(300e3, 43_200e3, n), latency)
    ttft = np.where(batch, latency, ttft)
    latency = np.where(status == 1, ttft, latency)
    latency = np.where(status == 2, rng.choice([60e3, 120e3, 600e3], n), latency)
    ttft = np.minimum(ttft, latency)
    region = md.region[m, np.where(u < 0.75, 0, rng.integers(0, md.n_regions[m]))]
    gpu = np.where(md.n_gpus[m] > 0, md.gpu[m, rng.integers(0, np.maximum(md.n_gpus[m], 1))], -1)
    users = ten.user_offset[t] + (ten.n_users[t] * rng.random(n) ** 2).astype(np.int64)
    rid = _hex_ids(rng, n, 12)
    # About 1 in 8 cache-writing requests (Anthropic-style models) writes to the 1-hour cache
    # instead of the 5-minute one: told by the request id's first hex digit (0 or 1), so that no
    # new draw moves the other columns of a seed's files.
    one_hour = writes & (rid.view(np.uint8)[:: rid.dtype.itemsize] <= ord("1"))
    return {
        "rid": rid,
        "rid_ok": np.ones(n, dtype=bool),
        "event": event,
        "tenant": t,
        "model": name,
        "inp": inp,
        "out": out,
        "cread": cache_read,
        "cwrite": cache_write.astype(np.int64),
        "cwrite1h": np.where(one_hour, cache_write, 0).astype(np.int64),
        "reason": reasoning.astype(np.int64),
        "user": users,
        "provider": md.provider[m],
        "region": region,
        "tier": tier,
        "status": status,
        "lat": np.rint(latency).astype(np.int64),
        "ttft": np.rint(ttft).astype(np.int64),
        "gpu": gpu,
        "trace": _hex_ids(rng, n, 16),
        "traced": rng.random(n) < ten.trace_rate[t],
        "age": day - ten.first_day[t],  # days the tenant has been active: bounds lateness
    }


def _take(frame: Frame, idx: Arr) -> Frame:
    return {k: v[idx] for k, v in frame.items()}


def _concat(frames: list[Frame]) -> Frame:
    return {k: np.concatenate([f[k] for f in frames]) for k in frames[0]}


def _spoil(rng: np.random.Generator, bad: Frame, kinds: Arr, unparseable: int) -> None:
    """Make each row break exactly the rule of its kind (see BAD_KINDS), in place."""
    n = len(kinds)
    small = rng.integers(1, 100, n)
    for kind in range(len(BAD_KINDS)):
        k = kinds == kind
        if kind == 0:  # a negative count also makes any cache total "exceed" it
            bad["inp"][k], bad["cread"][k], bad["cwrite"][k] = -rng.integers(1, 5000, n)[k], 0, 0
            bad["cwrite1h"][k] = 0
        elif kind == 1:
            bad["out"][k], bad["reason"][k] = -rng.integers(1, 500, n)[k], 0
        elif kind == 2:
            bad["cread"][k], bad["cwrite"][k], bad["cwrite1h"][k] = bad["inp"][k], small[k], 0
        elif kind == 3:
            bad["reason"][k] = bad["out"][k] + small[k]
        elif kind == 4:
            bad["tenant"][k] = -1
        elif kind == 5:
            bad["model"][k] = unparseable + rng.integers(0, len(UNPARSEABLE_MODELS), n)[k]
        else:
            bad["rid_ok"][k] = False


def _string_column(values: list[str], idx: Arr) -> pa.Array:
    return pc.take(pa.array(values, pa.string()), pa.array(idx, pa.int32(), mask=idx < 0))


def _fixed_strings(raw: Arr, prefix: bytes, valid: Arr) -> pa.Array:
    n, width = len(raw), raw.dtype.itemsize + len(prefix)
    data = np.empty((n, width), dtype=np.uint8)
    data[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    data[:, len(prefix) :] = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(
        n, width - len(prefix)
    )
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string(), n, [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _table(f: Frame, ten: Tenants, names: list[str]) -> pa.Table:
    md = ten.models
    ints = ("inp", "out", "cread", "cwrite", "cwrite1h", "reason")
    columns = [
        _fixed_strings(f["rid"], b"req_", f["rid_ok"]),
        pa.array(f["event"], pa.timestamp("us", tz="UTC")),
        _string_column(ten.ids, f["tenant"]),
        _string_column(names, f["model"]),
        *(pa.array(f[k].astype(np.int64), pa.int64()) for k in ints),
        _string_column(ten.user_ids, f["user"]),
        _string_column(md.providers, f["provider"]),
        _string_column(md.regions, f["region"]),
        _string_column(list(TIERS), f["tier"]),
        _string_column(list(STATUSES), f["status"]),
        pa.array(f["lat"], pa.int64()),
        pa.array(f["ttft"], pa.int64()),
        _string_column(md.gpus, f["gpu"]),
        _fixed_strings(f["trace"], b"", f["traced"]),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _clear_days(folder: Path) -> None:
    # Only what an earlier run wrote, so a shorter re-run leaves no stale days behind.
    for old in sorted(folder.glob("date=*/part-0.parquet")):
        old.unlink()
        if not any(old.parent.iterdir()):
            old.parent.rmdir()


def _add_dirt(
    rng: np.random.Generator,
    rows: Frame,
    prev: Frame | None,
    *,
    min_bad: int,
    bad_so_far: int,
    first_unparseable: int,
) -> tuple[Frame, Frame, tuple[int, int, int, int, int]]:
    """The day's file rows, its clean rows, and (clean, duplicate, conflict, bad, late) counts."""
    n_all = len(rows["event"])
    n_bad = min(n_all, max(int(rng.binomial(n_all, BAD_RATE)), min_bad))
    perm = rng.permutation(n_all)
    bad, keep = _take(rows, perm[:n_bad]), np.sort(perm[n_bad:])
    n = n_all - n_bad
    # Late events arrive today but happened 1-5 days ago (never before the tenant's first
    # day); exports list them by arrival.
    keep = keep[np.argsort(rows["event"][keep], kind="stable")]
    can_lag = keep[rows["age"][keep] >= 1]
    late = rng.choice(can_lag, min(int(rng.binomial(n, LATE_RATE)), len(can_lag)), replace=False)
    max_lag = np.minimum(rows["age"][late], 5)
    rows["event"][late] -= (1 + (rng.random(len(late)) * max_lag).astype(np.int64)) * DAY_US
    clean = _take(rows, keep)
    kinds = (bad_so_far + np.arange(n_bad)) % len(BAD_KINDS)
    _spoil(rng, bad, kinds, first_unparseable)
    n_dup = int(rng.binomial(n, DUPLICATE_RATE))
    n_conf = min(int(rng.binomial(n, CONFLICT_RATE)), n - n_dup)  # one copy per source
    n_prev = 0 if prev is None else len(prev["event"])
    dup_x = min(int(rng.binomial(n_dup, CROSS_DAY_DUPLICATES)), n_prev)
    conf_x = min(int(rng.binomial(n_conf, CROSS_DAY_CONFLICTS)), n_prev - dup_x)
    dup_s, conf_s = n_dup - dup_x, n_conf - conf_x
    # Copies go after their original, so "first occurrence wins" keeps the original.
    src = rng.choice(n, dup_s + conf_s, replace=False)
    same = _take(clean, src)
    same_keys = src + 0.5 + rng.random(len(src)) * (n - src - 0.5)
    frames, keys = (
        [clean, same, bad],
        [np.arange(n, dtype=float), same_keys, rng.random(n_bad) * n],
    )
    conflicts = [same["out"][dup_s:]]
    if prev is not None:
        src_x = rng.choice(len(prev["event"]), dup_x + conf_x, replace=False)
        cross = _take(prev, src_x)
        frames.append(cross)
        keys.append(rng.random(len(src_x)) * n)
        conflicts.append(cross["out"][dup_x:])
    for copies in conflicts:
        np.add(copies, rng.integers(1, 101, len(copies)), out=copies)
    file_rows = _take(_concat(frames), np.argsort(np.concatenate(keys), kind="stable"))
    return file_rows, clean, (n, n_dup, n_conf, n_bad, len(late))


def generate_sample(
    out_dir: Path,
    *,
    days: int = 30,
    tenants: int = 20,
    events_per_day: int = 10_000,
    seed: int = 42,
    start: date = date(2026, 9, 1),
    shared_data: Path | None = None,
    fleet_scale: int = 1,
) -> SampleSummary:
    """Write `days` daily Parquet files of usage events and of GPU-hour telemetry, reference
    CSVs, and the tenants' contracts and the GPU inventory (the CSVs `meterhouse nightly
    --contracts` reads) under `out_dir`. `fleet_scale` multiplies the self-hosted GPUs."""
    if days < 1 or tenants < 1 or events_per_day < 0:
        raise ValueError("days and tenants must be at least 1, events_per_day not negative")
    models, model_source = load_models(shared_data, fleet_scale)
    pools, token_source = load_token_pools(shared_data)
    md = model_table(models)
    ten = make_tenants(np.random.default_rng([seed, 0]), tenants, days, start, md)
    names = [*md.names, *UNPARSEABLE_MODELS]
    lam = ten.volume(start, days) * (events_per_day * days)
    min_bad = -(-len(BAD_KINDS) // days) if events_per_day * days >= 20_000 else 0
    events, gpu_hours = out_dir / "events", out_dir / "gpu_hours"
    _clear_days(events)
    _clear_days(gpu_hours)
    gpus, telemetry = fleet(md.gpus), TelemetryCounts()
    totals = np.zeros(6, dtype=np.int64)  # rows, clean, duplicate, conflict, bad, late
    epoch_us = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) * 10**6
    prev: Frame | None = None
    # Parquet encoding releases the GIL: write day d while day d + 1 is being drawn.
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future[None] | None = None
        for d in range(days):
            rng = np.random.default_rng([seed, 1, d])
            day = start + timedelta(days=d)
            rows = _day_rows(rng, d, rng.poisson(lam[:, d]), ten, pools)
            rows["event"] += epoch_us
            hours = day_telemetry(
                np.random.default_rng([seed, 2, d]), epoch_us + d * DAY_US, gpus,
                rows["gpu"], rows["event"], rows["lat"], telemetry,
            )  # fmt: skip
            day_rows, prev, counts = _add_dirt(
                rng, rows, prev, min_bad=min_bad, bad_so_far=int(totals[4]),
                first_unparseable=len(md.names),
            )  # fmt: skip
            totals += (len(day_rows["event"]), *counts)
            table = _table(day_rows, ten, names)
            path = events / f"date={day.isoformat()}" / "part-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            if pending is not None:
                pending.result()  # at most one table waits, and a failed write stops the run
            pending = writer.submit(pq.write_table, table, path, compression="zstd")
            hours_path = gpu_hours / f"date={day.isoformat()}" / "part-0.parquet"
            hours_path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(hours, hours_path, compression="zstd")
        if pending is not None:
            pending.result()
    rows_written, clean_events, dups, conflicts, bad, late = (int(x) for x in totals)
    summary = SampleSummary(
        out_dir, days, start, days, rows_written, clean_events, dups, conflicts, bad, late,
        token_source, model_source, telemetry,
    )  # fmt: skip
    write_reference(out_dir / "reference", ten, start)
    write_contracts(out_dir / "contracts", ten, start, days, events_per_day, seed)
    write_inventory(out_dir / "contracts" / "gpu_inventory.csv", gpus, start, days)
    meta: dict[str, Any] = {**asdict(summary), "out_dir": ".", "start": start.isoformat()}
    meta |= {"seed": seed, "tenants": tenants, "events_per_day": events_per_day}
    meta |= {"events": "events/date=*/part-0.parquet", "bad_kinds": list(BAD_KINDS)}
    meta |= {"gpu_hours_files": "gpu_hours/date=*/part-0.parquet", "fleet_scale": fleet_scale}
    (out_dir / "reference" / "generator.json").write_text(json.dumps(meta, indent=2) + "\n")
    return summary
