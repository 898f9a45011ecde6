"""Turn one export file's columns into a dataset's canonical row, as Polars expressions.

Exports differ in column order, name case, integer widths, timestamp units and time zones, and
carry columns we do not know; a text file (CSV) holds every value as text, read by the same
rules (a count as a whole number, a time as ISO 8601). This module decides, from a file's
schema alone, how each contract column is read, and refuses a file whose column cannot be read
as its contract type.
Row-level problems are not decided here: they become rule violations (see schemas/events.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from meterhouse.core.text import utc_from_iso_text
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.dataset import DTYPES, Column, Dataset
from meterhouse.schemas.events import (
    CONTENT_COLUMNS,
    EVENTS,
    NON_INTEGER_RULE,
    UNREADABLE_TIME_RULE,
)

INT64_LIMIT = 2.0**63


@dataclass(frozen=True)
class FileReading:
    """How to read one file: canonical expressions, a flag per parse problem (by the name of
    its rule in schemas/events.PARSE_RULES), ignored columns, and the content columns
    (schemas/events.CONTENT_COLUMNS) to drop before anything of a row is kept."""

    columns: list[pl.Expr]
    problems: dict[str, pl.Expr]
    ignored_columns: list[str]
    content_columns: list[str]

    def any_problem(self) -> pl.Expr:
        return pl.any_horizontal(self.problems.values()) if self.problems else pl.lit(False)


def _wrong_type(
    source: str, column: Column, found: pl.DataType, dataset: Dataset
) -> MeterhouseError:
    wanted = {
        "id": "a string (or integer) column",
        "string": "a string column",
        "timestamp": "a timestamp column (tz-aware or naive UTC) or a date",
        "tokens": "an integer column",
        "number": "a numeric column",
        "boolean": "a boolean column (or text: true/false, t/f, 1/0, yes/no)",
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


def _time_text(name: str) -> tuple[pl.Expr, pl.Expr]:
    """An ISO 8601 text column as UTC, and a flag for text that is not such a time."""
    value = utc_from_iso_text(pl.col(name))
    return value, (pl.col(name).str.strip_chars() != "").fill_null(False) & value.is_null()


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
    return count_reading(pl.col(name), dtype)


def count_reading(raw: pl.Expr, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr] | None:
    """A count (tokens) of this type as Int64, and a flag for values that are not whole
    numbers within int64; None for a type that holds no count. Text: "12", " 12 ", "12.0";
    "" is not reported. The one reading of a count, for exports and sources alike."""
    if dtype.is_integer() or isinstance(dtype, pl.Null):
        value = raw.cast(pl.Int64, strict=False)  # only UInt64 beyond int64 fails to cast
    elif dtype.is_float():
        value = _whole(raw)
    elif dtype == pl.String:
        text = raw.str.strip_chars()
        value = pl.coalesce(
            text.cast(pl.Int64, strict=False), _whole(text.cast(pl.Float64, strict=False))
        )
        return value, (text != "").fill_null(False) & value.is_null()
    else:
        return None
    return value, raw.is_not_null() & value.is_null()


# What a boolean given as text may say, compared without case or surrounding spaces.
BOOLEAN_TEXT = {"true": True, "t": True, "1": True, "yes": True,
                "false": False, "f": False, "0": False, "no": False}  # fmt: skip


def boolean_rule(name: str) -> str:
    """The parse rule of a boolean column whose text is none of BOOLEAN_TEXT."""
    return f"invalid_{name}"


def _boolean(name: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr | None] | None:
    """A boolean column, or text saying one, as Boolean (null: not reported, false), and for
    text a flag on a value that says neither; None for another type."""
    if dtype == pl.Boolean or isinstance(dtype, pl.Null):
        return pl.col(name).cast(pl.Boolean).fill_null(False), None
    if dtype != pl.String:
        return None
    text = pl.col(name).str.strip_chars().str.to_lowercase()
    value = text.replace_strict(BOOLEAN_TEXT, default=None, return_dtype=pl.Boolean)
    return value.fill_null(False), (text != "").fill_null(False) & value.is_null()


def _whole(value: pl.Expr) -> pl.Expr:
    """A float as Int64 where it is a whole number within int64, else null."""
    whole = value.is_finite() & (value == value.round()) & (value.abs() < INT64_LIMIT)
    return pl.when(whole).then(value.cast(pl.Int64, strict=False))


def _doc(dataset: Dataset) -> str:
    return f"see docs/{dataset.what.replace(' ', '-').lower()}-contract.md"


def _canonical_string(column: Column, value: pl.Expr) -> pl.Expr:
    if column.kind == "id" and not column.required:
        # an optional id that is empty or only spaces was not reported: null, like an absent
        # one (a blank gpu_id would otherwise name a GPU "" and make the request self-hosted)
        value = pl.when(value.str.strip_chars() != "").then(value)
    elif column.kind == "string" and not column.required and column.default is None:
        # an optional name (provider, region) is trimmed, and blank is not reported: a blank
        # provider would otherwise win over the catalog's, a blank region be a region
        value = pl.when(value.str.strip_chars() != "").then(value.str.strip_chars())
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
    times: list[pl.Expr] = []
    booleans: dict[str, pl.Expr] = {}
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
        elif column.kind == "timestamp" and dtype == pl.String:
            value, flag = _time_text(name)
            times.append(flag)
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
        elif column.kind == "boolean":
            boolean = _boolean(name, dtype)
            value = None
            if boolean is not None:
                value, text_flag = boolean
                if text_flag is not None:
                    booleans[boolean_rule(column.name)] = text_flag
        else:
            value = (
                pl.col(name).cast(pl.Float64)
                if dtype.is_numeric() or isinstance(dtype, pl.Null)
                else pl.col(name).str.strip_chars().cast(pl.Float64, strict=False)
                if dtype == pl.String
                else None
            )
        if value is None:
            raise _wrong_type(source, column, dtype, dataset)
        exprs.append(value.alias(column.name))

    known = {name for name in found.values() if name is not None}
    problems = {
        rule: pl.any_horizontal(flagged)
        for rule, flagged in ((NON_INTEGER_RULE, flags), (UNREADABLE_TIME_RULE, times))
        if flagged
    } | booleans
    return FileReading(
        columns=exprs,
        problems=problems,
        ignored_columns=[n for n in schema.names() if n not in known and not _is_content(n)],
        content_columns=[n for n in schema.names() if n not in known and _is_content(n)],
    )


def _is_content(name: str) -> bool:
    return name.strip().lower() in CONTENT_COLUMNS


def _absent(column: Column) -> pl.Expr:
    if column.kind == "tokens":
        return pl.lit(0, pl.Int64).alias(column.name)
    if column.kind == "boolean":  # not reported: false
        return pl.lit(False).alias(column.name)
    return pl.lit(column.default, DTYPES[column.kind]).alias(column.name)
