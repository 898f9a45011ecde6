"""A demo vendor bill (FOCUS 1.2 CSV) for one provider and month, built from the generated
event files, with known discrepancies injected and a truth file listing them.

The bill is computed independently of the warehouse, the way a vendor would: from the events
the loader would keep (same reading, same rules, first copy of a request_id wins), each
gateway spelling mapped to the vendor's catalog key through the generator's own model specs
(`ModelSpec.spellings`), priced at list price from the same source the demo warehouse prices
with: the LiteLLM catalog given by `catalog` (what `make demo` imports), else the shipped
snapshot seed (what a warehouse without an import uses). Reading prices from the warehouse
would make the bill agree with our rating by construction, and the generator runs before
there is a warehouse. See docs/reconciliation.md for the limits (context tiers, overrides).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from meterhouse.core.money import UNIT_PRICE
from meterhouse.core.prices import PRICE_COLUMNS, catalog_prices, load_catalog
from meterhouse.core.reading import read_file_columns
from meterhouse.core.reconcile import month_bounds
from meterhouse.core.text import format_text
from meterhouse.core.vocabulary import SERVICE_TIER_NAMES, VENDOR_TOKEN_CLASSES
from meterhouse.errors import MeterhouseError
from meterhouse.paths import project_dir, shared_data_dir
from meterhouse.sample.catalog import load_models
from meterhouse.schemas.dataset import LOADED_AT, with_load_time
from meterhouse.schemas.events import EVENTS

PROVIDER_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Google"}
# Per token class a FOCUS bill carries: (SkuMeter, TokenDirection, TokenCacheAction).
METERS = {
    c.name: (c.focus_unit, c.direction.capitalize(), c.focus_action) for c in VENDOR_TOKEN_CLASSES
}
UNMETERED_MODEL = "demo-unmetered-model"


def _loaded_events(sample_dir: Path) -> pl.DataFrame:
    """The events the loader keeps: rule-abiding rows, first copy of each request_id, files
    in path order."""
    paths = sorted((sample_dir / "events").glob("date=*/part-0.parquet"))
    if not paths:
        raise MeterhouseError(
            f"no event files under {sample_dir}/events: run 'meterhouse generate'."
        )
    frames = []
    for path in paths:
        reading = read_file_columns(pl.Schema(pl.read_parquet_schema(path)), str(path))
        read = pl.scan_parquet(path).select(*reading.columns, reading.any_problem().alias("_bad"))
        frames.append(
            with_load_time(read)  # the time rules compare with the load: loaded now
            .filter(~EVENTS.any_rule_broken() & ~pl.col("_bad"))
            .drop(LOADED_AT)
        )
    return pl.concat(frames).unique("request_id", keep="first", maintain_order=True).collect()


def _prices(catalog: Path | None) -> pl.DataFrame:
    if catalog is not None:
        return catalog_prices(load_catalog(catalog.read_bytes(), str(catalog)))
    seed = project_dir() / "seeds" / "reference" / "price_book_snapshot.csv"
    return pl.read_csv(seed, schema_overrides=PRICE_COLUMNS | {"usd_per_1m_tokens": pl.String})


def _price_of(prices: pl.DataFrame) -> pl.DataFrame:
    """Per model, tier and class, the price the warehouse would choose at base context: the
    tier's own, else standard; a class without one pays its fallback class's price, followed on
    (a cache class the input price; a 1-hour cache write the cache-write price, else input)."""
    base = prices.filter(pl.col("min_context_tokens") == 0).select(
        "model_id",
        "service_tier",
        "token_class",
        pl.col("usd_per_1m_tokens").cast(UNIT_PRICE).alias("price"),
    )
    slots = (
        base.select("model_id")
        .unique()
        .join(pl.DataFrame({"service_tier": list(SERVICE_TIER_NAMES)}), how="cross")
        .join(pl.DataFrame({"token_class": list(METERS)}), how="cross")
    )

    def pick(tier: pl.Expr, cls: pl.Expr, name: str) -> pl.DataFrame:
        return (
            slots.with_columns(_t=tier, _c=cls)
            .join(
                base.rename({"service_tier": "_t", "token_class": "_c", "price": name}),
                on=["model_id", "_t", "_c"],
                how="left",
            )
            .drop("_t", "_c")
        )

    own = pl.col("service_tier")
    standard = pl.lit("standard")  # the tier whose price applies when a tier has none
    cls = pl.col("token_class")
    key = ["model_id", "service_tier", "token_class"]
    direct = (
        pick(own, cls, "a")
        .join(pick(standard, cls, "b"), on=key)
        .select(*key, pl.coalesce("a", "b").alias("price"))
    )
    fallback_of = {c.name: c.price_fallback for c in VENDOR_TOKEN_CLASSES}
    resolved = direct.with_columns(
        cls.replace_strict(fallback_of, return_dtype=pl.String).alias("_f")
    )
    for _ in VENDOR_TOKEN_CLASSES:  # follow the fallbacks to a class priced in its own right
        resolved = (
            resolved.join(
                direct.rename({"token_class": "_f", "price": "_p"}),
                on=["model_id", "service_tier", "_f"],
                how="left",
            )
            .with_columns(
                pl.coalesce("price", "_p").alias("price"),
                pl.col("_f").replace_strict(fallback_of, default=None, return_dtype=pl.String),
            )
            .drop("_p")
        )
    return resolved.select(*key, "price").drop_nulls("price")


def _clean_rows(sample_dir: Path, month: date, provider: str, catalog: Path | None) -> pl.DataFrame:
    start, end = month_bounds(month)
    events = _loaded_events(sample_dir).filter(
        (pl.col("provider") == provider)
        & pl.col("gpu_id").is_null()
        & (pl.col("event_at") >= start)
        & (pl.col("event_at") < end)
    )
    specs, _ = load_models(shared_data_dir())
    spelling = {s: m.key for m in specs for s in m.spellings}
    usage = events.with_columns(
        pl.col("model").replace_strict(spelling, default=pl.col("model")).alias("model_id"),
        pl.col("event_at").dt.date().alias("usage_date"),
        (pl.col("input_tokens") - pl.col("cache_read_tokens") - pl.col("cache_write_tokens")).alias(
            "uncached_input_tokens"
        ),
        # the 5-minute cache writes, as staging derives them
        (pl.col("cache_write_tokens") - pl.col("cache_write_1h_tokens")).alias(
            "cache_write_5m_tokens"
        ),
    ).with_columns(
        pl.col(c.vendor_quantity_column).alias(c.name)
        for c in VENDOR_TOKEN_CLASSES
        if c.vendor_quantity_column is not None
    )
    by_class = usage.unpivot(
        index=["usage_date", "model_id", "service_tier"],
        on=list(METERS),
        variable_name="token_class",
        value_name="tokens",
    )
    return (
        by_class.join(_price_of(_prices(catalog)), on=["model_id", "service_tier", "token_class"])
        .group_by("usage_date", "model_id", "token_class", "price")
        .agg(pl.col("tokens").sum())
        .filter(pl.col("tokens") > 0)
        .sort("usage_date", "model_id", "token_class", "price")
        .with_columns(kind=pl.lit("usage"))
    )


def _inject(
    rows: pl.DataFrame, month: date, seed: int
) -> tuple[pl.DataFrame, list[dict[str, object]]]:
    """Change six keys of one price row each, add an unmetered model, a purchase and a credit."""
    keys = ["usage_date", "model_id", "token_class"]
    single = (
        rows.group_by(keys)
        .agg(pl.len().alias("n"), pl.col("tokens").sum())
        .filter((pl.col("n") == 1) & (pl.col("tokens") >= 100_000))
        .sort(keys)
    )
    if len(single) < 6:
        raise MeterhouseError("too little usage in the month to inject discrepancies into.")
    picked = single[np.random.default_rng(seed).choice(len(single), 6, replace=False).tolist()]
    kinds = [
        "metered_not_billed",
        "quantity_within_tolerance",
        "quantity_beyond_tolerance",
        "unit_price_difference",
        "commitment_drawdown",
        "commitment_drawdown",
    ]
    truth: list[dict[str, object]] = []
    for (day, model, cls, _n, _t), kind in zip(picked.rows(), kinds, strict=True):
        at = (
            (pl.col("usage_date") == day)
            & (pl.col("model_id") == model)
            & (pl.col("token_class") == cls)
        )
        if kind == "metered_not_billed":
            rows = rows.filter(~at)
        elif kind == "quantity_within_tolerance":  # +0.2%, under the 0.5% default
            rows = rows.with_columns(
                pl.when(at).then(pl.col("tokens") * 1002 // 1000).otherwise("tokens")
            )
        elif kind == "quantity_beyond_tolerance":  # +5%
            rows = rows.with_columns(
                pl.when(at).then(pl.col("tokens") * 105 // 100).otherwise("tokens")
            )
        elif kind == "unit_price_difference":  # 10% over list
            rows = rows.with_columns(
                pl.when(at)
                .then(pl.col("price") * Decimal("1.1"))
                .otherwise("price")
                .cast(UNIT_PRICE)
            )
        else:
            rows = rows.with_columns(
                pl.when(at).then(pl.lit("drawdown")).otherwise("kind").alias("kind")
            )
        truth.append(
            {
                "class": kind,
                "charge_period_start": f"{day}T00:00:00Z",
                "model_id": model,
                "token_class": cls,
            }
        )
    first = month.replace(day=2)
    extra = pl.DataFrame(
        {
            "usage_date": [first],
            "model_id": [UNMETERED_MODEL],
            "token_class": ["input"],
            "price": [Decimal("1")],
            "tokens": [2_000_000],
            "kind": ["usage"],
        },
        schema=rows.schema,
    )
    truth.append(
        {
            "class": "billed_not_metered",
            "charge_period_start": f"{first}T00:00:00Z",
            "model_id": UNMETERED_MODEL,
            "token_class": "input",
        }
    )
    truth.append(
        {
            "class": "commitment_purchase",
            "charge_period_start": f"{month}T00:00:00Z",
            "model_id": None,
            "token_class": None,
        }
    )
    truth.append(
        {
            "class": "credit",
            "charge_period_start": f"{month}T00:00:00Z",
            "model_id": None,
            "token_class": None,
        }
    )
    return pl.concat([rows, extra]), truth


def _focus(rows: pl.DataFrame, provider: str, month: date, others: bool) -> pl.DataFrame:
    """FOCUS 1.2 columns, every value as text (as a CSV holds it)."""
    name = PROVIDER_NAMES.get(provider, provider)
    day = pl.col("usage_date")
    cost = (
        pl.col("tokens").cast(pl.Decimal(38, 0))
        * pl.col("price")
        * pl.lit(Decimal("0.000001"), pl.Decimal(7, 6))
    )
    drawdown = pl.col("kind") == "drawdown"
    meter = {c: m for c, (m, _, _) in METERS.items()}
    direction = {c: d for c, (_, d, _) in METERS.items()}
    action = {c: a for c, (_, _, a) in METERS.items() if a}
    cls = pl.col("token_class")
    cache = cls.replace_strict(action, default=None)
    details = pl.concat_str(
        pl.lit('{"ModelId":"'),
        pl.col("model_id"),
        pl.lit('","TokenDirection":"'),
        cls.replace_strict(direction),
        pl.lit('"'),
        pl.concat_str(pl.lit(',"TokenCacheAction":"'), cache, pl.lit('"')).fill_null(""),
        pl.lit("}"),
    )
    usage = rows.select(
        pl.when(drawdown).then(pl.lit("0")).otherwise(cost.cast(pl.String)).alias("BilledCost"),
        pl.lit("Usage").alias("ChargeCategory"),
        format_text("{}T00:00:00Z", day).alias("ChargePeriodStart"),
        format_text("{}T00:00:00Z", day + pl.duration(days=1)).alias("ChargePeriodEnd"),
        pl.col("tokens").cast(pl.String).alias("ConsumedQuantity"),
        pl.lit("Tokens").alias("ConsumedUnit"),
        cost.cast(pl.String).alias("ContractedCost"),
        pl.col("price").cast(pl.String).alias("ContractedUnitPrice"),
        cost.cast(pl.String).alias("EffectiveCost"),
        cost.cast(pl.String).alias("ListCost"),
        pl.col("price").cast(pl.String).alias("ListUnitPrice"),
        pl.when(drawdown)
        .then(pl.lit("Committed"))
        .otherwise(pl.lit("Standard"))
        .alias("PricingCategory"),
        pl.when(drawdown).then(pl.lit("Used")).alias("CommitmentDiscountStatus"),
        (pl.col("tokens").cast(pl.Decimal(38, 0)) * pl.lit(Decimal("0.000001"), pl.Decimal(7, 6)))
        .cast(pl.String)
        .alias("PricingQuantity"),
        pl.lit("1000000 Tokens").alias("PricingUnit"),
        pl.lit(name).alias("ServiceProviderName"),
        format_text("{}-{}", pl.col("model_id"), cls).alias("SkuId"),
        cls.replace_strict(meter).alias("SkuMeter"),
        details.alias("SkuPriceDetails"),
    )
    start, end = month_bounds(month)
    span = {
        "ChargePeriodStart": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "ChargePeriodEnd": f"{end:%Y-%m-%dT%H:%M:%SZ}",
        "ServiceProviderName": name,
    }
    if not others:
        return usage
    charges = pl.DataFrame(
        [
            {"BilledCost": "10000.00", "ChargeCategory": "Purchase", "PricingUnit": "USD", **span},
            {"BilledCost": "-250.00", "ChargeCategory": "Credit", **span},
        ]
    )
    return pl.concat([usage, charges], how="diagonal")


def write_vendor_bill(
    sample_dir: Path,
    month: date,
    provider: str = "openai",
    seed: int = 42,
    *,
    catalog: Path | None = None,
    inject: bool = True,
) -> Path:
    """Write `sample_dir/vendor_bills/<provider>-<YYYY-MM>.csv` and, beside it, `.truth.json`
    (each injected discrepancy: class, charge_period_start, model_id, token_class). Prices
    from `catalog` (LiteLLM JSON) or, without one, the shipped snapshot seed."""
    rows = _clean_rows(sample_dir, month, provider, catalog)
    if rows.is_empty():
        raise MeterhouseError(
            f"no {provider} API usage in {month:%Y-%m} under {sample_dir}/events."
        )
    truth: list[dict[str, object]] = []
    if inject:
        rows, truth = _inject(rows, month, seed)
    folder = sample_dir / "vendor_bills"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{provider}-{month:%Y-%m}.csv"
    _focus(rows, provider, month, others=inject).write_csv(path)
    path.with_suffix(".truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return path
