"""The options several commands share, and the one parser of each kind of value they take
(the month, the engine)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, cast, get_args

import typer

from meterhouse.core.months import parse_month
from meterhouse.errors import MeterhouseError
from meterhouse.terminal import set_verbose
from meterhouse.warehouse.db import DB_ENV
from meterhouse.warehouse.memory import MEMORY_ENV, parse_size
from meterhouse.warehouse.spark import TARGET_ENV, Target

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar=DB_ENV,
        help=f"DuckDB warehouse file (default: meterhouse.duckdb; env {DB_ENV}).",
        show_default=False,
    ),
]

TargetOption = Annotated[
    str,
    typer.Option(
        "--target",
        envvar=TARGET_ENV,
        help=f"Engine the models run on: duckdb (the warehouse file) or spark (dbt-spark, PySpark "
        f"local or a cluster; tables beside the warehouse file; docs/scale-out.md). Env "
        f"{TARGET_ENV}.",
    ),
]

ContractsOption = Annotated[
    Path | None,
    typer.Option(
        "--contracts",
        envvar="METERHOUSE_CONTRACTS_DIR",
        help="Folder with tenant_contracts.csv, contract_volume_tiers.csv and credit_grants.csv "
        "(default: the shipped seeds/contracts; env METERHOUSE_CONTRACTS_DIR). Give the same "
        "folder every night: invoices follow the contracts of the latest build.",
        show_default=False,
    ),
]

MonthOption = Annotated[
    str | None,
    typer.Option(
        "--month", metavar="YYYY-MM", help="Billing month, YYYY-MM (UTC).", show_default=False
    ),
]
TenantOption = Annotated[
    list[str] | None, typer.Option(help="Only this tenant; repeat for several.")
]
IssuerOption = Annotated[
    str, typer.Option(envvar="METERHOUSE_ISSUER", help="Issuer named on the invoice.")
]
VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose",
        envvar="METERHOUSE_VERBOSE",
        callback=set_verbose,  # one switch for the process (terminal.py)
        help="Show everything, in a log too: every file (loaded or skipped), every progress step "
        "and dbt's own output as it runs (always in <warehouse>.dbt/logs/). Env "
        "METERHOUSE_VERBOSE.",
    ),
]
AllowUnpricedOption = Annotated[
    bool,
    typer.Option(help="Invoice tenants with unpriced usage anyway (that usage is left out)."),
]


def _set_memory_limit(text: str | None) -> str | None:
    """Check the --memory-limit and give it to every part of the run (the warehouse's
    sessions, the loader, dbt's child process) through the environment."""
    if text is not None:
        try:
            parse_size(text)
        except MeterhouseError as exc:
            raise typer.BadParameter(str(exc)) from exc
        os.environ[MEMORY_ENV] = text
    return text


MemoryOption = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        envvar=MEMORY_ENV,
        metavar="SIZE",
        callback=_set_memory_limit,
        help="Memory the whole run may use, e.g. 4GB or 512MiB: the CLI and its dbt child "
        "together. DuckDB gets it less a reserve (half, at most 1.5 GiB) and spills past it to "
        "<warehouse>.tmp (env METERHOUSE_SPILL_DIR). Default: 75% of the memory available, "
        f"the cgroup's limit included. Give it before the command. Env {MEMORY_ENV}.",
        show_default=False,
    ),
]


def month(text: str | None) -> date:
    """The --month a command needs: its first day."""
    if text is None:
        raise MeterhouseError("give the billing month: --month YYYY-MM.")
    return parse_month(text)


def target(name: str) -> Target:
    """The --target engine."""
    if name not in get_args(Target):
        raise MeterhouseError(f"--target {name}: choose duckdb or spark.")
    return cast(Target, name)


SourceOption = Annotated[
    str,
    typer.Option(
        "--source",
        help="What the files are: events (the event contract, docs/event-contract.md), litellm "
        "(LiteLLM spend logs or its logger's JSON Lines), otel (OpenTelemetry GenAI spans, OTLP "
        "JSON Lines) or mapped (any export, through --mapping). docs/sources.md.",
    ),
]
MappingOption = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        help="With --source mapped: the mapping file (TOML or YAML) saying which source field "
        "is which contract column (docs/sources.md; examples in docs/mappings).",
        show_default=False,
    ),
]
TenantFromOption = Annotated[
    str | None,
    typer.Option(
        "--tenant-from",
        metavar="FIELD",
        help="With --source litellm or otel: the field the tenant comes from (litellm: "
        "team_id, the default, end_user, organization_id or metadata.<key>; otel: a resource "
        "or span attribute, default tenant.id).",
        show_default=False,
    ),
]
