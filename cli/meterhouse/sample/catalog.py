"""The reference inputs of the sample generator: which models, and how many tokens.

Sample events are only useful for testing pricing if their model names are real ones, so the
names come from LiteLLM's price catalog when `shared_data/litellm/` is present: a curated list
of popular chat models is kept where the catalog still lists it, and topped up from the
catalog when too many have gone. Without the catalog the same curated list is used as is.
Gateways do not agree on spelling (provider prefixes, Bedrock region prefixes, upper case), so
each model also carries the variant spellings a loader must learn to resolve.

Token counts are drawn the same way: pairs from the public Azure LLM inference traces in
`shared_data/azure_llm_2023/` when present, else from lognormals fitted to them once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

Arr = npt.NDArray[Any]
CATALOG_FILE = Path("litellm") / "model_prices_and_context_window.json"
MIN_MODELS = 25

# (catalog key, provider, popularity, caches, writes cache, reasons): the attributes are the
# fallback when no catalog is at hand; with one, the catalog's own flags are used instead.
_PREFERRED: tuple[tuple[str, str, float, bool, bool, bool], ...] = (
    ("gpt-4.1", "openai", 8, True, False, False),
    ("gpt-4.1-mini", "openai", 10, True, False, False),
    ("gpt-4.1-nano", "openai", 3, True, False, False),
    ("gpt-4o-2024-08-06", "openai", 4, True, False, False),
    ("gpt-4o-mini", "openai", 8, True, False, False),
    ("o3", "openai", 3, True, False, True),
    ("o4-mini", "openai", 4, True, False, True),
    ("gpt-5", "openai", 6, True, False, True),
    ("gpt-5-mini", "openai", 6, True, False, True),
    ("gpt-5-nano", "openai", 2, True, False, True),
    ("claude-sonnet-4-20250514", "anthropic", 8, True, True, True),
    ("claude-sonnet-4-5-20250929", "anthropic", 6, True, True, True),
    ("claude-haiku-4-5-20251001", "anthropic", 4, True, True, True),
    ("claude-opus-4-1-20250805", "anthropic", 2, True, True, True),
    ("claude-3-7-sonnet-20250219", "anthropic", 3, True, True, True),
    ("gemini/gemini-2.5-pro", "gemini", 3, True, False, True),
    ("gemini/gemini-2.5-flash", "gemini", 5, True, False, True),
    ("gemini-2.5-flash", "vertex_ai", 2, True, False, True),
    ("gemini/gemini-2.0-flash", "gemini", 2, True, False, False),
    ("mistral/mistral-large-latest", "mistral", 2, False, False, False),
    ("mistral/mistral-small-latest", "mistral", 2, False, False, False),
    ("mistral/codestral-latest", "mistral", 1, False, False, False),
    ("deepseek/deepseek-chat", "deepseek", 3, True, False, False),
    ("deepseek/deepseek-reasoner", "deepseek", 1, True, False, True),
    ("groq/llama-3.3-70b-versatile", "groq", 2, False, False, False),
    ("groq/llama-3.1-8b-instant", "groq", 1, False, False, False),
    ("bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", "bedrock", 2, True, True, False),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", "bedrock", 2, True, True, True),
    ("us.meta.llama3-3-70b-instruct-v1:0", "bedrock", 1, False, False, False),
    ("amazon.nova-pro-v1:0", "bedrock", 1, True, False, False),
)
# Open models a tenant runs on its own GPUs: (name, popularity, GPU kind, first and last GPU
# of its pool at fleet scale 1). Scale s gives each pool s times as many GPUs.
_SELF_HOSTED: tuple[tuple[str, float, str, int, int], ...] = (
    ("meta-llama/Llama-3.1-8B-Instruct", 2, "l40s", 1, 4),
    ("meta-llama/Llama-3.3-70B-Instruct", 2, "h100", 1, 4),
    ("Qwen/Qwen2.5-72B-Instruct", 1, "h100", 5, 6),
)


def gpu_pool(kind: str, first: int, last: int, scale: int) -> tuple[str, ...]:
    """The GPU ids of a pool: at scale 1 the pool's own numbers, at scale s s times as many."""
    lo, hi = (first - 1) * scale + 1, last * scale
    return tuple(f"gpu-{kind}-{i:02d}" for i in range(lo, hi + 1))


_PROVIDERS = {  # LiteLLM's provider names, as the gateway reports who served a request
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "vertex_ai-language-models": "vertex_ai",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "bedrock": "bedrock",
    "bedrock_converse": "bedrock",
}
REGIONS: dict[str, tuple[str, ...]] = {  # first region is each provider's busiest
    "openai": ("us", "eu"),
    "anthropic": ("us", "eu"),
    "gemini": ("us-central1", "europe-west4"),
    "vertex_ai": ("us-central1", "europe-west4", "asia-northeast1"),
    "mistral": ("eu-west",),
    "deepseek": ("cn-east",),
    "groq": ("us",),
    "bedrock": ("us-east-1", "us-west-2", "eu-central-1"),
    "self-hosted": ("onprem-fra1", "onprem-iad1"),
}
_FAST_HINTS = {"mini", "nano", "haiku", "flash", "small", "8b", "instant", "lite"}


