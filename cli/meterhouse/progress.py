"""Progress for long work: a rich bar on a terminal, plain timestamped lines in CI and logs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# step description, steps done, steps in all (0 when unknown)
Report = Callable[[str, int, int], None]


@contextmanager
def progress(title: str) -> Iterator[Report]:
    """Yields a callback that shows how far `title` has got; everything goes to stderr."""
    console = Console(stderr=True)
    start = time.monotonic()
    if console.is_terminal:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(title, total=None)

            def live(step: str, done: int, total: int) -> None:
                bar.update(task, description=f"{title}: {step}", completed=done,
                           total=total or None)  # fmt: skip

            yield live
        return

    def plain(step: str, done: int, total: int) -> None:
        count = f" [{done}/{total}]" if total else ""
        print(f"[{time.monotonic() - start:7.1f}s] {title}{count}: {step}", file=sys.stderr,
              flush=True)  # fmt: skip

    yield plain
