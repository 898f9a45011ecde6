"""The forecasting core: no look-ahead in the backtest, fallbacks instead of exceptions,
intervals that cover what they say, and a storm that does not move the forecast."""

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
    weekly_line,
)


def weekly_series(days: int, seed: int = 1, noise: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    level = 200_000 * (1 + 0.004 * t) * (1 + 0.35 * np.sin(2 * np.pi * t / 7))
    return np.round(level * rng.lognormal(0, noise, days))


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
     (60, {"ets_seasonal_naive"})],
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


@pytest.mark.parametrize("storm_day", [-1, -3, -10])
def test_a_flagged_storm_does_not_move_the_forecast(storm_day: int) -> None:
    calm = weekly_series(84)
    stormy = calm.copy()
    stormy[storm_day] *= 15  # a runaway client for a day
    flags = np.zeros(len(calm), dtype=bool)
    flags[storm_day] = True
    before = forecast_series(calm, 30)
    after = forecast_series(stormy, 30, storms=flags)
    assert after.method == before.method
    assert np.allclose(after.mean, before.mean, rtol=0.10)  # the storm alone: 15x
    assert np.allclose(after.upper_80, before.upper_80, rtol=0.15)


def test_the_80_and_95_percent_intervals_cover_about_that_share_of_days() -> None:
    covered_80, covered_95 = [], []
    for seed in range(60):  # a series with known noise: lognormal, sd 0.25
        tokens = weekly_series(90 + 14, seed, noise=0.25)
        made = forecast_series(tokens[:90], 14)
        actual = tokens[90:]
        covered_80.append(np.mean((actual >= made.lower_80) & (actual <= made.upper_80)))
        covered_95.append(np.mean((actual >= made.lower_95) & (actual <= made.upper_95)))
    assert 0.72 <= np.mean(covered_80) <= 0.88
    assert 0.90 <= np.mean(covered_95) <= 0.99


def test_the_forecast_beats_both_baselines_on_a_growing_weekly_series() -> None:
    errors: dict[str, list[float]] = {"auto": [], "naive": [], "seasonal_naive": []}
    for seed in range(30):
        tokens = weekly_series(90 + 14, seed, noise=0.25)
        for method, made in errors.items():
            made.append(float(np.mean(np.abs(forecast_series(tokens[:90], 14, method).mean
                                             - tokens[90:]))))  # fmt: skip
    better = min(np.mean(errors["naive"]), np.mean(errors["seasonal_naive"]))
    assert np.mean(errors["auto"]) < 0.85 * better


def test_the_weekly_line_continues_a_steady_growth_and_sees_only_the_days_before() -> None:
    t = np.arange(93)
    tokens = 1e6 * 1.03**t * np.where(t % 7 >= 5, 0.4, 1.0)  # 3% a day, quiet weekends
    x = np.log1p(tokens)
    lines = weekly_line(x[:63], 30)
    assert np.isnan(lines[27]).all()  # from 4 weeks of history on
    assert not np.isnan(lines[28]).any()
    assert np.allclose(lines[63], x[63:], atol=1e-4)  # 30 days ahead, weekends included
    changed = x.copy()
    changed[40:] = 0.0
    assert np.array_equal(weekly_line(changed[:63], 30)[:41], lines[:41], equal_nan=True)


def test_the_forecast_follows_a_tenant_that_grows_fast() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(60 + 30)
    tokens = np.round(2e5 * 1.04**t * np.where(t % 7 >= 5, 0.5, 1.0) * rng.lognormal(0, 0.1, 90))
    made = forecast_series(tokens[:60], 30)
    assert made.method == "ets_seasonal_naive"
    ratio = made.mean[-7:].sum() / tokens[-7:].sum()  # the last week of the 30 days
    assert 0.7 <= ratio <= 1.2  # without the weekly line (ETS and seasonal naive): 0.49


def test_an_unflagged_storm_does_not_tilt_the_weekly_line() -> None:
    calm = np.log1p(weekly_series(84))
    stormy = calm.copy()
    stormy[-1] += np.log(15)  # a runaway client the anomaly check missed
    moved = np.abs(weekly_line(stormy, 30)[84] - weekly_line(calm, 30)[84]).max()
    assert moved < 0.15  # on the log scale; a plain weekly mean moved it by 0.71


@pytest.mark.parametrize("quiet_days", [21, 35])
def test_an_unflagged_jump_is_bounded_and_the_forecast_stores(quiet_days: int) -> None:
    """A tenant quiet for weeks, then 10,000x busier for a week the anomaly check did not
    flag: no forecast or bound passes 10x its largest day, and the rows store (an unbounded
    weekly line once reached 6e21 tokens, past int64, and the forecast step failed for every
    tenant)."""
    tokens = np.concatenate([np.full(quiet_days, 1e4), np.full(7, 1e8)])
    made = forecast_series(tokens, 30)
    for values in (made.mean, made.lower_95, made.upper_80, made.upper_95):
        assert values.max() <= 10 * 1e8
    assert made.mean[0] > 10 * 1e4  # it does react to the jump
    shares = pl.DataFrame({"series_key": ["tn_new"], "input_share": [0.5]})
    key = f"tenant{KEY_SEPARATOR}tn_new"
    rows = forecast_rows([(key, made)], shares, date(2026, 11, 29))
    assert rows["upper_95_tokens"].max() <= 10**9
