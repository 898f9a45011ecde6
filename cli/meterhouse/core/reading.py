"""Turn one export file's columns into a dataset's canonical row, as Polars expressions.

Exports differ in column order, name case, integer widths, timestamp units and time zones, and
carry columns we do not know. This module decides, from a file's schema alone, how each
contract column is read, and refuses a file whose column cannot be read as its contract type.
Row-level problems are not decided here: they become rule violations (see schemas/events.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from meterhouse.errors import MeterhouseError
from meterhouse.schemas.dataset import DTYPES, Column, Dataset
from meterhouse.schemas.events import EVENTS

INT64_LIMIT = 2.0**63


@dataclass(frozen=True)
class FileReading:
    """How to read one file: canonical expressions, a parse-problem flag, ignored columns."""

    columns: list[pl.Expr]
    non_integer_tokens: pl.Expr
    ignored_columns: list[str]


def _wrong_type(
    source: str, column: Column, found: pl.DataType, dataset: Dataset
) -> MeterhouseError:
    wanted = {
        "id": "a string (or integer) column",
        "string": "a string column",
        "timestamp": "a timestamp column (tz-aware or naive UTC) or a date",
        "tokens": "an integer column",
        "number": "a numeric column",
    }[column.kind]
    return MeterhouseError(
        f"{source}: column '{column.name}' has type {found}, but the {dataset.what} contract "
        f"needs {wanted}. Re-export the file with that type ({_doc(dataset)})."
    )


def _string(name: str, dtype: pl.DataType) -> pl.Expr | None:
    if dtype == pl.String:
        return pl.col(name)
    if isinstance(dtype, pl.Categorical | pl.Enum | pl.Null) or dtype.is_integer():
        return pl.col(name).cast(pl.String)
    return None


def _timestamp(name: str, dtype: pl.DataType) -> pl.Expr | None:
    utc = DTYPES["timestamp"]
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:  # naive values are UTC by contract
            return pl.col(name).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        return pl.col(name).dt.convert_time_zone("UTC").cast(utc)
    if isinstance(dtype, pl.Date):
        return pl.col(name).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if isinstance(dtype, pl.Null):
        return pl.col(name).cast(utc)
    return None


def _tokens(name: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr] | None:
    """The Int64 reading of a token column and a flag for values that are not whole numbers."""
    raw = pl.col(name)
    if dtype.is_integer() or isinstance(dtype, pl.Null):
        value = raw.cast(pl.Int64, strict=False)  # only UInt64 beyond int64 fails to cast
    elif dtype.is_float():
        whole = raw.is_finite() & (raw == raw.round()) & (raw.abs() < INT64_LIMIT)
        value = pl.when(whole).then(raw.cast(pl.Int64, strict=False))
    else:
        return None
    return value, raw.is_not_null() & value.is_null()


def _doc(dataset: Dataset) -> str:
    return f"see docs/{dataset.what.replace(' ', '-').lower()}-contract.md"


def _canonical_string(column: Column, value: pl.Expr) -> pl.Expr:
    if column.kind == "id" and not column.required:
        # an optional id that is empty or only spaces was not reported: null, like an absent
        # one (a blank gpu_id would otherwise name a GPU "" and make the request self-hosted)
        value = pl.when(value.str.strip_chars() != "").then(value)
    if column.default is not None:  # enumerations: compare case- and space-insensitively
        value = value.str.strip_chars().str.to_lowercase()
        if column.value_aliases:
            value = value.replace(dict(column.value_aliases))
        value = value.fill_null(pl.lit(column.default))
    return value


def _find(column: Column, by_name: dict[str, str]) -> str | None:
    for name in (column.name, *column.other_names):
        if name in by_name:
            return by_name[name]
    return None


def read_file_columns(schema: pl.Schema, source: str, dataset: Dataset = EVENTS) -> FileReading:
    """Plan the canonical reading of a file with this schema, or refuse the file."""
    by_name: dict[str, str] = {}
    for original in schema.names():
        key = original.strip().lower()
        if key in by_name:
            raise MeterhouseError(
                f"{source}: columns '{by_name[key]}' and '{original}' differ only in case or "
                "spaces, so it is unclear which one to load. Keep one of them."
            )
        by_name[key] = original

    found = {c.name: _find(c, by_name) for c in dataset.columns}
    missing = [c.name for c in dataset.columns if c.required and found[c.name] is None]
    if missing:
        raise MeterhouseError(
            f"{source}: required column(s) {', '.join(missing)} missing. The {dataset.what} "
            f"contract ({_doc(dataset)}) lists what every export must carry."
        )

    exprs: list[pl.Expr] = []
    flags: list[pl.Expr] = []
    for column in dataset.columns:
        name = found[column.name]
        if name is None:
            exprs.append(_absent(column))
            continue
        dtype = schema[name]
        value: pl.Expr | None
        if column.kind in ("id", "string"):
            value = _string(name, dtype)
            if value is not None:
                value = _canonical_string(column, value)
        elif column.kind == "timestamp":
            value = _timestamp(name, dtype)
        elif column.kind == "tokens":
            reading = _tokens(name, dtype)
            value = None
            if reading is not None:
                value, flag = reading
                flags.append(flag)
                if not column.required:  # a null optional count means "not reported": 0
                    value = value.fill_null(0)
        else:
            value = (
                pl.col(name).cast(pl.Float64)
                if dtype.is_numeric() or isinstance(dtype, pl.Null)
                else None
            )
        if value is None:
            raise _wrong_type(source, column, dtype, dataset)
        exprs.append(value.alias(column.name))

    known = {name for name in found.values() if name is not None}
    return FileReading(
        columns=exprs,
        non_integer_tokens=pl.any_horizontal(flags) if flags else pl.lit(False),
        ignored_columns=[n for n in schema.names() if n not in known],
    )


def _absent(column: Column) -> pl.Expr:
    if column.kind == "tokens":
        return pl.lit(0, pl.Int64).alias(column.name)
    return pl.lit(column.default, DTYPES[column.kind]).alias(column.name)
