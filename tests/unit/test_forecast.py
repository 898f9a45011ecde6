"""The forecasting core: no look-ahead in the backtest, fallbacks instead of exceptions, and
intervals that are intervals."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from meterhouse.core.forecast import (
    KEY_SEPARATOR,
    backtest_forecasts,
    backtest_origins,
    forecast_rows,
    forecast_series,
)


def weekly_series(days: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    level = 200_000 * (1 + 0.004 * t) * (1 + 0.35 * np.sin(2 * np.pi * t / 7))
    return np.round(level * rng.lognormal(0, 0.1, days))


@pytest.mark.parametrize("method", ["auto", "seasonal_naive"])
def test_backtest_forecasts_never_see_the_days_after_their_origin(method: str) -> None:
    tokens = weekly_series(70)
    origins = backtest_origins(len(tokens), 7, 4)
    assert origins == [42, 49, 56, 63]
    honest = backtest_forecasts(tokens, 7, 4, method)
    for k, origin in enumerate(origins):
        future_changed = tokens.copy()
        future_changed[origin:] = 1e12  # anything after the origin
        made = backtest_forecasts(future_changed, 7, 4, method)[k]
        assert made[0] == origin
        assert np.array_equal(made[3].mean, honest[k][3].mean)
        assert np.array_equal(made[3].upper_95, honest[k][3].upper_95)
        assert made[2].max() == 1e12  # the actuals it is scored on did change


@pytest.mark.parametrize(
    ("days", "expected"),
    [(1, {"recent_mean"}), (10, {"recent_mean"}), (20, {"seasonal_naive"}),
     (60, {"ets", "seasonal_naive"})],
)  # fmt: skip
def test_short_series_fall_back_to_simpler_methods(days: int, expected: set[str]) -> None:
    made = forecast_series(weekly_series(days), 30)
    assert made.method in expected
    assert len(made.mean) == 30
    for low95, low80, mid, high80, high95 in zip(
        made.lower_95, made.lower_80, made.mean, made.upper_80, made.upper_95, strict=True
    ):
        assert 0 <= low95 <= low80 <= mid <= high80 <= high95


@pytest.mark.parametrize("tokens", [np.zeros(60), np.full(60, 5.0), np.r_[np.zeros(50), 9e9]])
def test_degenerate_series_get_a_forecast_not_an_exception(tokens: np.ndarray) -> None:
    made = forecast_series(tokens, 7)
    assert np.all(np.isfinite(made.mean))
    assert np.all(made.lower_95 >= 0)


def test_forecast_rows_split_a_tenant_into_input_and_output() -> None:
    made = [
        (f"tenant{KEY_SEPARATOR}tn_a", forecast_series(weekly_series(40), 5)),
        (f"model{KEY_SEPARATOR}gpt-4.1", forecast_series(weekly_series(40, 2), 5)),
    ]
    shares = pl.DataFrame({"series_key": ["tn_a"], "input_share": [0.8]})
    rows = forecast_rows(made, shares, date(2026, 11, 29))
    assert rows.group_by("series_key", "token_direction").len().height == 4
    tenant = rows.filter(pl.col("series_key") == "tn_a").pivot(
        "token_direction", index="horizon_days", values="predicted_tokens"
    )
    assert ((tenant["input"] + tenant["output"] - tenant["total"]).abs() <= 1).all()
    assert ((tenant["input"] - tenant["total"] * 0.8).abs() <= 1).all()
    assert rows["forecast_date"].min() == date(2026, 11, 30)
    assert set(rows.filter(pl.col("series_type") == "model")["token_direction"]) == {"total"}
