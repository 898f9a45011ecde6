"""The `mapped` source: any per-request export, read through a mapping file its user writes
(TOML or YAML; docs/sources.md, "mapped", and docs/mappings/).

A mapping names, for each contract column, where its value is: a source column, a JSON path
into a JSON column (text or a struct), several of them summed (token counts), or a constant;
how a time is given (ISO text in a zone, or epoch seconds, ms, us, ns); how the source counts
tokens (`input` with or without the cache tokens, `output` with or without reasoning); and,
optionally, which records are usage (`keep`): the others are left out and counted.

    [mapping]
    input = "excludes_cache"            # or includes_cache (the default: OpenAI's convention)
    keep = { column = "type", values = ["GENERATION"] }

    [columns]
    request_id = "id"
    event_at = { column = "start_time", time = "iso", zone = "UTC" }
    tenant_id = { column = "metadata", json = "tenant_id" }
    input_tokens = { column = "usage_details", json = "input" }
    cache_write_tokens = [{ column = "usage", json = "5m" }, { column = "usage", json = "1h" }]

    [constants]
    provider = "anthropic"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import yaml  # type: ignore[import-untyped]  # PyYAML, installed with dbt-core

from meterhouse.core.reading import count_reading
from meterhouse.core.sources import (
    EPOCH_UNITS,
    Adapted,
    epoch_to_utc,
    json_text,
    looks_like,
    missing_fields,
    problem,
)
from meterhouse.core.text import utc_from_iso_text
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.events import COLUMNS

KINDS = {c.name: c.kind for c in COLUMNS}
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
TIME_FORMATS = ("iso", *EPOCH_UNITS)
INPUT_CONVENTIONS = ("includes_cache", "excludes_cache")
OUTPUT_CONVENTIONS = ("includes_reasoning", "excludes_reasoning")
CACHE_COLUMNS = ("cache_read_tokens", "cache_write_tokens")
_FIELD_KEYS = {"column", "json", "time", "zone", "values"}
_ISO_OFFSET = r"(?i)(z|[+-]\d{2}:?\d{2})\z"


@dataclass(frozen=True)
class Field:
    """Where one value is: a source column, optionally a JSON path into it."""

    column: str
    json: str | None = None  # a JSON path, `$.a.b` (a bare `a.b` is read as `$.a.b`)
    time: str | None = None  # for event_at: iso or an epoch unit; None: as the column's type
    zone: str = "UTC"  # for ISO text without an offset
    values: tuple[tuple[str, str], ...] = ()  # source value -> contract value (status, tier)

    @property
    def label(self) -> str:
        return f"{self.column}.{self.json.removeprefix('$.')}" if self.json else self.column


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file (see the module's docstring)."""

    fields: dict[str, tuple[Field, ...]]  # contract column -> its source fields (summed if more)
    constants: dict[str, str | int] = field(default_factory=dict)
    input_convention: str = "includes_cache"
    output_convention: str = "includes_reasoning"
    keep: Field | None = None
    keep_values: tuple[str, ...] = ()
    name: str = "mapped"
    tenant_field: str | None = None

    def source_columns(self) -> set[str]:
        every = [f for fs in self.fields.values() for f in fs] + ([self.keep] if self.keep else [])
        return {f.column for f in every}


def parse_mapping(text: str, where: str) -> Mapping:
    """A mapping from the text of its file (TOML, or YAML when `where` ends .yaml/.yml);
    refuses, naming the key, anything it cannot use."""
    try:
        if where.lower().endswith((".yaml", ".yml")):
            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise MeterhouseError(f"{where}: not a readable mapping file: {exc}") from exc
    if not isinstance(data, dict):
        raise MeterhouseError(f"{where}: a mapping file holds tables [mapping], [columns] and "
                              "[constants] (docs/sources.md).")  # fmt: skip
    unknown = set(data) - {"mapping", "columns", "constants"}
    if unknown:
        raise _bad(where, ", ".join(sorted(unknown)), "unknown table: use [mapping], [columns] "
                   "and [constants]")  # fmt: skip
    options = _table(data, "mapping", where)
    columns = _table(data, "columns", where)
    constants = _table(data, "constants", where)
    for name in (*columns, *constants):
        if name not in KINDS:
            raise _bad(where, name, f"not a column of the event contract ({', '.join(KINDS)})")
    both = set(columns) & set(constants)
    if both:
        raise _bad(where, ", ".join(sorted(both)), "given both as a column and a constant")
    missing = [c for c in REQUIRED if c not in columns and c not in constants]
    if missing:
        raise _bad(where, ", ".join(missing), "required by the event contract: map each in "
                   "[columns] (or give it in [constants])")  # fmt: skip
    fields = {name: _fields(spec, f"columns.{name}", where) for name, spec in columns.items()}
    for name, specs in fields.items():
        if len(specs) > 1 and KINDS[name] != "tokens":
            raise _bad(where, f"columns.{name}", "only token counts may sum several fields")
        if any(f.time for f in specs) and KINDS[name] != "timestamp":
            raise _bad(where, f"columns.{name}", "`time` is for a time column (event_at)")
    for name, value in constants.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise _bad(where, f"constants.{name}", "a constant is a string or a whole number")
    allowed = {"name", "input", "output", "keep"}
    if set(options) - allowed:
        raise _bad(where, ", ".join(sorted(set(options) - allowed)),
                   "unknown option of [mapping]: name, input, output, keep")  # fmt: skip
    input_convention = _choice(options, "input", INPUT_CONVENTIONS, where)
    output_convention = _choice(options, "output", OUTPUT_CONVENTIONS, where)
    keep: Field | None = None
    keep_values: tuple[str, ...] = ()
    if "keep" in options:
        spec = options["keep"]
        if not isinstance(spec, dict) or not isinstance(spec.get("values"), list):
            raise _bad(where, "mapping.keep", 'give { column = "...", values = ["..."] }')
        keep = _fields({k: v for k, v in spec.items() if k != "values"}, "mapping.keep", where)[0]
        keep_values = tuple(str(v) for v in spec["values"])
    tenant = fields.get("tenant_id")
    return Mapping(
        fields=fields,
        constants=dict(constants),
        input_convention=input_convention,
        output_convention=output_convention,
        keep=keep,
        keep_values=keep_values,
        name=str(options.get("name", "mapped")),
        tenant_field=tenant[0].label if tenant else None,
    )


