"""What the loader needs to know of an input dataset, so one loader serves every export.

A `Dataset` names its columns (kinds, required or not), the rules a row must keep (each a Polars
expression, true on a row that breaks it), the key a row is deduplicated on, the fields whose
difference makes a repeat a conflict, and how a checked row is stored. The loader
(warehouse/ingest.py), the file reader (core/reading.py), deduplication (core/dedup.py) and the
Pandera schema all read it from here: usage events (schemas/events.py) and GPU-hour telemetry
(schemas/gpu_hours.py) are two instances, not two loaders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import polars as pl

if TYPE_CHECKING:
    import pandera.polars as pa

Kind = Literal["id", "string", "timestamp", "tokens", "number", "boolean"]

DTYPES: dict[Kind, pl.DataType] = {
    "id": pl.String(),
    "string": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "tokens": pl.Int64(),
    "number": pl.Float64(),
    "boolean": pl.Boolean(),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool
    meaning: str
    # An enumeration: compared case- and space-insensitively, spelled-out aliases mapped to the
    # canonical value, and this value when the column is absent or null.
    default: str | None = None
    value_aliases: Mapping[str, str] = field(default_factory=dict)
    # Other names exports use for the column (compared case- and space-insensitively).
    other_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    name: str
    broken: pl.Expr  # true on a row that breaks the rule
    meaning: str


# The loader adds the load's time to every frame it checks, under this name, so that a rule
# about time ("not dated in the future") stays a pure expression; a frame checked without it
# (Pandera on rows read back, in tests) is checked against the time of the check.
LOADED_AT = "_loaded_at"

# An id (a column of kind "id") is data that ends up in file names, terminal lines, CSV cells
# and SQL literals: any characters are allowed (quotes, slashes, spaces, non-Latin letters;
# outputs make them safe), except the ones that make an id print as another id or break a
# line: C0 controls, DEL, C1 controls, the Unicode line and paragraph separators, and the
# bidirectional marks, embeddings, overrides and isolates. A regex class body, no anchors.
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
ID_MAX_CHARS = 256


def has_control_character(name: str) -> pl.Expr:
    """True on a value holding a character of CONTROL_CHARACTERS (null stays null)."""
    return pl.col(name).str.contains(f"[{CONTROL_CHARACTERS}]")


def id_rules(columns: tuple[Column, ...]) -> tuple[Rule, ...]:
    """`invalid_<column>` for every id column: longer than ID_MAX_CHARS characters or holding
    a control character. A null or blank id is the `missing_<column>` rule's (required ids)
    or "not reported" (optional ids are read as null when blank, core/reading.py)."""
    return tuple(
        Rule(
            f"invalid_{c.name}",
            (
                (pl.col(c.name).str.len_chars() > ID_MAX_CHARS) | has_control_character(c.name)
            ).fill_null(False),
            f"{c.name} is longer than {ID_MAX_CHARS} characters or contains a control "
            "character (C0, DEL, C1, U+2028/U+2029, or a bidirectional control)",
        )
        for c in columns
        if c.kind == "id"
    )


def future_rule(name: str, column: str, horizon: timedelta) -> Rule:
    """`name`: `column` is more than `horizon` after the load (LOADED_AT)."""
    hours = int(horizon.total_seconds() // 3600)
    return Rule(
        name,
        (pl.col(column) > pl.col(LOADED_AT) + pl.lit(horizon)).fill_null(False),
        f"{column} is more than {hours} hours after the time of the load",
    )


def with_load_time(frame: pl.LazyFrame, loaded_at: datetime | None = None) -> pl.LazyFrame:
    """`frame` with the LOADED_AT column the time rules read: `loaded_at` (naive means UTC),
    else the frame's own LOADED_AT, else now."""
    if loaded_at is None and LOADED_AT in frame.collect_schema().names():
        return frame
    at = (loaded_at or datetime.now(UTC)).replace(tzinfo=None)
    return frame.with_columns(
        pl.lit(at, pl.Datetime("us")).dt.replace_time_zone("UTC").alias(LOADED_AT)
    )


@dataclass(frozen=True)
class Dataset:
    name: str  # also the raw table: raw.<name>
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...]
    key: tuple[str, ...]  # a row is one (key) for ever: repeats are duplicates or conflicts
    compared: tuple[str, ...]  # a repeat that differs in one of these is a conflict
    quarantine_table: str
    quarantine_ids: tuple[str, ...]  # columns kept beside the row's JSON in quarantine
    # Columns added to (or replaced in) a checked row before it is stored.
    derived: tuple[pl.Expr, ...] = ()
    # The UTC day a stored row belongs to: a load records the days it changed under it
    # (raw.changed_days), for the incremental models to re-rate (docs/decisions/0004).
    day: pl.Expr = field(default_factory=lambda: pl.lit(None, pl.Date))
    what: str = "row"  # how messages name one row: "event", "GPU hour"

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def any_rule_broken(self) -> pl.Expr:
        """True on a row that breaks at least one rule (cheaper than naming them)."""
        return pl.any_horizontal(rule.broken for rule in self.rules)

    def broken_rules(self) -> pl.Expr:
        """Comma-separated names of the rules a row breaks; empty string when it breaks none."""
        return pl.concat_str(
            [pl.when(rule.broken).then(pl.lit(rule.name)) for rule in self.rules],
            separator=", ",
            ignore_nulls=True,
        )

    def key_expr(self) -> pl.Expr:
        """One value per key, for membership tests (a composite key is joined into a string)."""
        if len(self.key) == 1:
            return pl.col(self.key[0])
        return pl.concat_str([pl.col(k).cast(pl.String) for k in self.key], separator="\x1f")

    def stored(self, name: str) -> pl.Expr:
        """A canonical column as the raw table stores it: a UTC instant without its zone
        (docs/decisions/0002). The derived columns are added after."""
        [column] = [c for c in self.columns if c.name == name]
        return (
            pl.col(name).dt.replace_time_zone(None) if column.kind == "timestamp" else pl.col(name)
        )

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        """The Pandera schema of a checked row: column types and every rule.

        Built on first use: importing Pandera costs most of a second that commands which do
        not validate (a re-run of a load, --help) should not pay.
        """
        import pandera.polars as pa

        def check(rule: Rule) -> pa.Check:
            return pa.Check(
                lambda data: with_load_time(data.lazyframe).select(~rule.broken),
                name=rule.name,
                error=f"{rule.name}: {rule.meaning}",
            )

        return pa.DataFrameSchema(
            {c.name: pa.Column(DTYPES[c.kind], nullable=_nullable(c)) for c in self.columns},
            checks=[check(rule) for rule in self.rules],
            strict=False,  # the loader's bookkeeping columns may ride along
            name=self.name,
        )


def _nullable(column: Column) -> bool:
    # Optional token counts, booleans and enumerations are filled with their defaults when read.
    defaulted = column.kind in ("tokens", "boolean") or column.default is not None
    return not (column.required or defaulted)
