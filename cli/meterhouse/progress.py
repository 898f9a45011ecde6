"""Progress for long work: a rich bar on a terminal, plain timestamped lines in CI and logs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from meterhouse.terminal import SafeConsole, printable_line

# step description, steps done, steps in all (0 when unknown)
Report = Callable[[str, int, int], None]


@contextmanager
def progress(title: str) -> Iterator[Report]:
    """Yields a callback that shows how far `title` has got; everything goes to stderr."""
    console = SafeConsole(stderr=True)
    start = time.monotonic()
    if console.is_terminal:
        columns = (
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(title, total=None)

            def live(step: str, done: int, total: int) -> None:
                bar.update(task, description=printable_line(f"{title}: {step}"), completed=done,
                           total=total or None)  # fmt: skip

            yield live
        return

    def plain(step: str, done: int, total: int) -> None:
        count = f" [{done}/{total}]" if total else ""
        line = printable_line(f"{title}{count}: {step}")
        print(f"[{time.monotonic() - start:7.1f}s] {line}", file=sys.stderr,
              flush=True)  # fmt: skip

    yield plain
