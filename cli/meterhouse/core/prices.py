"""Read a LiteLLM model price catalog into price-book rows, money as Decimal from the parse on.

One row per model, service tier, context tier and token class, priced per 1M tokens. Only
token-priced text models are read (modes chat, completion, responses); SKIPPED_FIELDS says
which token prices are not (yet) carried. A price meterhouse would import that is not a
non-negative finite number, or that DECIMAL(38, 12) per 1M tokens cannot hold, refuses the
whole catalog, naming the model and field (docs/pricing.md): it is never skipped or rounded
away silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import polars as pl

from meterhouse.core import vocabulary
from meterhouse.core.money import UNIT_PRICE
from meterhouse.errors import MeterhouseError

MODES = ("chat", "completion", "responses")
# LiteLLM's own description of an entry's fields, with placeholder text and zero prices.
DOCUMENTATION_KEYS = ("sample_spec",)
# The catalog's field of each token class's price, and suffix of each service tier's
# (core/vocabulary.py: catalog_key, catalog_suffix).
TOKEN_CLASSES = {c.catalog_key: c.name for c in vocabulary.TOKEN_CLASSES}
SERVICE_TIERS = {t.catalog_suffix: t.name for t in vocabulary.SERVICE_TIERS}
# Longest key first: cache_creation_input_token_cost_above_1hr (the 1-hour cache write) is read
# as its own class, not as cache_creation_input_token_cost with a suffix.
_FIELD = re.compile(
    r"^(?P<base>" + "|".join(map(re.escape, sorted(TOKEN_CLASSES, key=len, reverse=True))) + r")"
    r"(?:_above_(?P<k>\d+)k_tokens)?"
    r"(?:_(?P<tier>" + "|".join(re.escape(s) for s in SERVICE_TIERS if s) + r"))?$"
)
# Documented, not priced: audio/image/video tokens, per-query search fees, and the
# `input_cost_per_token_cache_hit` spelling (every model that has it also has
# cache_read_input_token_cost).
SKIPPED_FIELDS = ("audio", "image", "video", "search_context", "cache_hit")
PER_MILLION = Decimal(1_000_000)
STORED = Decimal(1).scaleb(-UNIT_PRICE.scale)  # the scale of a stored price
MAX_INTEGER_DIGITS = 26  # 38 - 12
# The catalog is written from doubles, and some prices carry their arithmetic noise (0.30002 per
# 1M tokens written as 3.0001999999999996e-07): digits past the 15th significant one, which is as
# many as a double holds faithfully, are that noise and are rounded off before the scale check.
SIGNIFICANT_DIGITS = 15
PRICE_COLUMNS: dict[str, pl.DataType] = {
    "model_id": pl.String(),
    "provider": pl.String(),
    "service_tier": pl.String(),
    "min_context_tokens": pl.Int64(),
    "token_class": pl.String(),
    "usd_per_1m_tokens": UNIT_PRICE,
}


def load_catalog(content: bytes, source: str) -> dict[str, Any]:
    """Parse the catalog JSON with every number as Decimal (never a float), and refuse it when a
    price the import reads is not one (per_million)."""
    try:  # NaN and Infinity too, so that they are refused as prices, not read as floats
        catalog = json.loads(
            content, parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else exc
        raise MeterhouseError(
            f"{source}: not valid JSON ({detail}). Give LiteLLM's "
            "model_prices_and_context_window.json."
        ) from exc
    if not isinstance(catalog, dict):
        raise MeterhouseError(f"{source}: expected a JSON object of models, found a list/value.")
    catalog_prices(catalog, source)  # refuses a bad price before anything is imported
    return catalog


def per_million(value: object) -> Decimal | str:
    """A catalog price per token as USD per 1M tokens at the stored scale, or what is wrong."""
    if not isinstance(value, Decimal):  # a string, a boolean, an object... (never a float)
        return "is not a number"
    if not value.is_finite():
        return "is not a finite number"
    if value < 0:
        return "is negative"
    with localcontext(prec=60):  # exact: a JSON number's digits are kept, whatever their count
        exact = value * PER_MILLION
        if exact.adjusted() >= MAX_INTEGER_DIGITS:
            return f"is above {10**MAX_INTEGER_DIGITS:.0e} USD per 1M tokens"
        step = Decimal(1).scaleb(exact.adjusted() - SIGNIFICANT_DIGITS + 1)
        rounded = exact.quantize(step, rounding=ROUND_HALF_EVEN)
        stored = rounded.quantize(STORED)
    if stored != rounded:
        return "has more decimals than meterhouse stores (12 per 1M tokens, 18 per token)"
    return stored


def _priced_fields(
    catalog: dict[str, Any], source: str
) -> Iterator[tuple[str, str, re.Match[str], Decimal]]:
    """(model_id, provider, field name match, USD per 1M tokens) of every price imported."""
    for model_id, entry in catalog.items():  # a few thousand entries, not event rows
        if model_id in DOCUMENTATION_KEYS or not isinstance(entry, dict):
            continue
        if entry.get("mode") not in MODES:
            continue
        provider = str(entry.get("litellm_provider") or "")
        for field, value in entry.items():
            match = _FIELD.match(field)
            if match is None or value is None:  # null: no price, as if the field were absent
                continue
            price = per_million(value)
            if isinstance(price, str):
                shown = str(value) if isinstance(value, Decimal) else json.dumps(value)
                raise MeterhouseError(
                    f"{source}: model {json.dumps(model_id)}, field {field}: {shown} {price}. "
                    "Correct or remove it (a price is a JSON number of USD per token, 0 or more, "
                    "at most 18 decimals), then import again; nothing was imported."
                )
            yield model_id, provider, match, price


def catalog_prices(catalog: dict[str, Any], source: str = "the catalog") -> pl.DataFrame:
    """Price-book rows for every token-priced chat model of the catalog."""
    rows: list[tuple[str, str, str, int, str, Decimal]] = []
    for model_id, provider, match, price in _priced_fields(catalog, source):
        rows.append(
            (
                model_id,
                provider,
                SERVICE_TIERS[match["tier"] or ""],
                int(match["k"] or 0) * 1000,
                TOKEN_CLASSES[match["base"]],
                price,
            )
        )
    return pl.DataFrame(rows, schema=PRICE_COLUMNS, orient="row")
