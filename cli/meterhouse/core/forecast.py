"""Daily token forecasts with prediction intervals, and their rolling-origin backtest.

Methods, all on log1p(tokens) so that intervals stay positive and multiplicative noise is
additive (docs/forecasting.md, docs/decisions/0019):
- `ets_seasonal_naive` (the default for 4+ weeks of history): a weighted average of a damped
  ETS forecast, the seasonal-naive one and a weekly line (a straight line through the log of
  the last weeks' mean tokens, plus a weekday profile). Forecasting competitions (M3, M4)
  found such simple combinations more accurate than either method, and than picking one per
  series on a short validation window, which a single odd week (a token storm) can tip the
  wrong way. The three weights are fitted per band of days ahead (1-7, 8-14, 15+) on rolling
  origins inside the series' own history, pulled toward PRIOR where that history is short.
  (The name predates the line: fct_usage_forecast's accepted methods list it.)
- `ets`: additive error, damped additive trend, additive weekly season, fitted here by a grid
  search over the smoothing parameters (vectorised over the grid: ~2 ms a series, where an
  optimiser took ~100 ms); analytic intervals.
- `seasonal_naive`: the same weekday last week; intervals from the spread of week-on-week
  changes in the history, widening with the square root of the weeks ahead. Needs 2 weeks.
- `naive`: the last day repeated (a baseline of the backtest only).
- `recent_mean`: the mean of the last (up to) 7 days, for new tenants; intervals from the
  spread of those days (or a wide default with one day).
Days flagged as token storms (fct_usage_anomalies) are treated as missing: ETS neither fits
nor updates on them, and the seasonal-naive forecast and the weekly line use ETS's one-step
forecast for them, so a storm in the last week does not move the forecast.

A forecast sees only the history it is given: the backtest cuts the series (and its storm
flags) at each origin before calling it, so nothing after an origin can leak in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from meterhouse.core.parallel import in_parallel

SEASON = 7
Z80, Z95 = 1.2815515655446004, 1.959963984540054
MIN_ETS_DAYS, MIN_NAIVE_DAYS = 4 * SEASON, 2 * SEASON
HUBER_K = 2.0  # errors beyond this many robust sds update the states as if they were this
FIT_DAYS = 26 * SEASON  # ETS is fitted on the last half year at most
CHOICE_DAYS = 14  # parameters are chosen on their forecasts up to this many days ahead
BANDS = ((1, 7), (8, 14), (15, 30))  # days ahead that share one set of combination weights
LINE_WEEKS = 8  # the weekly line is fitted on the last this many weeks at most
PRIOR = np.array([0.25, 0.15, 0.6])  # the prior weights of ETS, seasonal naive, weekly line
# No forecast, mean or bound, goes above this many times the largest day of its history: an
# extrapolation beyond that is no forecast (and would pass int64 on the way to the mart). A
# jump the anomaly check did not flag as a storm (a tenant quiet for weeks, then 10,000x
# busier for a week) tilts the undamped weekly line steeply; this bounds where it can go.
CAP_RATIO = 10.0
# The weights a band may choose from: every triple of 0, 0.1, ..., 1 that adds up to 1.
WEIGHTS = np.array([(i, j, 10 - i - j) for i in range(11) for j in range(11 - i)]) / 10
PRIOR_ORIGINS = 10  # a band's weights: its fitted ones and PRIOR as if from this many origins
METHODS = ("ets_seasonal_naive", "ets", "seasonal_naive", "recent_mean")
BASELINES = ("naive", "seasonal_naive")


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


def _spread(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 1.0


def recent_mean(log_y: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    recent = log_y[-SEASON:]
    return np.full(h, recent.mean()), np.full(h, max(_spread(recent), 0.1))


def naive(log_y: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    sd = _spread(np.diff(log_y))
    return np.full(h, log_y[-1]), sd * np.sqrt(np.arange(1, h + 1))


def seasonal_naive(log_y: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(h)
    sd = _spread(log_y[SEASON:] - log_y[:-SEASON])
    return log_y[-SEASON:][steps % SEASON], sd * np.sqrt(steps // SEASON + 1)


def _grid() -> np.ndarray:
    """(alpha, beta, gamma, phi) rows: the smoothing parameters ETS may choose from."""
    alphas, betas = [0.02, 0.05, 0.1, 0.2, 0.35, 0.55, 0.8], [0.0, 0.002, 0.01, 0.03]
    gammas, phis = [0.0, 0.05, 0.15, 0.3], [0.8, 0.85, 0.9, 0.95]
    a, b, g, p = np.meshgrid(alphas, betas, gammas, phis, indexing="ij")
    rows = np.stack([a.ravel(), b.ravel(), g.ravel(), p.ravel()], axis=1)
    return rows[(rows[:, 1] <= rows[:, 0]) & (rows[:, 2] <= 1 - rows[:, 0])]


GRID = _grid()


@dataclass(frozen=True)
class EtsFit:
    params: np.ndarray  # alpha, beta, gamma, phi
    sigma: float  # sd of the one-step errors (log scale)
    level: float
    trend: float
    season: np.ndarray  # the next 7 days' seasonal terms, tomorrow first
    fitted: np.ndarray  # the one-step forecast of every day of the history
    paths: np.ndarray  # (days, 30): the forecasts 1-30 days ahead made before each day


def _start(x: np.ndarray, ok: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Level, trend and weekday terms before the first day: least squares over the first
    four weeks (the storm days left out)."""
    n = min(len(x), MIN_ETS_DAYS)
    t = np.arange(n)
    use = ok[:n]
    design = np.column_stack([np.ones(n), t, np.eye(SEASON)[t % SEASON][:, 1:]])
    coef = np.linalg.lstsq(design[use], x[:n][use], rcond=None)[0]
    season = np.r_[0.0, coef[2:]]
    season -= season.mean()
    level = coef[0] + np.r_[0.0, coef[2:]].mean()
    return float(level), 0.0, season


