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


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); a number
# such as -12.50 is left as it is.
_FORMULA_START = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$"


def spreadsheet_safe(text: pl.Expr) -> pl.Expr:
    """Text for a CSV cell: a value a spreadsheet would run as a formula gets a leading `'`
    (shown as text, not run). Only CSV files are guarded; JSON and Parquet keep the value."""
    risky = text.str.contains(_FORMULA_START) & ~text.str.contains(_NUMBER)
    return pl.when(risky).then(pl.lit("'") + text).otherwise(text)


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text column made `spreadsheet_safe`, ready for `write_csv`."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(spreadsheet_safe(pl.col(name)).alias(name) for name in texts)
