"""Daily token forecasts with prediction intervals, and their rolling-origin backtest.

Methods, all on log1p(tokens) so that intervals stay positive and multiplicative noise is
additive (docs/forecasting.md):
- `ets`: statsmodels ETS, additive error, damped additive trend, additive weekly season;
  intervals from the model. Needs 4 weeks of history.
- `seasonal_naive`: the same weekday last week; intervals from the spread of week-on-week
  changes in the history, widening with the square root of the weeks ahead. Needs 2 weeks.
- `recent_mean`: the mean of the last (up to) 7 days, for new tenants; intervals from the
  spread of those days (or a wide default with one day).
`forecast_series` fits ETS and seasonal naive on the history minus its last week, keeps the
one with the lower error on that week (a one-origin backtest per series), runs it over the
whole history (ETS with the parameters fitted there), and records which it used; a failed
ETS fit falls back, never raises.

A forecast sees only the history it is given: the backtest cuts the series at each origin
before calling it, so nothing after an origin can leak in (a test checks this).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

SEASON = 7
Z80, Z95 = 1.2815515655446004, 1.959963984540054
MIN_ETS_DAYS, MIN_NAIVE_DAYS = 4 * SEASON, 2 * SEASON
METHODS = ("ets", "seasonal_naive", "recent_mean")


@dataclass(frozen=True)
class Forecast:
    method: str
    mean: np.ndarray  # tokens per day, h values
    lower_80: np.ndarray
    upper_80: np.ndarray
    lower_95: np.ndarray
    upper_95: np.ndarray


def _tokens(method: str, log_mean: np.ndarray, log_sd: np.ndarray) -> Forecast:
    def back(x: np.ndarray) -> np.ndarray:
        tokens: np.ndarray = np.maximum(np.expm1(x), 0.0)
        return tokens

    return Forecast(
        method, back(log_mean), back(log_mean - Z80 * log_sd), back(log_mean + Z80 * log_sd),
        back(log_mean - Z95 * log_sd), back(log_mean + Z95 * log_sd),
    )  # fmt: skip


def recent_mean(log_y: np.ndarray, h: int) -> Forecast:
    recent = log_y[-SEASON:]
    sd = float(np.std(recent, ddof=1)) if len(recent) > 1 else 1.0
    return _tokens("recent_mean", np.full(h, recent.mean()), np.full(h, max(sd, 0.1)))


def seasonal_naive(log_y: np.ndarray, h: int) -> Forecast:
    last_week = log_y[-SEASON:]
    steps = np.arange(h)
    changes = log_y[SEASON:] - log_y[:-SEASON]
    sd = float(np.std(changes, ddof=1)) if len(changes) > 1 else 1.0
    weeks_ahead = steps // SEASON + 1
    return _tokens("seasonal_naive", last_week[steps % SEASON], sd * np.sqrt(weeks_ahead))


def ets(log_y: np.ndarray, h: int, params: np.ndarray | None = None) -> tuple[Forecast, np.ndarray]:
    """ETS fitted on `log_y`, or, given `params` fitted on a shorter history of the same
    series, those parameters run over `log_y` (a smoothing pass, no optimisation). Returns
    the forecast and the parameters."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    series = pd.Series(log_y, index=pd.RangeIndex(len(log_y)))
    model = ETSModel(series, error="add", trend="add", damped_trend=True, seasonal="add",
                     seasonal_periods=SEASON)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; a bad fit is caught below
        fit = model.fit(disp=False) if params is None else model.smooth(params)
        frame = fit.get_prediction(start=len(log_y), end=len(log_y) + h - 1).summary_frame(
            alpha=0.2
        )
    mean = frame["mean"].to_numpy()
    sd = (frame["pi_upper"].to_numpy() - mean) / Z80
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(sd))):
        raise ValueError("ETS gave a non-finite forecast")
    return _tokens("ets", mean, sd), np.asarray(fit.params)


def _usable(method: str, days: int) -> bool:
    need = {"ets": MIN_ETS_DAYS, "seasonal_naive": MIN_NAIVE_DAYS, "recent_mean": 1}[method]
    return days >= need


