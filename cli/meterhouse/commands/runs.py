"""Commands that run the warehouse: a build, the nightly job, and what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from meterhouse import jobs, render
from meterhouse.commands.common import Terminal, out, user_errors, warn
from meterhouse.commands.options import ContractsOption, DbOption, TargetOption, target
from meterhouse.warehouse.db import resolve_db


def build(
    db: DbOption = None,
    select: Annotated[str | None, typer.Option(help="dbt selector, e.g. 'staging'.")] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(help="Rebuild incremental models from all events (after editing seeds)."),
    ] = False,
    contracts: ContractsOption = None,
    target_name: TargetOption = "duckdb",
) -> None:
    """Run `dbt build` (models and their tests) on the warehouse, or on Spark with
    --target spark."""
    with user_errors():
        jobs.build(resolve_db(db), select, full_refresh, contracts, target(target_name))


def nightly(
    events: Annotated[Path, typer.Option(help="Folder of the nightly Parquet exports.")],
    gpu_hours: Annotated[
        Path | None,
        typer.Option(
            "--gpu-hours",
            help="Folder of GPU-hour telemetry exports of the self-hosted fleet (optional).",
        ),
    ] = None,
    db: DbOption = None,
    contracts: ContractsOption = None,
    target_name: TargetOption = "duckdb",
) -> None:
    """The nightly job: ingest what is new under --events (and --gpu-hours), build and test
    the models, then forecast every tenant and model 30 days ahead (fct_usage_forecast).

    The loader always writes the warehouse file; with --target spark the models are built on
    Spark from its raw tables."""
    with user_errors():
        night = jobs.nightly(resolve_db(db), events, gpu_hours, contracts, target(target_name),
                             Terminal())  # fmt: skip
    if night.forecast_error:
        warn(night.forecast_error)
    if night.needs_attention:
        raise typer.Exit(1)


def status(db: DbOption = None, target_name: TargetOption = "duckdb") -> None:
    """Show what the warehouse holds: loads, events, quarantine, built models."""
    with user_errors():
        path = resolve_db(db)
        summary = jobs.summary(path, target(target_name))
    render.summary(out, summary, path)
