"""Text for people, on a terminal or in a log: values that came from an export are data, and
a log gets no terminal codes and no cut lines.

A tenant id like `[/bold]` is Rich markup, `[link=...]` a clickable link, `:smile:` an emoji
code and `\\x1b[2J` a terminal command. Every console of the CLI is a `SafeConsole`: no markup,
no emoji codes, no highlighting of plain strings, and control characters shown as visible
escapes, in every string it renders (messages, table cells, titles). Our own styling is given
as `rich.text.Text` with a style, never as markup in a string.

Off a terminal (a file, a pipe: cron, CI), a `SafeConsole` renders at LOG_WIDTH columns
whatever $COLUMNS says, so a table is printed at its own full width, never cut with "…"; Rich
writes no escape codes there. `plain` takes them out of a child's output (dbt colours its
lines on any stream). `--verbose` is one switch for the process (docs/decisions/0021).
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.text import Text

# C0 and C1 controls but newline and tab, DEL, line and paragraph separators, bidi controls
# (they make a name print as another), and the BOM / zero-width no-break space.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
# ECMA-48 control sequences (colours, cursor moves) and operating system commands (titles, links)
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]"
)
# Wider than any table the CLI prints (ids are at most 256 characters): in a log, never cut.
LOG_WIDTH = 10_000
_switches = {"verbose": False}


def set_verbose(on: bool) -> bool:
    """Whether this process shows everything: every file, every step, dbt's own lines.
    Returns `on`, as a command line option's callback must."""
    _switches["verbose"] = on
    return on


def is_verbose() -> bool:
    return _switches["verbose"]


def plain(text: str) -> str:
    """`text` without terminal escape sequences (a child process's colours)."""
    return _ESCAPE_SEQUENCE.sub("", text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character written as a visible escape (`\\x1b`, `\\u202e`)."""
    return _CONTROL.sub(_escape, text)


def printable_line(text: str) -> str:
    """`printable`, with newlines and tabs escaped too: one value on one line of a log."""
    return printable(text).replace("\n", "\\n").replace("\t", "\\t")


class SafeConsole(Console):
    """A Rich console that renders every string as plain, printable text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)

    @property
    def size(self) -> ConsoleDimensions:
        """On a terminal, its size; in a log, LOG_WIDTH columns (nothing is cut to fit)."""
        found = super().size
        return found if self.is_terminal else ConsoleDimensions(LOG_WIDTH, found.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs.update(markup=False, emoji=False)
        return super().render_str(printable(text), **kwargs)


def error_text(message: str) -> Text:
    """`error: <message>`, the prefix in bold red, the message as plain text."""
    return Text.assemble(("error:", "bold red"), " ", printable(message))
