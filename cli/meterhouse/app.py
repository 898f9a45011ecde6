"""The `meterhouse` command line, assembled: every command and group, in one list. The
commands live in meterhouse.commands, the work behind them in meterhouse.jobs."""

from __future__ import annotations

import typer

from meterhouse.commands import forecast, inputs, invoice, load, report, runs
from meterhouse.commands.options import MemoryOption

app = typer.Typer(
    help="meterhouse: token-usage billing warehouse. Loads nightly usage exports into DuckDB "
    "and builds the billing models with dbt.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _every_command(memory_limit: MemoryOption = None) -> None:
    """meterhouse: token-usage billing warehouse. Loads nightly usage exports into DuckDB and
    builds the billing models with dbt."""


app.command()(load.generate)
app.command("ingest")(load.ingest)
app.command()(runs.build)
app.command()(runs.nightly)
app.add_typer(invoice.app, name="invoice")
app.add_typer(forecast.app, name="forecast")
app.add_typer(invoice.export_app, name="export")
app.command("reconcile")(report.reconcile)
app.add_typer(inputs.sample_app, name="sample")
app.add_typer(inputs.prices_app, name="prices")
app.command()(runs.status)
app.add_typer(report.app, name="report")
app.command("quarantine")(load.quarantine)
app.add_typer(load.sources_app, name="sources")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