@dataclass(frozen=True)
class ModelSpec:
    """One model and the facts the generator needs to make its traffic look real."""

    key: str  # the catalog key, the canonical spelling
    provider: str
    popularity: float
    caches: bool  # prompt caching: some requests read a share of their input from cache
    writes_cache: bool  # Anthropic-style caching, where cache writes are reported separately
    reasoning_rate: float  # share of requests that spend hidden reasoning tokens
    fast: bool
    gpus: tuple[str, ...] = ()

    @property
    def spellings(self) -> tuple[str, str, str]:
        """Canonical name, the gateway-prefixed (or unprefixed) form, a re-cased form."""
        return (self.key, _prefixed(self.key, self.provider), _recased(self.key, self.provider))


def _prefixed(key: str, provider: str) -> str:
    if provider == "self-hosted":
        return f"hosted_vllm/{key}"
    if provider == "bedrock":
        bare = key.removeprefix("bedrock/")
        if bare != key:
            return bare
        # Cross-region inference profiles put a geography in front of the model id.
        return f"bedrock/{bare}" if bare[:3] in {"us.", "eu."} else f"bedrock/us.{bare}"
    if "/" in key:
        return key.split("/", 1)[1]
    return f"{provider}/{key}"


def _recased(key: str, provider: str) -> str:
    if provider == "openai":
        return key.upper()
    if provider == "self-hosted":
        return key.lower()
    if provider == "bedrock":  # Bedrock ids are case-sensitive; gateways keep them as they are
        return key
    head, _, tail = key.rpartition("/")
    return f"{head}/{tail[:1].upper()}{tail[1:]}" if head else key[:1].upper() + key[1:]


def _reasoning_rate(key: str, reasons: bool) -> float:
    # Reasoning-first models think on nearly every call; hybrids only when asked to.
    if any(tag in key for tag in ("o3", "o4-", "gpt-5", "reasoner")):
        return 0.9
    return 0.2 if reasons else 0.0


def _spec(
    key: str, provider: str, pop: float, caches: bool, writes: bool, *, reasons: bool
) -> ModelSpec:
    fast = not _FAST_HINTS.isdisjoint(re.split(r"[-/._:]", key.lower()))
    rate = _reasoning_rate(key, reasons)
    return ModelSpec(key, provider, pop, caches, writes, rate, fast)


def _self_hosted(fleet_scale: int) -> list[ModelSpec]:
    return [
        ModelSpec(
            name, "self-hosted", pop, False, False, 0.0, "8B" in name,
            gpu_pool(kind, first, last, fleet_scale),
        )
        for name, pop, kind, first, last in _SELF_HOSTED
    ]  # fmt: skip


def _from_entry(key: str, entry: dict[str, Any], popularity: float) -> ModelSpec:
    # only whether the model has a cache-write price matters here, not its amount
    writes = bool(entry.get("cache_creation_input_token_cost"))
    caches = bool(entry.get("supports_prompt_caching")) or writes
    reasons = bool(entry.get("supports_reasoning"))
    provider = _PROVIDERS[str(entry["litellm_provider"])]
    return _spec(key, provider, popularity, caches, writes, reasons=reasons)