def forecast_series(tokens: np.ndarray, h: int, method: str = "auto") -> Forecast:
    """Forecast the next `h` days of a daily token series (oldest first, no gaps, >= 1 day).

    `method` is one of METHODS, or "auto": ETS or seasonal naive, whichever forecast the last
    week of the history better from the weeks before it (ETS then runs the parameters fitted
    there over the whole history: one optimisation per series). A series too short for a
    method, or an ETS fit that fails, falls back to the next method; the Forecast says which
    was used."""
    log_y = np.log1p(np.asarray(tokens, dtype=float))
    params = None
    if method == "auto":
        method, params = _choose(log_y)
    for candidate in METHODS[METHODS.index(method) :]:
        if not _usable(candidate, len(log_y)):
            continue
        if candidate == "seasonal_naive":
            return seasonal_naive(log_y, h)
        if candidate == "recent_mean":
            break
        try:
            return ets(log_y, h, params)[0]
        except (ValueError, np.linalg.LinAlgError):
            continue
    return recent_mean(log_y, h)


def _choose(log_y: np.ndarray) -> tuple[str, np.ndarray | None]:
    """The method with the lower mean absolute error on the last week, fitted on the rest."""
    if not _usable("ets", len(log_y) - SEASON):
        return ("seasonal_naive" if _usable("seasonal_naive", len(log_y)) else "recent_mean"), None
    history, week = log_y[:-SEASON], np.expm1(log_y[-SEASON:])
    naive_error = float(np.mean(np.abs(seasonal_naive(history, SEASON).mean - week)))
    try:
        made, params = ets(history, SEASON)
    except (ValueError, np.linalg.LinAlgError):
        return "seasonal_naive", None
    if float(np.mean(np.abs(made.mean - week))) < naive_error:
        return "ets", params
    return "seasonal_naive", None


@dataclass(frozen=True)
class Score:
    """One forecast scored against what happened."""

    abs_error: float  # mean |actual - forecast| over the horizon
    scale: float  # mean |y_t - y_(t-7)| over the history: MASE's denominator
    smape: float
    covered_80: float  # share of actual days inside the 80% interval
    covered_95: float


def score(history: np.ndarray, actual: np.ndarray, forecast: Forecast) -> Score:
    history, actual = np.asarray(history, dtype=float), np.asarray(actual, dtype=float)
    error = np.abs(actual - forecast.mean)
    denominator = np.abs(actual) + np.abs(forecast.mean)
    smape = np.where(denominator > 0, 2 * error / np.where(denominator > 0, denominator, 1), 0)
    seasonal = np.abs(history[SEASON:] - history[:-SEASON])
    return Score(
        abs_error=float(error.mean()),
        scale=float(seasonal.mean()) if len(seasonal) else math.nan,
        smape=float(smape.mean()),
        covered_80=float(np.mean((actual >= forecast.lower_80) & (actual <= forecast.upper_80))),
        covered_95=float(np.mean((actual >= forecast.lower_95) & (actual <= forecast.upper_95))),
    )


def backtest_origins(days: int, h: int, origins: int) -> list[int]:
    """Rolling origins, a week apart, the last one leaving exactly `h` days to score: each is
    the number of days of history the forecast may see."""
    last = days - h
    return [o for o in (last - SEASON * k for k in range(origins)) if o >= 1][::-1]


def _forecast_chunk(
    chunk: list[tuple[str, np.ndarray]], h: int, method: str
) -> list[tuple[str, Forecast]]:
    return [(key, forecast_series(tokens, h, method)) for key, tokens in chunk]


def backtest_forecasts(
    tokens: np.ndarray, h: int, origins: int, method: str
) -> list[tuple[int, np.ndarray, np.ndarray, Forecast]]:
    """(origin, history, actual, forecast) per rolling origin: the forecast is made from the
    history alone, the days before the origin, and scored on the `h` days from it."""
    made = []
    for origin in backtest_origins(len(tokens), h, origins):
        history, actual = tokens[:origin], tokens[origin : origin + h]
        made.append((origin, history, actual, forecast_series(history, h, method)))
    return made


def _backtest_chunk(
    chunk: list[tuple[str, np.ndarray]], horizons: tuple[int, ...], origins: int
) -> list[tuple[str, int, int, str, str, Score]]:
    return [
        (key, h, origin, method, made.method, score(history, actual, made))
        for key, tokens in chunk
        for h in horizons
        for method in ("auto", "seasonal_naive")
        for origin, history, actual, made in backtest_forecasts(tokens, h, origins, method)
    ]


