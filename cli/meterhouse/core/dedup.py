"""Deduplication on request_id: which rows of a load are new requests, duplicates or conflicts.

A request counts once across everything ever loaded. Within a load, rows arrive in load order
(files in path order, rows in file order) and the first copy wins; a copy already in the
warehouse wins over every copy in the load. A later copy is a duplicate when its billing fields
equal the winning copy's, otherwise a conflict. Pure Polars: the warehouse hands in the rows of
this load and its own copies of their request_ids.
"""

from __future__ import annotations

import polars as pl

from meterhouse.schemas.events import BILLING_FIELDS

ORIGINAL = "_original"
# What deduplication needs of a copy: its key, where it came from, and what it costs.
COPY_COLUMNS = ("request_id", "file_id", "source_row", *BILLING_FIELDS)


def is_new_request(earlier: pl.DataFrame) -> pl.Expr:
    """True on the row of a load (in load order) that brings a request_id for the first time."""
    seen = pl.col("request_id").is_in(earlier.get_column("request_id").implode())
    return pl.col("request_id").is_first_distinct() & ~seen


def _differs_in() -> pl.Expr:
    """Comma-separated billing fields in which a copy differs from the copy that counts."""
    return pl.concat_str(
        [
            pl.when(pl.col(f).ne_missing(pl.col(f + ORIGINAL))).then(pl.lit(f))
            for f in BILLING_FIELDS
        ],
        separator=", ",
        ignore_nulls=True,
    )


def classify_repeats(load: pl.DataFrame, is_new: pl.Series, earlier: pl.DataFrame) -> pl.DataFrame:
    """The rows of `load` that are not new, each with the copy that counts and how it differs.

    Adds `original_file_id`, `original_row`, `differs_in` (empty for a duplicate) and
    `is_duplicate`. `earlier` holds the warehouse's copies, with at least COPY_COLUMNS.
    """
    repeats = load.filter(~is_new)
    repeated = repeats.get_column("request_id").unique().implode()
    first_copies = load.filter(is_new & pl.col("request_id").is_in(repeated))
    copies = [frame.select(COPY_COLUMNS) for frame in (earlier, first_copies)]
    originals = pl.concat(copies, how="vertical_relaxed").select(
        "request_id",
        pl.col("file_id").alias("original_file_id"),
        pl.col("source_row").alias("original_row"),
        *(pl.col(f).alias(f + ORIGINAL) for f in BILLING_FIELDS),
    )
    return (
        repeats.join(originals, on="request_id", how="left", maintain_order="left")
        .with_columns(differs_in=_differs_in())
        .with_columns(is_duplicate=pl.col("differs_in") == "")
        .drop(*(f + ORIGINAL for f in BILLING_FIELDS))
    )
