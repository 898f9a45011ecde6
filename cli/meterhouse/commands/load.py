"""Commands that put data in: sample exports, loads, and holds on loaded events."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from meterhouse import jobs, render
from meterhouse.commands.common import out, user_errors, warn
from meterhouse.commands.options import (
    DbOption,
    MappingOption,
    SourceOption,
    TenantFromOption,
    VerboseOption,
)
from meterhouse.warehouse.db import resolve_db


def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the sample into.")],
    days: Annotated[int, typer.Option(min=1, help="Days of usage.")] = 30,
    tenants: Annotated[int, typer.Option(min=1, help="Number of tenants.")] = 20,
    events_per_day: Annotated[int, typer.Option(min=1, help="Requests per day, roughly.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 42,
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD).")
    ] = datetime(2026, 9, 1),
    fleet_scale: Annotated[
        int, typer.Option(min=1, help="Multiply the self-hosted GPU fleet (10 GPUs at 1).")
    ] = 1,
) -> None:
    """Write realistic sample usage exports (one Parquet file per day) with real-world dirt,
    GPU-hour telemetry of the self-hosted fleet, and the tenants' contracts and the GPU
    inventory (give them to nightly with --gpu-hours OUT/gpu_hours --contracts OUT/contracts)."""
    from meterhouse.paths import shared_data_dir
    from meterhouse.sample import generate_sample

    with user_errors():
        summary = generate_sample(
            out_dir, days=days, tenants=tenants, events_per_day=events_per_day, seed=seed,
            start=start.date(), shared_data=shared_data_dir(), fleet_scale=fleet_scale,
        )  # fmt: skip
    render.sample(out, summary, out_dir)


def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Export files or folders of them: Parquet, CSV or JSON Lines, plain or .gz/.zst."
        ),
    ],
    db: DbOption = None,
    allow_changed: Annotated[
        bool,
        typer.Option(help="Load a file again although its content changed since it was loaded."),
    ] = False,
    gpu_hours: Annotated[
        bool,
        typer.Option(
            "--gpu-hours",
            help="The files are GPU-hour telemetry (docs/gpu-hour-contract.md), not events.",
        ),
    ] = False,
    source: SourceOption = "events",
    mapping: MappingOption = None,
    tenant_from: TenantFromOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Load usage exports: validate, quarantine bad rows, deduplicate on request_id.

    A file is Parquet (.parquet), CSV with a header (.csv, .tsv: delimiter sniffed, UTF-8 with
    or without BOM) or JSON Lines (.jsonl, .ndjson), each plain or compressed (.gz, .zst).
    With --source, the files are another source's (a LiteLLM spend log, OpenTelemetry spans,
    any export through a mapping: docs/sources.md), read into the event contract first and
    then loaded the same way; `meterhouse sources check` shows how they would load.

    With --gpu-hours, load GPU-hour telemetry the same way, deduplicated on (gpu_id, hour_at).
    Files load in path order in one transaction: all new files or none. A file already loaded
    is skipped (listed with --verbose). Prints rows read = loaded + duplicates + quarantined.
    """
    with user_errors():
        choice = jobs.SourceChoice(source, mapping, tenant_from)
        done = jobs.load(resolve_db(db), paths, allow_changed, gpu_hours, choice)
    render.ingest(out, done, every_file=verbose)
    for text in done.warnings:
        warn(text)


def quarantine(
    request_ids: Annotated[
        list[str],
        typer.Option("--request-id", help="A loaded event's request_id; repeat for several."),
    ],
    reason: Annotated[
        str | None,
        typer.Option(help="Why: recorded with who and when (required, except with --release)."),
    ] = None,
    release: Annotated[
        bool,
        typer.Option("--release", help="Release held events: back in the marts, as loaded."),
    ] = False,
    by: Annotated[
        str | None,
        typer.Option(envvar="METERHOUSE_OPERATOR", help="Who (default: your login name)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Quarantine loaded events after the fact: they stay stored but leave the marts (the
    next build re-rates their days; docs/event-contract.md). --release undoes it exactly.
    Unknown request ids are refused by name, and nothing is changed."""
    with user_errors():
        change = jobs.quarantine(resolve_db(db), request_ids, reason, release, by)
    render.quarantined(out, change, release)


sources_app = typer.Typer(
    help="Usage from other sources (LiteLLM, OpenTelemetry, any export through a mapping): "
    "check how their files would load. Load them with `meterhouse ingest --source`.",
    no_args_is_help=True,
)


@sources_app.command("check")
def sources_check(
    paths: Annotated[list[Path], typer.Argument(help="Export files or folders of them.")],
    source: SourceOption = "mapped",
    mapping: MappingOption = None,
    tenant_from: TenantFromOption = None,
    rows: Annotated[int, typer.Option(min=0, help="How many rows of each file to show.")] = 5,
) -> None:
    """Show how files would load, writing nothing: each file's first rows in the event
    contract, the rows that would be quarantined and why (by rule and source field), the
    records left out as not usage, and the columns not read. Opens no warehouse, so a
    repeat of a request loaded before is not seen. Exit 1 when a row would be quarantined."""
    with user_errors():
        checks = jobs.check_source(jobs.SourceChoice(source, mapping, tenant_from), paths, rows)
    render.source_checks(out, checks)
    if any(c.quarantined.height for c in checks):
        raise typer.Exit(1)
