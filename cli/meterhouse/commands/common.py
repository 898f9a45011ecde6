"""What every command shares: the two consoles, the one way errors end a command, the
record of what an interrupted command had committed, and the refusal of tenants by name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import typer

from meterhouse import render
from meterhouse.errors import MeterhouseError
from meterhouse.terminal import SafeConsole, error_text, is_verbose, printable_line
from meterhouse.warehouse.db import describe_duckdb_error

if TYPE_CHECKING:
    from meterhouse.jobs import Forecast
    from meterhouse.warehouse.ingest import IngestResult
    from meterhouse.warehouse.invoices import Issued
    from meterhouse.warehouse.summary import Summary

out = SafeConsole(soft_wrap=True)
err = SafeConsole(stderr=True, soft_wrap=True)

# What the command under way has committed so far, for the message if it is interrupted.
_kept: list[str] = []


def kept(what: str) -> None:
    """Record that `what` is committed, so an interruption after it says so."""
    _kept.append(what)


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can fix: one message on stderr, exit code 2, no traceback. So are a full
    disk, a file that cannot be written and a damaged warehouse, wherever they happen."""
    _kept.clear()
    try:
        yield
    except MeterhouseError as exc:
        err.print(error_text(str(exc)), soft_wrap=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        err.print(error_text(f"{exc.strerror or exc}{where}. Fix it and run this again."))
        raise typer.Exit(2) from None
    except duckdb.Error as exc:
        message = describe_duckdb_error(None, exc)
        if message is None:
            raise
        err.print(error_text(message))
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        done = "; ".join(_kept)
        err.print(
            f"interrupted: {done}; the step under way was rolled back."
            if done
            else "interrupted: nothing of the unfinished step was kept."
        )
        raise typer.Exit(130) from None


def warn(text: str) -> None:
    """A problem the command goes on past: one line on stderr."""
    err.print(error_text(text))


def refused(refusals: dict[str, str], what: str) -> None:
    """Name each tenant that was refused and why, then exit 1: the others were done."""
    for tenant, why in sorted(refusals.items()):
        err.print(f"refused {printable_line(tenant)}: {what}: {why}")
    if refusals:
        err.print(f"{len(refusals):,} tenant(s) refused; the others were done.")
        raise typer.Exit(1)


class Terminal:
    """A job's listener: shows each step's result as the step finishes (meterhouse.render)."""

    def loaded(self, result: IngestResult) -> None:
        render.ingest(out, result, every_file=is_verbose())
        for text in result.warnings:
            warn(text)

    def summarized(self, summary: Summary, db: Path) -> None:
        render.summary(out, summary, db)

    def forecast(self, done: Forecast) -> None:
        render.forecast(out, done)

    def issued(self, done: Issued, month: date) -> None:
        render.issued(out, done, month)

    def warn(self, text: str) -> None:
        warn(text)

    def kept(self, what: str) -> None:
        kept(what)
