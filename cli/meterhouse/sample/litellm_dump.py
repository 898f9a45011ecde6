"""A sample LiteLLM proxy's spend logs: one CSV dump of `LiteLLM_SpendLogs` per day, as a
gateway beside our own would write them (docs/sources.md, "litellm"), for `make demo` to load
with `meterhouse ingest --source litellm`.

Three teams of one reseller call Gemini, DeepSeek and Anthropic models through the proxy:
OpenAI-style rows count cached tokens inside `prompt_tokens`
(`prompt_tokens_details.cached_tokens`), Anthropic
rows carry cache reads and 5-minute and 1-hour cache writes in `metadata.usage_object`, a few
requests fail, and a few are the proxy's own cache hits (ids `<id>_cache_hit<unix time>`,
spend 0). `spend` is LiteLLM's float estimate: the warehouse never reads it as money.
Deterministic: the same seed writes the same files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

TEAMS = ("team-northwind", "team-initech", "team-hooli")
# model as the proxy names it, its provider, and whether it reports Anthropic's cache fields
# (not OpenAI: the demo reconciles an OpenAI bill against the warehouse's own OpenAI usage)
MODELS = (
    ("gemini/gemini-2.5-flash", "gemini", False),
    ("deepseek/deepseek-chat", "deepseek", False),
    ("claude-sonnet-4-20250514", "anthropic", True),
)


@dataclass(frozen=True)
class LiteLLMDump:
    files: list[Path]
    requests: int  # rows that are requests to a provider
    cache_hits: int  # rows served from the proxy's cache


def write_litellm_dump(out_dir: Path, start: date, days: int, requests_per_day: int,
                       seed: int = 7) -> LiteLLMDump:  # fmt: skip
    """Write `days` daily spend-log dumps (spend_logs_<date>.csv) under `out_dir`."""
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    files, requests, hits = [], 0, 0
    for day in range(days):
        n = int(requests_per_day * rng.uniform(0.8, 1.2))
        frame = _day(rng, start + timedelta(days=day), n, day)
        path = out_dir / f"spend_logs_{start + timedelta(days=day):%Y-%m-%d}.csv"
        frame.write_csv(path)
        files.append(path)
        hit = int(frame["cache_hit"].sum())
        requests, hits = requests + frame.height - hit, hits + hit
    return LiteLLMDump(files, requests, hits)


def _day(rng: np.random.Generator, day: date, n: int, day_index: int) -> pl.DataFrame:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    seconds = np.sort(rng.uniform(0, 86_400, n))
    model = rng.choice(len(MODELS), n, p=[0.5, 0.3, 0.2])
    team = rng.choice(len(TEAMS), n, p=[0.5, 0.3, 0.2])
    uncached = rng.integers(200, 6_000, n)
    cache_read = np.where(rng.random(n) < 0.4, rng.integers(1_000, 20_000, n), 0)
    is_anthropic = np.array([MODELS[m][2] for m in model])
    write_5m = np.where(is_anthropic & (rng.random(n) < 0.3), rng.integers(500, 4_000, n), 0)
    write_1h = np.where(is_anthropic & (rng.random(n) < 0.1), rng.integers(500, 4_000, n), 0)
    output = rng.integers(20, 1_500, n)
    reasoning = np.zeros(n, dtype=np.int64)  # none of these models reports reasoning
    failed = rng.random(n) < 0.01
    cache_hit = rng.random(n) < 0.02
    latency = rng.gamma(2.0, 600.0, n)
    rows = []
    for i in range(n):
        at = midnight + timedelta(seconds=float(seconds[i]))
        name, provider, anthropic = MODELS[model[i]]
        writes = int(write_5m[i] + write_1h[i])
        prompt = int(uncached[i] + cache_read[i] + writes)
        usage: dict[str, object] = {
            "prompt_tokens": prompt,
            "completion_tokens": int(output[i]),
            "total_tokens": prompt + int(output[i]),
            "prompt_tokens_details": {"cached_tokens": int(cache_read[i])},
            "completion_tokens_details": {"reasoning_tokens": int(reasoning[i])},
        }
        if anthropic:
            usage["cache_read_input_tokens"] = int(cache_read[i])
            usage["cache_creation_input_tokens"] = writes
            usage["prompt_tokens_details"] = {
                "cached_tokens": int(cache_read[i]),
                "cache_creation_token_details": {
                    "ephemeral_5m_input_tokens": int(write_5m[i]),
                    "ephemeral_1h_input_tokens": int(write_1h[i]),
                },
            }
        request_id = f"chatcmpl-{day_index:03d}{i:06d}"
        if cache_hit[i]:
            request_id += f"_cache_hit{int(at.timestamp())}"
        end = at + timedelta(milliseconds=float(latency[i]))
        rows.append({
            "request_id": request_id,
            "call_type": "acompletion",
            "api_key": f"{i % 5:064x}",
            "spend": 0.0 if cache_hit[i] else round(prompt * 2e-6 + int(output[i]) * 8e-6, 8),
            "total_tokens": prompt + int(output[i]),
            "prompt_tokens": prompt,
            "completion_tokens": int(output[i]),
            "startTime": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "endTime": end.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "completionStartTime": (at + timedelta(milliseconds=float(latency[i]) / 4))
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "model": name,
            "model_group": name,
            "custom_llm_provider": provider,
            "user": "svc-gateway",
            "end_user": f"user-{int(rng.integers(1, 400)):04d}",
            "team_id": TEAMS[team[i]],
            "organization_id": "org-reseller",
            "metadata": json.dumps({"usage_object": usage, "user_api_key_team_id": TEAMS[team[i]]}),
            "cache_hit": bool(cache_hit[i]),
            "status": "failure" if failed[i] else "success",
            "messages": "{}",
            "response": "{}",
        })  # fmt: skip
    return pl.DataFrame(rows)
