"""The `prices` and `sample` commands: the vendor price book, and demo inputs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from meterhouse import jobs, render
from meterhouse.commands.common import out, user_errors
from meterhouse.commands.options import DbOption, month
from meterhouse.warehouse.db import resolve_db

prices_app = typer.Typer(
    help="The vendor price book (what we pay per 1M tokens), with its history.",
    no_args_is_help=True,
)
sample_app = typer.Typer(help="Demo inputs built from a generated sample.", no_args_is_help=True)


@prices_app.command("import")
def prices_import(
    litellm: Annotated[
        Path,
        typer.Option(help="LiteLLM's model_prices_and_context_window.json."),
    ],
    effective_from: Annotated[
        datetime,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
            help="When these prices start to apply (UTC), e.g. the catalog's snapshot date.",
        ),
    ],
    db: DbOption = None,
) -> None:
    """Import list prices from a LiteLLM catalog; changed prices close the old ones.

    Usage is rated with the price in force at the event's time. --effective-from may reach
    back over loaded usage (e.g. the start of past exports just loaded) while none of its
    months is issued: the command names the months re-priced, and the next build re-rates
    them. It is refused once a month from that date on is issued (an issued invoice never
    changes), and before a price already in force for the same model, service tier, context
    tier and token class.
    """
    with user_errors():
        done = jobs.import_prices(resolve_db(db), litellm, effective_from)
    render.prices_imported(out, done, effective_from)


@sample_app.command("vendor-bill")
def sample_vendor_bill(
    sample: Annotated[Path, typer.Option(help="Folder written by 'meterhouse generate'.")],
    month_text: Annotated[str, typer.Option("--month", help="Month to bill, YYYY-MM.")],
    provider: Annotated[str, typer.Option(help="Provider of our events to bill.")] = "openai",
    catalog: Annotated[
        Path | None,
        typer.Option(
            help="LiteLLM catalog the warehouse imported (default: the shipped "
            "snapshot seed, as a warehouse without an import prices)."
        ),
    ] = None,
    clean: Annotated[bool, typer.Option(help="Inject no discrepancies.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the injections.")] = 42,
) -> None:
    """Write a vendor's FOCUS 1.2 bill for --month from the sample's events, at list price,
    with known discrepancies injected (listed in a .truth.json beside it)."""
    from meterhouse.sample.vendor_bill import write_vendor_bill

    with user_errors():
        path = write_vendor_bill(sample, month(month_text), provider, seed, catalog=catalog,
                                 inject=not clean)  # fmt: skip
    out.print(f"wrote {path} (injected discrepancies in {path.with_suffix('.truth.json')})",
              highlight=False)  # fmt: skip


@sample_app.command("litellm")
def sample_litellm(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dumps into.")],
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD).")
    ] = datetime(2026, 9, 1),
    days: Annotated[int, typer.Option(min=1, help="Days of spend logs.")] = 30,
    requests_per_day: Annotated[int, typer.Option(min=1, help="Requests a day, roughly.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
) -> None:
    """Write a LiteLLM proxy's spend logs (one CSV dump of LiteLLM_SpendLogs a day) for three
    teams, with cache hits, failures and Anthropic 5-minute and 1-hour cache writes. Load them
    with `meterhouse ingest --source litellm OUT` (docs/sources.md)."""
    from meterhouse.sample.litellm_dump import write_litellm_dump

    with user_errors():
        dump = write_litellm_dump(out_dir, start.date(), days, requests_per_day, seed)
    out.print(f"wrote {len(dump.files)} LiteLLM spend-log dump(s) under {out_dir}: "
              f"{dump.requests:,} requests and {dump.cache_hits:,} proxy cache hits",
              highlight=False)  # fmt: skip