def in_parallel(
    work: Callable[..., list[Any]], items: list[tuple[str, np.ndarray]], *args: object
) -> list[Any]:
    """Run `work(chunk, *args)` over chunks of `items` on every core; results in order.
    Workers start from a fork server (started with the BLAS limits below), not a fork of this
    process, which may hold DuckDB's threads and locks."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(os.cpu_count() or 1, len(items) // 8 or 1))
    if workers == 1:
        return list(work(items, *args))
    # One BLAS thread per worker: the pool is the parallelism. With a BLAS thread pool in each
    # worker as well, the small matrices of ETS fitting made the pool 4x slower than one core.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    size = math.ceil(len(items) / (workers * 4))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        done = pool.map(work, chunks, *([a] * len(chunks) for a in args))
        return [row for chunk in done for row in chunk]


def forecast_all(
    items: list[tuple[str, np.ndarray]], h: int, method: str = "auto"
) -> list[tuple[str, Forecast]]:
    """forecast_series over every series, on every core."""
    return in_parallel(_forecast_chunk, items, h, method)


def backtest(
    items: list[tuple[str, np.ndarray]], horizons: tuple[int, ...] = (7, 30), origins: int = 4
) -> list[tuple[str, int, int, str, str, Score]]:
    """(series, horizon, origin, method asked, method used, score) for every series, horizon
    and rolling origin, for the chosen method ("auto") and the seasonal-naive baseline."""
    return in_parallel(_backtest_chunk, items, horizons, origins)


def daily_grid(usage: pl.LazyFrame, through: date) -> pl.LazyFrame:
    """Every day of every series from its first day through `through`, days without usage as
    0 tokens. `usage` has series_type, series_key, usage_date and token columns."""
    key = ["series_type", "series_key"]
    days = (
        usage.group_by(key)
        .agg(pl.date_ranges(pl.col("usage_date").min(), pl.lit(through), "1d").first())
        .explode("usage_date")
    )
    return (
        days.join(usage, on=[*key, "usage_date"], how="left")
        .fill_null(0)
        .sort([*key, "usage_date"])
    )


KEY_SEPARATOR = "\x1f"  # series_type + this + series_key: one string key per series
BOUNDS = ["lower_80", "upper_80", "lower_95", "upper_95"]


def forecast_rows(
    made: list[tuple[str, Forecast]], shares: pl.DataFrame, through: date
) -> pl.DataFrame:
    """The forecasts as rows of app.usage_forecasts: one per series, day ahead and token
    direction. A tenant's input and output forecasts are its total split at the input share
    of its last 28 days (`shares`: series_key, input_share), bounds included; a model gets
    its total only."""
    h = len(made[0][1].mean)
    values = {
        "predicted": np.concatenate([f.mean for _, f in made]),
        **{b: np.concatenate([getattr(f, b) for _, f in made]) for b in BOUNDS},
    }
    part = (
        pl.when(pl.col("token_direction") == "input").then(pl.col("input_share"))
        .when(pl.col("token_direction") == "output").then(1 - pl.col("input_share"))
        .otherwise(1.0)
    )  # fmt: skip
    return (
        pl.DataFrame(
            {
                "series": np.repeat([key for key, _ in made], h),
                "method": np.repeat([f.method for _, f in made], h),
                "horizon_days": np.tile(np.arange(1, h + 1, dtype=np.int32), len(made)),
                **values,
            }
        )
        .with_columns(
            pl.col("series")
            .str.split_exact(KEY_SEPARATOR, 1)
            .struct.rename_fields(["series_type", "series_key"])
        )
        .unnest("series")
        .join(pl.DataFrame({"token_direction": ["total", "input", "output"]}), how="cross")
        .filter((pl.col("series_type") == "tenant") | (pl.col("token_direction") == "total"))
        .join(shares, on="series_key", how="left")
        .with_columns(pl.col("input_share").fill_null(0.5))
        .select(
            "series_type",
            "series_key",
            "token_direction",
            (pl.lit(through) + pl.duration(days=pl.col("horizon_days"))).alias("forecast_date"),
            "horizon_days",
            *(
                (pl.col(c) * part).round().cast(pl.Int64).alias(f"{c}_tokens")
                for c in ["predicted", *BOUNDS]
            ),
            "method",
            pl.lit(through).alias("trained_through_date"),
        )
        .sort("series_type", "series_key", "token_direction", "horizon_days")
    )


def forecast_summary(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per tenant: method, tomorrow's forecast and 80% bounds, the horizon's total (largest
    first); and how many series of each type each method forecast."""
    tenants = (
        rows.filter((pl.col("series_type") == "tenant") & (pl.col("token_direction") == "total"))
        .sort("horizon_days")
        .group_by("series_key", "method")
        .agg(
            pl.col("predicted_tokens").first().alias("tomorrow"),
            pl.col("lower_80_tokens").first().alias("low"),
            pl.col("upper_80_tokens").first().alias("high"),
            pl.col("predicted_tokens").sum().alias("total"),
        )
        .sort("total", descending=True)
    )
    methods = (
        rows.group_by("series_type", "method")
        .agg(pl.col("series_key").n_unique())
        .sort("series_type", "method")
    )
    return tenants, methods