def _table(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise _bad(where, name, "must be a table")
    return value


def _choice(options: dict[str, Any], key: str, allowed: tuple[str, ...], where: str) -> str:
    value = options.get(key, allowed[0])
    if value not in allowed:
        raise _bad(where, f"mapping.{key}", f"is {value!r}; use one of {', '.join(allowed)}")
    return str(value)


def _fields(spec: Any, key: str, where: str) -> tuple[Field, ...]:
    if isinstance(spec, list) and spec:
        return tuple(f for item in spec for f in _fields(item, key, where))
    if isinstance(spec, str) and spec.strip():
        return (Field(spec),)
    if not isinstance(spec, dict) or not isinstance(spec.get("column"), str):
        raise _bad(where, key, 'give a source column: "name", { column = "name", json = "a.b" } '
                   "or a list of them")  # fmt: skip
    if set(spec) - _FIELD_KEYS:
        raise _bad(where, key, f"unknown key(s) {', '.join(sorted(set(spec) - _FIELD_KEYS))}")
    path = spec.get("json")
    if path is not None:
        path = path if str(path).startswith("$") else f"$.{path}"
    time = spec.get("time")
    if time is not None and time not in TIME_FORMATS:
        raise _bad(where, f"{key}.time", f"is {time!r}; use one of {', '.join(TIME_FORMATS)}")
    zone = str(spec.get("zone", "UTC"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _bad(where, f"{key}.zone", f"{zone!r} is no time zone (e.g. UTC, "
                   "Europe/Paris)") from exc  # fmt: skip
    values = spec.get("values", {})
    if not isinstance(values, dict):
        raise _bad(where, f"{key}.values", "must map source values to contract values")
    pairs = tuple((str(k), str(v)) for k, v in values.items())
    return (Field(spec["column"], path, time, zone, pairs),)


def _bad(where: str, key: str, what: str) -> MeterhouseError:
    return MeterhouseError(f"{where}: {key}: {what} (docs/sources.md, 'mapped').")


@dataclass(frozen=True)
class MappedSource:
    """A source read through a mapping (the `mapped` source)."""

    mapping: Mapping
    name: str = "mapped"
    line_column: str | None = None

    @property
    def tenant_field(self) -> str | None:
        return self.mapping.tenant_field

    @property
    def json_paths(self) -> dict[str, tuple[str, ...]]:
        return {}

    def adapt(self, raw: pl.DataFrame, where: str) -> Adapted:
        m = self.mapping
        missing = sorted(m.source_columns() - set(raw.columns))
        if missing:
            raise missing_fields(
                where, f"'{m.name}' (mapping)", missing, looks_like(raw.columns, "")
            )
        checks: dict[str, pl.Expr] = {}
        values: dict[str, pl.Expr] = {}
        for name, specs in m.fields.items():
            values[name] = _value(name, specs, raw.schema, checks)
        for name, constant in m.constants.items():
            values[name] = pl.lit(constant)
        if m.input_convention == "excludes_cache" and "input_tokens" in values:
            cache = [values[c] for c in CACHE_COLUMNS if c in values]
            values["input_tokens"] = pl.sum_horizontal(values["input_tokens"], *cache)
            # a sum of nothing is 0: an absent input stays absent (missing_tokens)
            values["input_tokens"] = pl.when(_present(m, "input_tokens", raw)).then(
                values["input_tokens"]
            )
        if m.output_convention == "excludes_reasoning" and "reasoning_tokens" in values:
            values["output_tokens"] = pl.when(_present(m, "output_tokens", raw)).then(
                pl.sum_horizontal(values["output_tokens"], values["reasoning_tokens"])
            )
        frame = (  # lazy: a field several checks read is parsed once
            raw.lazy().select(*(v.alias(k) for k, v in values.items()), problem(checks)).collect()
        )
        skipped: dict[str, int] = {}
        if m.keep is not None:
            kept = _text(m.keep, raw.schema).is_in(list(m.keep_values)).fill_null(False)
            is_kept = raw.select(kept).to_series()
            left_out = int((~is_kept).sum())
            frame = frame.filter(is_kept)
            if left_out:
                skipped[f"not {m.keep.label} in ({', '.join(m.keep_values)})"] = left_out
        ignored = tuple(c for c in raw.columns if c not in m.source_columns())
        return Adapted(frame, skipped, ignored)


def _present(m: Mapping, name: str, raw: pl.DataFrame) -> pl.Expr:
    return pl.any_horizontal(_text(f, raw.schema).is_not_null() for f in m.fields[name])


def _text(f: Field, schema: pl.Schema) -> pl.Expr:
    """The field's value: the column, or the JSON path's match in it as text."""
    column = pl.col(f.column)
    if f.json is None:
        return column
    return json_text(column, schema[f.column]).str.json_path_match(f.json)


def _value(name: str, specs: tuple[Field, ...], schema: pl.Schema,
           checks: dict[str, pl.Expr]) -> pl.Expr:  # fmt: skip
    """A contract column's value from its fields; a check per field that cannot be read."""
    kind = KINDS[name]
    for f in specs:
        if f.json is not None:
            raw = json_text(pl.col(f.column), schema[f.column])
            checks[f"{f.column}: not JSON"] = (
                raw.is_not_null() & raw.str.json_path_match("$").is_null()
            )
            if name in REQUIRED and len(specs) == 1:  # named, rather than a bare missing_* rule
                checks[f"{f.label}: absent"] = raw.is_not_null() & _text(f, schema).is_null()
    if kind == "tokens":
        parts = []
        for f in specs:
            dtype: pl.DataType = pl.String() if f.json else schema[f.column]
            reading = count_reading(_text(f, schema), dtype)
            if reading is None:
                raise MeterhouseError(f"{f.label}: type {schema[f.column]} holds no count")
            value, flag = reading
            checks[f"{f.label}: not a whole number"] = flag
            parts.append(value)
        if len(parts) == 1:
            return parts[0]
        return pl.when(pl.any_horizontal(p.is_not_null() for p in parts)).then(
            pl.sum_horizontal(parts)
        )
    [f] = specs
    value = _text(f, schema)
    if kind == "timestamp":
        return _time(f, value, schema, checks)
    if f.values:
        return value.cast(pl.String).replace(dict(f.values))
    if f.json is not None and kind == "number":
        return value.cast(pl.Float64, strict=False)
    return value


def _time(f: Field, value: pl.Expr, schema: pl.Schema, checks: dict[str, pl.Expr]) -> pl.Expr:
    """A time field as the mapping says it is given (unit, zone); left to core/reading (a
    timestamp column, or ISO text in UTC) when it says nothing."""
    textual = f.json is not None or schema[f.column] == pl.String
    if f.time == "iso" or (f.time is None and f.zone != "UTC" and textual):
        text = value.cast(pl.String)
        parsed = _zoned_iso(text, f.zone)
        checks[f"{f.label}: not an ISO 8601 time"] = (text.str.strip_chars() != "") & (
            parsed.is_null()
        )
        return parsed
    if f.time is not None:
        parsed = epoch_to_utc(value, f.time)
        checks[f"{f.label}: not an epoch number ({f.time})"] = value.is_not_null() & (
            parsed.is_null()
        )
        return parsed
    dtype = schema[f.column]
    if f.zone != "UTC" and isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return value.dt.replace_time_zone(f.zone, ambiguous="earliest").dt.convert_time_zone("UTC")
    return value


def _zoned_iso(text: pl.Expr, zone: str) -> pl.Expr:
    """ISO text as UTC; text without an offset is a wall time in `zone`."""
    utc = utc_from_iso_text(text)
    if zone == "UTC":
        return utc
    local = (
        utc.dt.replace_time_zone(None)
        .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    return pl.when(text.str.strip_chars().str.contains(_ISO_OFFSET)).then(utc).otherwise(local)


def fields_named(mapping: MappingType[str, tuple[Field, ...]]) -> dict[str, str]:
    """contract column -> the source fields it is read from, as shown (`usage.input + ...`)."""
    return {name: " + ".join(f.label for f in specs) for name, specs in mapping.items()}