def _robust_scale(x: np.ndarray, ok: np.ndarray) -> float:
    """The sd of a day's noise, from the median absolute week-on-week change: what a quiet
    day of a small tenant (log1p(0) = 0 among days of 9) or an unflagged storm does not move."""
    use = ok[SEASON:] & ok[:-SEASON]
    changes = (x[SEASON:] - x[:-SEASON])[use]
    if len(changes) < 2:
        return 1.0
    mad = float(np.median(np.abs(changes - np.median(changes))))
    return max(1.4826 * mad / math.sqrt(2), 0.02)


def _smooth(x: np.ndarray, ok: np.ndarray, params: np.ndarray, keep: bool = False
            ) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Run ETS(A,Ad,A) with each row of `params` over `x`, all rows at once. Days not `ok`
    are skipped (no error, no update); errors beyond HUBER_K robust sds update the states
    as if they were that large. Returns per row the sum of absolute errors of the forecasts
    1 to CHOICE_DAYS days ahead from every day (what the grid is searched on), the final level,
    trend and weekday terms, and (with `keep`, for the first row) the one-step forecasts and
    the forecasts 1 to BANDS[-1][1] days ahead made before every day."""
    alpha, beta, gamma, phi = params.T
    level0, trend0, season0 = _start(x, ok)
    level, trend = np.full(len(params), level0), np.full(len(params), trend0)
    season = np.tile(season0, (len(params), 1))
    sae = np.zeros(len(params))
    limit = HUBER_K * _robust_scale(x, ok)
    damped = np.cumsum(phi[:, None] ** np.arange(1, CHOICE_DAYS + 1), axis=1)
    fitted = np.zeros((len(x), len(params))) if keep else np.zeros((0, len(params)))
    path_steps = np.arange(BANDS[-1][1])
    path_damped = np.cumsum(phi[0] ** (path_steps + 1))
    paths = np.zeros((len(x) if keep else 0, len(path_steps)))
    for t, value in enumerate(x):
        j = t % SEASON
        if not keep:  # the forecasts of the next CHOICE_DAYS days from here, scored
            ahead = min(CHOICE_DAYS, len(x) - t)
            days = np.arange(t, t + ahead)
            made = level[:, None] + damped[:, :ahead] * trend[:, None] + season[:, days % SEASON]
            sae += np.abs(made - x[days])[:, ok[days]].sum(axis=1)
        base = level + phi * trend
        predicted = base + season[:, j]
        if keep:
            fitted[t] = predicted
            paths[t] = level[0] + path_damped * trend[0] + season[0, (t + path_steps) % SEASON]
        if not ok[t]:
            level, trend = base, phi * trend
            continue
        error = value - predicted
        error = np.clip(error, -limit, limit)
        level = base + alpha * error
        trend = phi * trend + beta * error
        season[:, j] += gamma * error
    return sae, level, trend, season, fitted, paths


def fit_ets(log_y: np.ndarray, storms: np.ndarray | None = None) -> EtsFit:
    """ETS on the last FIT_DAYS of `log_y` (storm days skipped): the grid's parameters whose
    forecasts 1 to CHOICE_DAYS days ahead were closest, in absolute error, over the history.
    The interval sd is the spread of the middle 80% of the one-step errors."""
    x = log_y[-FIT_DAYS:]
    ok = np.ones(len(x), dtype=bool) if storms is None else ~storms[-FIT_DAYS:]
    sae = _smooth(x, ok, GRID)[0]
    best = GRID[int(np.argmin(sae))][None, :]
    _, level, trend, season, fitted, paths = _smooth(x, ok, best, keep=True)
    # The spread of the middle 80% of one-step errors, not their RMS: a small tenant's quiet
    # days are errors of -9 on the log scale, and an RMS with them made 80% intervals cover 90%.
    errors = (x - fitted[:, 0])[ok]
    sigma = float(np.quantile(errors, 0.9) - np.quantile(errors, 0.1)) / (2 * Z80)
    ahead = np.roll(season[0], -(len(x) % SEASON))
    return EtsFit(best[0], max(sigma, 0.01), float(level[0]), float(trend[0]), ahead,
                  fitted[:, 0], paths)  # fmt: skip


def ets_forecast(fit: EtsFit, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd (log scale) h days ahead; the variance is ETS(A,Ad,A)'s closed form,
    sigma^2 (1 + sum over j < h of (alpha + beta phi_j + gamma [j a multiple of 7])^2)."""
    alpha, beta, gamma, phi = fit.params
    steps = np.arange(1, h + 1)
    damped = np.cumsum(phi**steps)  # phi + phi^2 + ... + phi^h
    mean = fit.level + damped * fit.trend + fit.season[(steps - 1) % SEASON]
    c = alpha + beta * damped + gamma * (steps % SEASON == 0)
    variance = fit.sigma**2 * (1 + np.r_[0.0, np.cumsum(c**2)[:-1]])
    return mean, np.sqrt(variance)


