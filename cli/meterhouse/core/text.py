"""`pl.format` without its crash: text from a template and expressions, via `pl.concat_str`.

Polars 2.1's `pl.format` panics ("assertion failed: i < self.len()") on a column whose chunks
a filter left empty, which a filtered multi-file load or a large CSV produces; `concat_str`
does not. Use this wherever a template would be written with `pl.format`.
"""

from __future__ import annotations

import polars as pl


def format_text(template: str, *args: str | pl.Expr) -> pl.Expr:
    """Like `pl.format(template, *args)`: each `{}` is replaced by the next argument (a
    column name or an expression); null when any argument is null."""
    pieces = template.split("{}")
    if len(pieces) != len(args) + 1:
        raise ValueError(f"template {template!r} has {len(pieces) - 1} {{}} for {len(args)} args")
    parts: list[pl.Expr] = []
    for piece, arg in zip(pieces, [*args, None], strict=True):
        if piece:
            parts.append(pl.lit(piece))
        if arg is not None:
            parts.append((pl.col(arg) if isinstance(arg, str) else arg).cast(pl.String))
    return pl.concat_str(parts)
