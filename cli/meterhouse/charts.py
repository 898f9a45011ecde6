"""A PNG chart per tenant: daily token history, the forecast and its 80% and 95% intervals
(matplotlib, drawn off-screen)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from meterhouse.core.forecast import KEY_SEPARATOR
from meterhouse.files import safe_name
from meterhouse.pdf import font_files
from meterhouse.terminal import printable_line

if TYPE_CHECKING:
    from meterhouse.progress import Report
    from meterhouse.warehouse.forecast import Series

WIDTH_PX, HEIGHT_PX, DPI = 1000, 400, 100


@cache
def _families() -> list[str]:
    """The PDF invoices' fonts (meterhouse.pdf), registered with matplotlib as a fallback
    list, so a tenant's name in any script is drawn, not shown as empty boxes."""
    from matplotlib import font_manager

    names = []
    for _, path, _ in font_files():
        font_manager.fontManager.addfont(str(path))
        names.append(font_manager.FontProperties(fname=str(path)).get_name())
    return list(dict.fromkeys(names))


def forecast_png(tenant: str, history: np.ndarray, through: date, rows: pl.DataFrame) -> bytes:
    """`history`: tokens per day ending on `through`; `rows`: the tenant's total forecast rows
    (forecast_date, predicted/lower/upper tokens)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shown = history[-90:]
    days = np.array([through - timedelta(days=len(shown) - 1 - i) for i in range(len(shown))],
                    dtype="datetime64[D]")  # fmt: skip
    ahead = rows.sort("forecast_date")
    figure, axes = plt.subplots(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    try:
        dates = ahead["forecast_date"].to_numpy()
        axes.fill_between(dates, ahead["lower_95_tokens"], ahead["upper_95_tokens"],
                          color="tab:blue", alpha=0.15, label="95% interval")  # fmt: skip
        axes.fill_between(dates, ahead["lower_80_tokens"], ahead["upper_80_tokens"],
                          color="tab:blue", alpha=0.3, label="80% interval")  # fmt: skip
        axes.plot(days, shown, color="black", linewidth=1, label="history")
        axes.plot(dates, ahead["predicted_tokens"], color="tab:blue", linewidth=1.5,
                  label=f"forecast ({ahead['method'][0]})")  # fmt: skip
        # the id is data: no mathtext ($...$), control characters shown as escapes
        axes.set_title(f"{printable_line(tenant)}: tokens per day (UTC)", parse_math=False,
                       fontfamily=_families())  # fmt: skip
        axes.set_ylim(bottom=0)
        axes.legend(loc="upper left", fontsize=8)
        figure.autofmt_xdate()
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()
    finally:
        plt.close(figure)


def tenant_charts(series: Series, rows: pl.DataFrame, report: Report) -> dict[str, bytes]:
    """<tenant>.png per forecast tenant (named by files.safe_name): history, forecast and
    intervals."""
    totals = rows.filter(
        (pl.col("series_type") == "tenant") & (pl.col("token_direction") == "total")
    ).partition_by("series_key", as_dict=True)
    history = dict(series.items)
    charts = {}
    for done, ((tenant,), ahead) in enumerate(totals.items(), start=1):
        tokens = history[f"tenant{KEY_SEPARATOR}{tenant}"]
        charts[f"{safe_name(str(tenant))}.png"] = forecast_png(
            str(tenant), tokens, series.through, ahead
        )
        if done == len(totals) or done % max(1, len(totals) // 20) == 0:
            report("draw", done, len(totals))
    return charts
