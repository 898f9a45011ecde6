"""Month views of the cost marts, for `meterhouse report cost|margin`: pure Polars.

The marts hold the money (fct_cost_per_1m_tokens per day, fct_tenant_margin per month); this
module only adds days up to a month and recomputes the per-1M ratios of the sums, in Decimal.
"""

from __future__ import annotations

import polars as pl

from meterhouse.core.money import COST

COST_KEYS = ("model_id", "hardware", "is_self_hosted")
SUMMED = (
    "input_tokens", "output_tokens", "unpriced_tokens",
    "input_cost_usd", "output_cost_usd", "idle_cost_usd", "cost_usd",
)  # fmt: skip


def per_1m_tokens(cost: str, *tokens: str) -> pl.Expr:
    """cost x 1,000,000 / tokens, exact to 12 decimals; null without tokens."""
    count = pl.sum_horizontal(*tokens)
    ratio = pl.col(cost).cast(COST) * 1_000_000 / count.cast(pl.Decimal(38, 0))
    return pl.when(count > 0).then(ratio)


def month_costs(daily: pl.LazyFrame) -> pl.LazyFrame:
    """Days of fct_cost_per_1m_tokens summed per model and hardware, dearest first; the
    utilization is the mean of the daily ratios."""
    return (
        daily.group_by(COST_KEYS)
        .agg(
            *(pl.col(c).sum() for c in SUMMED),
            pl.col("gpu_utilization_ratio").mean().alias("mean_gpu_utilization_ratio"),
        )
        .with_columns(
            per_1m_tokens("input_cost_usd", "input_tokens").alias("input_cost_usd_per_1m_tokens"),
            per_1m_tokens("output_cost_usd", "output_tokens").alias(
                "output_cost_usd_per_1m_tokens"
            ),
            per_1m_tokens("cost_usd", "input_tokens", "output_tokens").alias(
                "cost_usd_per_1m_tokens"
            ),
        )
        .sort(["cost_usd", "model_id", "hardware"], descending=[True, False, False])
    )
