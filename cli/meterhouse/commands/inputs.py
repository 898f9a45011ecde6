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
