"""Commands that run the warehouse: a build, the nightly job, and what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from meterhouse import jobs, render
from meterhouse.commands.common import Terminal, out, user_errors, warn
from meterhouse.commands.options import (
    ContractsOption,
    DbOption,
    MappingOption,
    SourceOption,
    TargetOption,
    TenantFromOption,
    VerboseOption,
    target,
)
from meterhouse.warehouse.db import resolve_db

if TYPE_CHECKING:
    from meterhouse.warehouse.mart_checks import MartCheck

FullCheckOption = Annotated[
    bool,
    typer.Option(
        "--full-check",
        help="Check every row, not only the days the run changed: the data tests on the "
        "loaded events and the marts' checks against their contracts read all history.",
    ),
]


def build(
    db: DbOption = None,
    select: Annotated[str | None, typer.Option(help="dbt selector, e.g. 'staging'.")] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(help="Rebuild incremental models from all events (after editing seeds)."),
    ] = False,
    contracts: ContractsOption = None,
    target_name: TargetOption = "duckdb",
    full_check: FullCheckOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Run `dbt build` (models and their tests) on the warehouse, or on Spark with
    --target spark, then check the marts against their contracts."""
    with user_errors():
        checked = jobs.build(resolve_db(db), select, full_refresh, contracts,
                             target(target_name), full_check)  # fmt: skip
    code = _reported(checked)
    if code:
        raise typer.Exit(code)


def nightly(
    events: Annotated[
        Path, typer.Option(help="Folder of the nightly exports (Parquet, CSV, JSON Lines).")
    ],
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
    full_check: FullCheckOption = False,
    source: SourceOption = "events",
    mapping: MappingOption = None,
    tenant_from: TenantFromOption = None,
    verbose: VerboseOption = False,
) -> None:
    """The nightly job: ingest what is new under --events (and --gpu-hours), build and test
    the models, forecast every tenant and model 30 days ahead (fct_usage_forecast), then
    check the marts of the days it changed against their contracts.

    --source (with --mapping or --tenant-from) says what the --events files are, as for
    `meterhouse ingest`; load another source's folder beside with `meterhouse ingest --source`.
    The loader always writes the warehouse file; with --target spark the models are built on
    Spark from its raw tables."""
    with user_errors():
        choice = jobs.SourceChoice(source, mapping, tenant_from)
        night = jobs.nightly(resolve_db(db), events, gpu_hours, contracts, target(target_name),
                             Terminal(), full_check, choice)  # fmt: skip
    if night.forecast_error:
        warn(night.forecast_error)
    code = _reported(night.checked)
    if code or night.needs_attention:
        raise typer.Exit(code or 1)


def _reported(checked: MartCheck) -> int:
    """Print the marts' checks; the exit code they call for (docs/decisions/0020): 2 when a
    mart the invoices are made from fails, 1 for any other failure."""
    for failure in checked.failures:
        warn(str(failure))
    render.mart_check(out, checked)
    if checked.billing_failed:
        warn("the marts the invoices are made from fail their checks (above): do not write or "
             "issue invoices until the cause is fixed and 'meterhouse build --full-check' "
             "passes.")  # fmt: skip
        return 2
    return 1 if checked.failures else 0


def status(db: DbOption = None, target_name: TargetOption = "duckdb") -> None:
    """Show what the warehouse holds: loads, events, quarantine, built models."""
    with user_errors():
        path = resolve_db(db)
        summary = jobs.summary(path, target(target_name))
    render.summary(out, summary, path)