def load_models(shared_data: Path | None, fleet_scale: int = 1) -> tuple[list[ModelSpec], str]:
    """The models to sample from, self-hosted ones last, and a note on where they came from."""
    path = shared_data / CATALOG_FILE if shared_data is not None else None
    if path is None or not path.is_file():
        models = [_spec(*row[:5], reasons=row[5]) for row in _PREFERRED]
        return models + _self_hosted(fleet_scale), "built-in model list (../shared/data not found)"
    catalog: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

    def usable(key: str) -> bool:
        entry = catalog.get(key)
        return (
            isinstance(entry, dict)
            and entry.get("mode") == "chat"
            and entry.get("litellm_provider") in _PROVIDERS
        )

    models = [_from_entry(row[0], catalog[row[0]], row[2]) for row in _PREFERRED if usable(row[0])]
    missing = MIN_MODELS - len(models)
    if missing > 0:
        # Spread the picks over the sorted keys so replacements span providers, not one prefix.
        taken = {m.key for m in models}
        spare = sorted(k for k in catalog if usable(k) and k not in taken)
        step = max(1, len(spare) // missing)
        models += [_from_entry(k, catalog[k], 1.0) for k in spare[::step][:missing]]
    return models + _self_hosted(fleet_scale), "litellm catalog"


@dataclass(frozen=True)
class ModelTable:
    """The models as arrays, so every row's model facts are one fancy-index away."""

    names: list[str]  # every spelling: the string dictionary of the model column
    spelling: Arr  # (model, 3) index into names
    providers: list[str]
    provider: Arr
    regions: list[str]
    region: Arr  # (model, max regions) index into regions; n_regions says how many are real
    n_regions: Arr
    gpus: list[str]
    gpu: Arr  # (model, max GPUs) index into gpus; n_gpus is 0 for API models
    n_gpus: Arr
    popularity: Arr
    caches: Arr
    writes_cache: Arr
    reasoning_rate: Arr
    fast: Arr
    batchable: Arr  # the provider sells a discounted batch tier
    tiered: Arr  # the provider sells flex and priority tiers
    self_hosted: Arr


def model_table(specs: list[ModelSpec]) -> ModelTable:
    """Lay the model specs out as arrays indexed by model position."""
    names = list(dict.fromkeys(s for m in specs for s in m.spellings))
    providers = list(dict.fromkeys(m.provider for m in specs))
    regions = list(dict.fromkeys(r for m in specs for r in REGIONS[m.provider]))
    gpus = sorted({g for m in specs for g in m.gpus})

    def table(rows: list[list[int]]) -> Arr:
        width = max(1, *(len(r) for r in rows))
        return np.array([r + [r[0] if r else 0] * (width - len(r)) for r in rows], dtype=np.int64)

    def flags(attr: str) -> Arr:
        return np.array([getattr(m, attr) for m in specs])

    region_rows = [[regions.index(r) for r in REGIONS[m.provider]] for m in specs]
    gpu_rows = [[gpus.index(g) for g in m.gpus] for m in specs]
    prov = np.array([m.provider for m in specs])
    return ModelTable(
        names=names,
        spelling=table([[names.index(s) for s in m.spellings] for m in specs]),
        providers=providers,
        provider=np.array([providers.index(m.provider) for m in specs], dtype=np.int64),
        regions=regions,
        region=table(region_rows),
        n_regions=np.array([len(r) for r in region_rows], dtype=np.int64),
        gpus=gpus,
        gpu=table(gpu_rows),
        n_gpus=np.array([len(r) for r in gpu_rows], dtype=np.int64),
        popularity=flags("popularity").astype(np.float64),
        caches=flags("caches").astype(bool),
        writes_cache=flags("writes_cache").astype(bool),
        reasoning_rate=flags("reasoning_rate").astype(np.float64),
        fast=flags("fast").astype(bool),
        batchable=np.isin(prov, ["openai", "anthropic"]),
        tiered=prov == "openai",
        self_hosted=prov == "self-hosted",
    )


TRACE_FILES = tuple(
    Path("azure_llm_2023") / f"AzureLLMInferenceTrace_{w}.csv" for w in ("code", "conv")
)
# Fitted once from those traces (mean and standard deviation of the log of ContextTokens and
# GeneratedTokens, per file) and used when the traces are not at hand:
# (input mu, input sigma, output mu, output sigma) for the code and conversation workloads.
LOGNORMAL = np.array([[6.9986, 1.3602, 2.7882, 0.8472], [6.6333, 0.9852, 5.0190, 0.8590]])


def load_token_pools(shared_data: Path | None) -> tuple[list[Arr] | None, str]:
    """Real (input, output) token pairs per workload (code, conv), or None to use LOGNORMAL."""
    paths = [shared_data / f for f in TRACE_FILES] if shared_data is not None else []
    if not paths or not all(p.is_file() for p in paths):
        return None, "fitted lognormal (../shared/data not found)"
    pools = [
        pl.read_csv(p, columns=["ContextTokens", "GeneratedTokens"]).to_numpy().astype(np.int64)
        for p in paths
    ]
    return pools, "azure_llm_2023 traces"


def draw_tokens(
    rng: np.random.Generator, workload: Arr, pools: list[Arr] | None
) -> tuple[Arr, Arr]:
    """Input and visible output tokens per row; pairs are kept together, as requests had them."""
    n = len(workload)
    if pools is None:
        mu_in, sd_in, mu_out, sd_out = LOGNORMAL[workload].T
        inp = np.rint(rng.lognormal(mu_in, sd_in)).clip(2, 32_000)
        out = np.rint(rng.lognormal(mu_out, sd_out)).clip(1, 4_096)
        return inp.astype(np.int64), out.astype(np.int64)
    sizes = np.array([len(p) for p in pools])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pairs = np.concatenate(pools)[starts[workload] + (rng.random(n) * sizes[workload]).astype(int)]
    return pairs[:, 0].copy(), pairs[:, 1].copy()
