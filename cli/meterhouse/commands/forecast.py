"""The `forecast` commands: forecast and store, and backtest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from meterhouse import jobs, render
from meterhouse.commands.common import out, user_errors
from meterhouse.commands.options import DbOption, TargetOption, TenantOption, target
from meterhouse.warehouse.db import resolve_db

app = typer.Typer(
    help="Token forecasts per tenant and model, and how accurate they have been.",
)


@app.callback(invoke_without_command=True)
def forecast(
    ctx: typer.Context,
    tenant: TenantOption = None,
    horizon: Annotated[int, typer.Option(min=1, max=366, help="Days ahead.")] = 30,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Also write forecast.csv and a PNG chart per tenant here."),
    ] = None,
    db: DbOption = None,
    target_name: TargetOption = "duckdb",
) -> None:
    """Forecast daily tokens --horizon days ahead, with 80% and 95% intervals, for every tenant
    and model (or only --tenant), store them (fct_usage_forecast) and print a summary.

    Each series with 4+ weeks of history gets a combination of damped ETS and the
    seasonal-naive forecast, fitted without its token-storm days; newer ones get seasonal naive
    or a recent mean (docs/forecasting.md)."""
    if ctx.invoked_subcommand is not None:
        return
    with user_errors():
        done = jobs.forecast(resolve_db(db), tenant or [], horizon, out_dir, target(target_name))
    render.forecast(out, done)


@app.command("backtest")
def backtest(
    horizon: Annotated[
        list[int] | None, typer.Option(min=1, help="Days ahead; repeat (default: 7 and 30).")
    ] = None,
    origins: Annotated[int, typer.Option(min=1, help="Rolling origins, a week apart.")] = 4,
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
    db: DbOption = None,
) -> None:
    """Rolling-origin backtest of the tenants' forecasts: each origin's forecast sees only the
    days before it. Prints MASE, sMAPE and 80%/95% interval coverage per horizon and overall,
    for the chosen method (auto) and the baselines: naive (the last day) and seasonal naive
    (the same weekday last week)."""
    with user_errors():
        scores = jobs.backtest(resolve_db(db), tenant or [], tuple(horizon or [7, 30]), origins)
    if as_json:
        out.print_json(data=scores.to_dicts())
        return
    render.backtest(out, scores)
