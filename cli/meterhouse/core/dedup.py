"""Deduplication on a dataset's key: which rows of a load are new, duplicates or conflicts.

A row counts once across everything ever loaded (a request_id, a GPU and hour). Within a load,
rows arrive in load order (files in path order, rows in file order) and the first copy wins; a
copy already in the warehouse wins over every copy in the load. A later copy is a duplicate
when its compared fields (the billing fields of an event) equal the winning copy's, otherwise a
conflict. Pure Polars: the warehouse hands in the rows of this load and its own copies of their
keys.
"""

from __future__ import annotations

import polars as pl

from meterhouse.schemas.dataset import Dataset

ORIGINAL = "_original"


def copy_columns(dataset: Dataset) -> tuple[str, ...]:
    """What deduplication needs of a copy: its key, where it came from, what it compares."""
    return (*dataset.key, "file_id", "source_row", *dataset.compared)


def is_new_row(dataset: Dataset, earlier: pl.DataFrame) -> pl.Expr:
    """True on the row of a load (in load order) that brings a key for the first time."""
    key = dataset.key_expr()
    seen = key.is_in(earlier.select(key).to_series().implode())
    return key.is_first_distinct() & ~seen


def _differs_in(dataset: Dataset) -> pl.Expr:
    """Comma-separated compared fields in which a copy differs from the copy that counts."""
    return pl.concat_str(
        [
            pl.when(pl.col(f).ne_missing(pl.col(f + ORIGINAL))).then(pl.lit(f))
            for f in dataset.compared
        ],
        separator=", ",
        ignore_nulls=True,
    )


def classify_repeats(
    dataset: Dataset, load: pl.DataFrame, is_new: pl.Series, earlier: pl.DataFrame
) -> pl.DataFrame:
    """The rows of `load` that are not new, each with the copy that counts and how it differs.

    Adds `original_file_id`, `original_row`, `differs_in` (empty for a duplicate) and
    `is_duplicate`. `earlier` holds the warehouse's copies, with at least copy_columns().
    """
    key = dataset.key_expr()
    repeats = load.filter(~is_new)
    repeated = repeats.select(key).to_series().unique().implode()
    first_copies = load.filter(is_new & key.is_in(repeated))
    columns = copy_columns(dataset)
    copies = [frame.select(columns) for frame in (earlier, first_copies)]
    originals = pl.concat(copies, how="vertical_relaxed").select(
        *dataset.key,
        pl.col("file_id").alias("original_file_id"),
        pl.col("source_row").alias("original_row"),
        *(pl.col(f).alias(f + ORIGINAL) for f in dataset.compared),
    )
    return (
        repeats.join(originals, on=list(dataset.key), how="left", maintain_order="left")
        .with_columns(differs_in=_differs_in(dataset))
        .with_columns(is_duplicate=pl.col("differs_in") == "")
        .drop(*(f + ORIGINAL for f in dataset.compared))
    )
