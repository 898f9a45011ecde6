"""Read a LiteLLM model price catalog into price-book rows, money as Decimal from the parse on.

One row per model, service tier, context tier and token class, priced per 1M tokens. Only
token-priced text models are read (modes chat, completion, responses); SKIPPED_FIELDS says
which token prices are not (yet) carried.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import polars as pl

from meterhouse.errors import MeterhouseError

MODES = ("chat", "completion", "responses")
TOKEN_CLASSES = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "output_cost_per_reasoning_token": "reasoning",
}
SERVICE_TIERS = {"": "standard", "batches": "batch", "priority": "priority", "flex": "flex"}
_FIELD = re.compile(
    r"^(?P<base>" + "|".join(TOKEN_CLASSES) + r")"
    r"(?:_above_(?P<k>\d+)k_tokens)?"
    r"(?:_(?P<tier>batches|priority|flex))?$"
)
# Documented, not priced: 1-hour cache writes, audio/image/video tokens, per-query search fees,
# and the `input_cost_per_token_cache_hit` spelling (every model that has it also has
# cache_read_input_token_cost).
SKIPPED_FIELDS = ("_above_1hr", "audio", "image", "video", "search_context", "cache_hit")
PER_MILLION = Decimal(1_000_000)
PRICE_DTYPE = pl.Decimal(38, 12)
PRICE_COLUMNS: dict[str, pl.DataType] = {
    "model_id": pl.String(),
    "provider": pl.String(),
    "service_tier": pl.String(),
    "min_context_tokens": pl.Int64(),
    "token_class": pl.String(),
    "usd_per_1m_tokens": PRICE_DTYPE,
}


def load_catalog(content: bytes, source: str) -> dict[str, Any]:
    """Parse the catalog JSON with every number as Decimal (never a float)."""
    try:
        catalog = json.loads(content, parse_float=Decimal, parse_int=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else exc
        raise MeterhouseError(
            f"{source}: not valid JSON ({detail}). Give LiteLLM's "
            "model_prices_and_context_window.json."
        ) from exc
    if not isinstance(catalog, dict):
        raise MeterhouseError(f"{source}: expected a JSON object of models, found a list/value.")
    return catalog


def catalog_prices(catalog: dict[str, Any]) -> pl.DataFrame:
    """Price-book rows for every token-priced chat model of the catalog."""
    rows: list[tuple[str, str, str, int, str, Decimal]] = []
    for model_id, entry in catalog.items():  # a few thousand entries, not event rows
        if not isinstance(entry, dict) or entry.get("mode") not in MODES:
            continue
        provider = str(entry.get("litellm_provider") or "")
        for field, value in entry.items():
            match = _FIELD.match(field)
            if match is None or not isinstance(value, Decimal) or value < 0:
                continue
            rows.append(
                (
                    model_id,
                    provider,
                    SERVICE_TIERS[match["tier"] or ""],
                    int(match["k"] or 0) * 1000,
                    TOKEN_CLASSES[match["base"]],
                    value * PER_MILLION,
                )
            )
    return pl.DataFrame(rows, schema=PRICE_COLUMNS, orient="row")
