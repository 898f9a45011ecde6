"""Money leaving the program as text: exact decimal strings, never floats."""

from __future__ import annotations

import polars as pl


def money_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every DECIMAL column as exact text, for JSON (which would make them floats)."""
    return frame.with_columns(
        pl.col(name).cast(pl.String)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal)
    )
