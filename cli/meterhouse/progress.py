"""Progress for long work: a rich bar on a terminal; in a log (CI, cron), a few timestamped
lines, one per tenth of the work (or after a quiet half minute), not one per step."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from meterhouse.terminal import SafeConsole, is_verbose, printable_line

# step description, steps done, steps in all (0 when unknown)
Report = Callable[[str, int, int], None]
QUIET_SECONDS = 30.0  # in a log, a line at least this often while steps are reported


@contextmanager
def progress(title: str) -> Iterator[Report]:
    """Yields a callback that shows how far `title` has got; everything goes to stderr."""
    console = SafeConsole(stderr=True)
    if console.is_terminal:
        columns = (
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(title, total=None)

            def live(step: str, done: int, total: int) -> None:
                bar.update(task, description=printable_line(f"{title}: {step}"), completed=done,
                           total=total or None)  # fmt: skip

            yield live
        return
    yield LogLines(title, every_step=is_verbose())


class LogLines:
    """A Report for a log: a line for the first step, then one each time the work passes
    another tenth of its total (each step when the total is unknown, or with --verbose), and
    one after QUIET_SECONDS without a line."""

    def __init__(self, title: str, every_step: bool = False) -> None:
        self.title, self.every_step = title, every_step
        self.start = self.last = time.monotonic()
        self.tenth = -1  # the tenth of the work the last line showed

    def __call__(self, step: str, done: int, total: int) -> None:
        now = time.monotonic()
        tenth = done * 10 // total if total else self.tenth + 1
        if not (self.every_step or tenth > self.tenth or now - self.last >= QUIET_SECONDS):
            return
        self.tenth, self.last = max(tenth, self.tenth), now
        share = f" [{done * 100 // total}%]" if total else ""
        line = printable_line(f"{self.title}{share}: {step}")
        print(f"[{now - self.start:7.1f}s] {line}", file=sys.stderr, flush=True)