def _usable(method: str, days: int) -> bool:
    need = {"ets_seasonal_naive": MIN_ETS_DAYS, "ets": MIN_ETS_DAYS,
            "seasonal_naive": MIN_NAIVE_DAYS, "naive": 2, "recent_mean": 1}  # fmt: skip
    return days >= need[method]


def forecast_series(
    tokens: np.ndarray, h: int, method: str = "auto", storms: np.ndarray | None = None
) -> Forecast:
    """Forecast the next `h` days of a daily token series (oldest first, no gaps, >= 1 day),
    no value above CAP_RATIO times the history's largest day (at least 1 token)."""
    made = _forecast_series(tokens, h, method, storms)
    cap = CAP_RATIO * max(float(np.max(tokens, initial=0.0)), 1.0)
    return Forecast(made.method, *(np.minimum(v, cap) for v in (
        made.mean, made.lower_80, made.upper_80, made.lower_95, made.upper_95)))  # fmt: skip


def _forecast_series(
    tokens: np.ndarray, h: int, method: str, storms: np.ndarray | None
) -> Forecast:
    """Forecast the next `h` days of a daily token series (oldest first, no gaps, >= 1 day).

    `method` is one of METHODS or BASELINES, or "auto": the first of METHODS the history is
    long enough for. `storms` flags the days fct_usage_anomalies found a token storm on; the
    fit ignores them (the baselines do not: they are what the backtest compares against).
    An ETS fit that fails falls back to seasonal naive; the Forecast says what was used."""
    log_y = np.log1p(np.maximum(np.asarray(tokens, dtype=float), 0.0))
    if method in BASELINES:
        if _usable(method, len(log_y)):
            made = naive(log_y, h) if method == "naive" else seasonal_naive(log_y, h)
            return _tokens(method, *made)
        return _tokens("recent_mean", *recent_mean(log_y, h))
    if method == "auto":
        method = next(m for m in METHODS if _usable(m, len(log_y)))
    flagged = np.zeros(len(log_y), dtype=bool) if storms is None else np.asarray(storms, bool)
    if method in ("ets_seasonal_naive", "ets") and _usable(method, len(log_y)):
        try:
            fit = fit_ets(log_y, flagged)
        except (ValueError, np.linalg.LinAlgError):
            fit = None
        if fit is not None:
            mean, sd = ets_forecast(fit, h)
            if method == "ets":
                return _tokens("ets", mean, sd)
            cleaned = log_y.copy()
            recent = flagged[-len(fit.fitted) :]
            cleaned[-len(fit.fitted) :][recent] = fit.fitted[recent]
            naive_mean, naive_sd = seasonal_naive(cleaned, h)
            n, ahead = fit.paths.shape
            lines = weekly_line(cleaned[-n:], max(h, ahead))
            weights = band_weights(log_y, cleaned, flagged, fit.paths, lines[:, :ahead])
            weight = weights[_band(h)]  # (h, 3): ETS, seasonal naive, weekly line
            means = np.stack([mean, naive_mean, lines[n, :h]], axis=1)
            sds = np.stack([sd, naive_sd, sd], axis=1)  # the line takes ETS's sd
            return _tokens(
                "ets_seasonal_naive", (weight * means).sum(axis=1), _combined_sd(weight * sds)
            )
        method = "seasonal_naive"
    if method == "seasonal_naive" and _usable(method, len(log_y)):
        cleaned = log_y.copy()
        week_before = np.flatnonzero(flagged[SEASON:]) + SEASON
        cleaned[week_before] = cleaned[week_before - SEASON]
        return _tokens("seasonal_naive", *seasonal_naive(cleaned, h))
    return _tokens("recent_mean", *recent_mean(log_y, h))


