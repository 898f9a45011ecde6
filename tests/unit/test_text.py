"""format_text stands in for pl.format, which crashes on columns with chunks a filter emptied."""

from __future__ import annotations

import polars as pl

from meterhouse.core.text import format_text


def test_filtered_multi_chunk_columns_format_like_pl_format_would() -> None:
    # three chunks, a filter keeps rows of the last one only: what a multi-file load and its
    # conflicts look like, and what made pl.format panic in Polars 2.1
    frame = pl.concat(
        [pl.DataFrame({"name": [f"f{i}"] * 100, "row": list(range(100))}) for i in range(3)],
        rechunk=False,
    ).filter(pl.int_range(pl.len()) >= 298)
    text = frame.select(format_text("file {} row {}!", "name", pl.col("row") + 1)).to_series()
    assert text.to_list() == ["file f2 row 99!", "file f2 row 100!"]


def test_a_null_argument_gives_null() -> None:
    frame = pl.DataFrame({"a": ["x", None]})
    assert frame.select(format_text('"{}"', "a")).to_series().to_list() == ['"x"', None]
