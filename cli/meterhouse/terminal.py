"""Text for people, on a terminal or in a log: values that came from an export are data.

A tenant id like `[/bold]` is Rich markup, `[link=...]` a clickable link, `:smile:` an emoji
code and `\\x1b[2J` a terminal command. Every console of the CLI is a `SafeConsole`: no markup,
no emoji codes, no highlighting of plain strings, and control characters shown as visible
escapes, in every string it renders (messages, table cells, titles). Our own styling is given
as `rich.text.Text` with a style, never as markup in a string.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.text import Text

# C0 and C1 controls but newline and tab, DEL, line and paragraph separators, bidi controls
# (they make a name print as another), and the BOM / zero-width no-break space.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


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

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs.update(markup=False, emoji=False)
        return super().render_str(printable(text), **kwargs)


def error_text(message: str) -> Text:
    """`error: <message>`, the prefix in bold red, the message as plain text."""
    return Text.assemble(("error:", "bold red"), " ", printable(message))