def _band(h: int) -> np.ndarray:
    """The index in BANDS of each day 1 to h ahead (the last band goes on beyond its end)."""
    ends = np.array([end for _, end in BANDS[:-1]])
    band: np.ndarray = np.searchsorted(ends, np.arange(1, h + 1), side="left")
    return band


def weekly_line(x: np.ndarray, ahead: int) -> np.ndarray:
    """(days + 1, ahead): from every origin t with 4+ weeks before it (the other rows NaN),
    the forecasts of days t to t + ahead - 1 made from x[:t] alone: a straight line through
    the log of the mean tokens of each of the last (up to) LINE_WEEKS weeks, continued, plus
    each weekday's median difference from its week over those weeks (the week's mean tilted
    by the line's slope, so growth within a week is not taken for a weekday). Weekly means in
    tokens are what a small tenant's quiet days (log 0 among days of 9) do not drag; a week's
    largest day counts as its second largest, so an unflagged storm does not tilt the line;
    and an undamped line follows a tenant that grows (or shrinks) by the same share every day."""
    n = len(x)
    made = np.full((n + 1, ahead), np.nan)
    steps = np.arange(ahead)
    for weeks in range(4, LINE_WEEKS + 1):
        origins = np.arange(SEASON * weeks, n + 1)
        origins = origins[np.minimum(origins // SEASON, LINE_WEEKS) == weeks]
        if not len(origins):
            continue
        first = origins[:, None, None] - SEASON * weeks  # the first day of the first week
        days = first + np.arange(SEASON * weeks).reshape(weeks, SEASON)
        tokens = np.sort(np.expm1(x[days]), axis=2)  # (origins, weeks, days of the week)
        # each week's mean, its largest day counted as its second largest (an unflagged storm)
        week = np.log1p((tokens[:, :, :-1].sum(axis=2) + tokens[:, :, -2]) / SEASON)
        centre = SEASON * (np.arange(weeks) - (weeks - 1) / 2)
        slope = (week * centre).sum(axis=1) / (centre**2).sum()
        last = week.mean(axis=1) + slope * centre[-1]  # the line at the last week's middle day
        within = np.arange(SEASON) - (SEASON - 1) / 2  # each day's distance from its week's middle
        on_line = week[:, :, None] + slope[:, None, None] * within
        profile = np.median(x[days] - on_line, axis=1)
        # day t + s is (SEASON - 1) / 2 + 1 + s days after the last week's middle day
        made[origins] = (last[:, None] + slope[:, None] * (steps + (SEASON + 1) / 2)
                         + profile[:, steps % SEASON])  # fmt: skip
    return made


def band_weights(
    log_y: np.ndarray, cleaned: np.ndarray, storms: np.ndarray, paths: np.ndarray,
    lines: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """The weights of ETS, seasonal naive and the weekly line for each of BANDS (a row each),
    fitted on rolling origins inside the history: from every day from the fifth week on, the
    three forecasts of the days after it that the history has (ETS's `paths`, with the
    parameters fitted; seasonal naive's, `cleaned` a week before; the `lines`), storm days not
    scored. Per band, the row of WEIGHTS with the least absolute error in tokens (what MASE
    scores), pulled toward PRIOR as if PRIOR had PRIOR_ORIGINS origins of its own: a new
    tenant has few long-range pairs."""
    n, ahead = paths.shape
    y, cleaned, ok = log_y[-n:], cleaned[-n:], ~storms[-n:]
    origin, step = np.meshgrid(np.arange(n), np.arange(ahead), indexing="ij")
    day = origin + step
    use = (origin >= 4 * SEASON) & (day < n)
    use[use] = ok[day[use]]
    origin, step, day = origin[use], step[use], day[use]
    made = np.stack([paths[origin, step], cleaned[origin - SEASON + step % SEASON],
                     lines[origin, step]])  # fmt: skip
    weights = np.tile(PRIOR, (len(BANDS), 1))
    for i, (first, last) in enumerate(BANDS):
        band = (step >= first - 1) & (step <= last - 1)
        if not band.any():
            continue
        error = np.abs(np.expm1(WEIGHTS @ made[:, band]) - np.expm1(y[day[band]])).sum(axis=1)
        origins = band.sum() / (last - first + 1)
        best = WEIGHTS[int(np.argmin(error))]
        weights[i] = (origins * best + PRIOR_ORIGINS * PRIOR) / (origins + PRIOR_ORIGINS)
    return weights


def _combined_sd(parts: np.ndarray) -> np.ndarray:
    """The sd of a weighted sum of forecasts, from (h, members) weight x sd: their errors
    taken to correlate at 0.5 (they follow the same days)."""
    total = parts.sum(axis=1)
    sd: np.ndarray = np.sqrt((total**2 + (parts**2).sum(axis=1)) / 2)
    return sd


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


Item = tuple[str, np.ndarray, np.ndarray | None]  # series key, tokens per day, storm days


def _forecast_chunk(chunk: list[Item], h: int, method: str) -> list[tuple[str, Forecast]]:
    return [(key, forecast_series(tokens, h, method, storms)) for key, tokens, storms in chunk]


def backtest_forecasts(
    tokens: np.ndarray, h: int, origins: int, method: str, storms: np.ndarray | None = None
) -> list[tuple[int, np.ndarray, np.ndarray, Forecast]]:
    """(origin, history, actual, forecast) per rolling origin: the forecast is made from the
    history alone (the days before the origin, and their storm flags) and scored on the `h`
    days from it."""
    made = []
    for origin in backtest_origins(len(tokens), h, origins):
        history, actual = tokens[:origin], tokens[origin : origin + h]
        flags = None if storms is None else storms[:origin]
        made.append((origin, history, actual, forecast_series(history, h, method, flags)))
    return made


def _backtest_chunk(
    chunk: list[Item], horizons: tuple[int, ...], origins: int, methods: tuple[str, ...]
) -> list[tuple[str, int, int, str, str, Score]]:
    return [
        (key, h, origin, method, made.method, score(history, actual, made))
        for key, tokens, storms in chunk
        for h in horizons
        for method in methods
        for origin, history, actual, made in backtest_forecasts(tokens, h, origins, method, storms)
    ]


def _with_storms(
    items: list[tuple[str, np.ndarray]], storms: dict[str, np.ndarray] | None
) -> list[Item]:
    return [(key, tokens, (storms or {}).get(key)) for key, tokens in items]


def forecast_all(
    items: list[tuple[str, np.ndarray]], h: int, method: str = "auto",
    storms: dict[str, np.ndarray] | None = None,
) -> list[tuple[str, Forecast]]:  # fmt: skip
    """forecast_series over every series, on every core; `storms` holds the storm days of
    the series that had any."""
    return in_parallel(_forecast_chunk, _with_storms(items, storms), h, method)


def backtest(
    items: list[tuple[str, np.ndarray]], horizons: tuple[int, ...] = (7, 30), origins: int = 4,
    storms: dict[str, np.ndarray] | None = None, methods: tuple[str, ...] = ("auto", *BASELINES),
) -> list[tuple[str, int, int, str, str, Score]]:  # fmt: skip
    """(series, horizon, origin, method asked, method used, score) for every series, horizon
    and rolling origin, for each of `methods` (by default "auto" and the two baselines)."""
    return in_parallel(_backtest_chunk, _with_storms(items, storms), horizons, origins, methods)


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
