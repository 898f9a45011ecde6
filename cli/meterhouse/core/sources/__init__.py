"""Sources: the per-request exports people already have, each read into the event contract by
one adapter (docs/sources.md).

An adapter is pure Polars: it takes a file's own columns (as export_files read them) and
returns one row per usage record in the contract's column names, in any type core/reading
reads (text counts and ISO times included), plus `PROBLEM`: null on a row it could map, else a
text naming the source field and what is wrong with it (the loader quarantines that row under
`unmappable_source_field`, with the text as detail). Records that are not usage (an agent span
repeating its children's usage, a gateway cache hit) are left out and counted by reason.
Everything else — rules, quarantine, dedup, conflicts, the manifest, re-loads and the row
accounting — is the one loader's (warehouse/ingest.py), the same for every source.

An adapter must give the same output columns and types for any file of one input schema, so
the loader plans a file from its schema alone (`adapt` of no rows) before reading it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from meterhouse.errors import MeterhouseError

PROBLEM = "_source_problem"
# Source columns that name a person rather than a customer: chosen as the tenant, they are
# stored as given (not pseudonymised), so the loader warns.
PERSONAL_TENANT_FIELDS = frozenset({"end_user", "user", "user_id", "enduser.id", "user.id"})


@dataclass(frozen=True)
class Adapted:
    """One file's usage records in the contract's columns (and PROBLEM), what was left out
    and why, and the source columns the adapter did not read (named in the manifest)."""

    frame: pl.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()


class Source(Protocol):
    """A source of usage files: its name (`--source`), and its adapter."""

    @property
    def name(self) -> str: ...

    @property
    def tenant_field(self) -> str | None:
        """The source field the tenant comes from (None: the contract's tenant_id)."""

    @property
    def line_column(self) -> str | None:
        """The column a JSON Lines file of this source is read into, a line of text per row
        (its adapter decodes them with a fixed type), or None: lines read as objects."""

    @property
    def json_paths(self) -> Mapping[str, tuple[str, ...]]:
        """The JSON columns the adapter reads values out of (name, lower case -> dotted
        paths, e.g. "usage_object.cache_read_input_tokens"). The reader parses each such
        column once (export_files.read_batches) and adds `decoded_column(name)`: a list of the
        values at those paths, in order, as text (null at a path the row's JSON lacks; the
        list null where the row's value is not JSON). Empty: no JSON is read."""

    def adapt(self, raw: pl.DataFrame, where: str) -> Adapted:
        """The usage records of one file; refuses (MeterhouseError, naming `where`) a file
        without the fields the source needs."""


@dataclass(frozen=True)
class EventsSource:
    """Files written in the event contract itself (docs/event-contract.md)."""

    name: str = "events"
    tenant_field: str | None = None
    line_column: str | None = None

    @property
    def json_paths(self) -> Mapping[str, tuple[str, ...]]:
        return {}

    def adapt(self, raw: pl.DataFrame, where: str) -> Adapted:
        return Adapted(raw)


DECODED_PREFIX = "_json_"


def decoded_column(name: str) -> str:
    """The column the reader adds for JSON column `name` of a source's json_paths."""
    return DECODED_PREFIX + name


def problem(checks: Mapping[str, pl.Expr]) -> pl.Expr:
    """PROBLEM from named checks: the text of the first check that holds on a row, else null.
    Each key is the text (`"metadata: not JSON"`), each value a boolean expression."""
    text = pl.lit(None, pl.String)
    for what, broken in reversed(list(checks.items())):
        text = pl.when(broken.fill_null(False)).then(pl.lit(what)).otherwise(text)
    return text.alias(PROBLEM)


def json_text(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A JSON column as JSON text: a struct (from JSON Lines or Parquet) encoded, text kept."""
    return column.struct.json_encode() if isinstance(dtype, pl.Struct) else column.cast(pl.String)


EPOCH_UNITS = ("s", "ms", "us", "ns")


def epoch_to_utc(value: pl.Expr, unit: str) -> pl.Expr:
    """An epoch number (or its text) in seconds, ms, us or ns as a UTC Datetime("us"), null
    where it is none. Seconds and ms may be fractional (LiteLLM writes float seconds): read as
    a float, exact to the microsecond at today's epochs; us and ns are whole numbers, read as
    int64 (a float of nanoseconds would lose them)."""
    if unit in ("s", "ms"):
        scale = 1_000_000 if unit == "s" else 1_000
        micros = (value.cast(pl.Float64, strict=False) * scale).round().cast(pl.Int64)
    else:
        whole = value.cast(pl.Int64, strict=False)
        micros = whole // 1_000 if unit == "ns" else whole
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")


def missing_fields(
    where: str, source: str, missing: list[str], looks_like: str | None
) -> MeterhouseError:
    """A file of this source lacks fields it needs: name them, and what the file looks like."""
    hint = f" It looks like {looks_like}." if looks_like else ""
    return MeterhouseError(
        f"{where}: not an export of the {source} source: field(s) {', '.join(missing)} "
        f"missing.{hint} "
        "See docs/sources.md for what each source reads. Nothing was loaded."
    )


# What a file looks like, from its column names (lower case): the first signature whose columns
# are all there. Used to say what a refused file seems to be (`--source` it should have had).
SIGNATURES: tuple[tuple[frozenset[str], str, str], ...] = (
    (frozenset({"resourcespans"}), "OTLP JSON (OpenTelemetry spans)", "otel"),
    (frozenset({"starttime", "prompt_tokens", "completion_tokens"}),
     "a LiteLLM spend log", "litellm"),
    (frozenset({"request_id", "event_at", "tenant_id", "input_tokens"}),
     "an export in the event contract", "events"),
    (frozenset({"usage_details", "start_time"}), "a Langfuse observations export",
     "mapped (docs/mappings/langfuse.toml)"),
    (frozenset({"object", "data", "has_more"}), "a usage API page (OpenAI or Anthropic)", ""),
)  # fmt: skip


def looks_like(columns: list[str], besides: str) -> str | None:
    """What a file with these columns seems to be, when it is not a file of source `besides`:
    "a LiteLLM spend log (load it with --source litellm)", or None."""
    names = {c.strip().lower() for c in columns}
    for signature, what, source in SIGNATURES:
        if signature <= names and source != besides:
            return f"{what} (load it with --source {source})" if source else what
    return None


SOURCE_NAMES = ("events", "litellm", "otel", "mapped")
Factory = Callable[..., Source]
