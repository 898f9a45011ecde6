"""Read the daily token series (and the tenants' token storms) from the marts, forecast or
backtest them (core/forecast.py), and store forecasts in app.usage_forecasts, which
fct_usage_forecast shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import polars as pl

from meterhouse.core.forecast import (
    KEY_SEPARATOR,
    METHODS,
    backtest,
    daily_grid,
    forecast_all,
    forecast_rows,
)
from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.db import frame, require_built, transaction


@dataclass(frozen=True)
class Series:
    items: list[tuple[str, np.ndarray]]  # (series_type + KEY_SEPARATOR + key, tokens per day)
    shares: pl.DataFrame  # series_key, input_share over the last 28 days (tenants)
    through: date  # the last day of data in the warehouse
    storms: dict[str, np.ndarray]  # per series with any: its token-storm days (fct_usage_anomalies)


def read_series(
    con: duckdb.DuckDBPyConnection, tenants: list[str], with_models: bool = True
) -> Series:
    """Every tenant's (and model's) daily series through the warehouse's last day; only
    `tenants`, when given (and then no model series)."""
    require_built(con, "usage series", "main.fct_usage_series_daily", "main.fct_usage_anomalies")
    rows = frame(con, "select * from main.fct_usage_series_daily")
    storms = frame(
        con,
        "select distinct 'tenant' as series_type, tenant_id as series_key, usage_date, "
        "true as is_storm from main.fct_usage_anomalies where kind = 'token_storm'",
    )
    if rows.is_empty():
        raise MeterhouseError("the warehouse has no usage to forecast yet.")
    through = rows["usage_date"].max()
    assert isinstance(through, date)
    if tenants:
        known = set(rows.filter(pl.col("series_type") == "tenant")["series_key"])
        unknown = sorted(set(tenants) - known)
        if unknown:
            raise MeterhouseError(
                f"no usage history for tenant {', '.join(unknown)}: nothing to forecast from "
                f"({len(known)} tenants have usage; 'meterhouse status' shows the span)."
            )
    is_tenant = pl.col("series_type") == "tenant"
    if tenants:
        rows = rows.filter(is_tenant & pl.col("series_key").is_in(tenants))
    elif not with_models:
        rows = rows.filter(is_tenant)
    grid = (
        daily_grid(rows.lazy(), through)
        .join(
            storms.lazy(),
            on=["series_type", "series_key", "usage_date"],
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col("is_storm").fill_null(False))
        .collect()
    )
    parts = grid.partition_by(["series_type", "series_key"], as_dict=True, maintain_order=True)
    keys = {(kind, key): f"{kind}{KEY_SEPARATOR}{key}" for kind, key in parts}
    items = [(keys[group], part["tokens"].to_numpy()) for group, part in parts.items()]
    flagged = {
        keys[group]: part["is_storm"].to_numpy()
        for group, part in parts.items()
        if part["is_storm"].any()
    }
    recent = grid.filter(
        is_tenant & (pl.col("usage_date") > pl.lit(through) - pl.duration(days=28))
    )
    shares = recent.group_by("series_key").agg(
        (pl.col("input_tokens").sum() / pl.col("tokens").sum()).fill_nan(None).alias("input_share")
    )
    return Series(items=items, shares=shares, through=through, storms=flagged)


def make_forecasts(series: Series, h: int) -> pl.DataFrame:
    """Every series forecast `h` days ahead, as app.usage_forecasts rows."""
    return forecast_rows(
        forecast_all(series.items, h, storms=series.storms), series.shares, series.through
    )


def store_forecasts(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> None:
    """Store forecast rows, replacing the rows of the same series and trained_through_date."""
    with transaction(con, new_forecasts=rows.to_arrow()):
        con.execute(
            "delete from app.usage_forecasts where (series_type, series_key, "
            "trained_through_date) in (select distinct series_type, series_key, "
            "trained_through_date from new_forecasts)"
        )
        con.execute("insert into app.usage_forecasts by name select * from new_forecasts")


def backtest_table(series: Series, horizons: tuple[int, ...], origins: int) -> pl.DataFrame:
    """Per horizon and method (auto, and the naive and seasonal-naive baselines): MASE, sMAPE,
    80% and 95% interval coverage over every series and origin, and what auto chose."""
    scored = backtest(series.items, horizons, origins, series.storms)
    if not scored:
        raise MeterhouseError(
            f"no series is long enough to backtest {max(horizons)} days ahead: that needs "
            f"{max(horizons) + 1} days of history at least."
        )
    frame = pl.DataFrame(
        [(h, asked, used, s.abs_error, s.scale, s.smape, s.covered_80, s.covered_95)
         for _, h, _, asked, used, s in scored],
        schema=["horizon_days", "method", "used", "abs_error", "scale", "smape", "covered_80",
                "covered_95"], orient="row",
    )  # fmt: skip
    metrics = [
        pl.len().alias("forecasts"),
        (pl.col("abs_error") / pl.col("scale")).mean().alias("mase"),
        pl.col("smape").mean(),
        pl.col("covered_80").mean(),
        pl.col("covered_95").mean(),
        *((pl.col("used") == m).mean().alias(f"share_{m}") for m in METHODS),
    ]
    # MASE needs a history of 8 days or more that moved week on week
    scorable = frame.filter(pl.col("scale").is_finite() & (pl.col("scale") > 0))
    per_horizon = scorable.group_by("horizon_days", "method").agg(metrics)
    overall = (
        scorable.group_by("method").agg(metrics).with_columns(horizon_days=pl.lit(0, pl.Int64))
    )
    return pl.concat([per_horizon, overall.select(per_horizon.columns)]).sort(
        pl.col("horizon_days").replace(0, 10**6), "method"
    )
