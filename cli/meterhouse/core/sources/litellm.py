"""The `litellm` source: LiteLLM proxy usage, as a dump of its `LiteLLM_SpendLogs` table (CSV
or Parquet; `metadata` a JSON text) or as the StandardLoggingPayload JSON Lines its bucket
logger (S3, GCS) writes (`metadata` an object). docs/sources.md, "litellm", has the table of
what each contract column is read from; the rules that are decisions, not renames:

- The two are told apart per file by their key: `request_id` (spend log) or `id` (payload).
  A payload keeps its team, organisation and key owner inside `metadata`
  (`user_api_key_team_id`, `user_api_key_org_id`, `user_api_key_user_id`).
- Token counts follow the contract: `prompt_tokens` includes the cache reads and writes, so
  uncached = prompt - cache read - cache write. An older LiteLLM (its Anthropic adapter's
  `calculate_usage` added `cache_read_input_tokens` to `prompt_tokens`, and not
  `cache_creation_input_tokens`, as the current one does) counted prompt = uncached + read.
  A row with cache read <= prompt < cache read + cache write can only be that convention (the
  current one cannot give a negative uncached part), so it is read as such: input = prompt +
  cache write. A prompt below its cache reads fits neither
  and is quarantined, naming prompt_tokens. (An older-convention row whose writes are at most
  its uncached tokens cannot be told apart, and reads as the current convention.)
- A cache hit of the gateway's own cache (request_id ending `_cache_hit<unix time>`, or
  cache_hit true) with no spend made no provider call: it is left out and counted, never
  stored, so a re-export (whose cache-hit ids differ) adds nothing.
- `spend` / `response_cost` are floats of LiteLLM's own price list: never an amount here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from meterhouse.core.reading import count_reading
from meterhouse.core.sources import (
    PROBLEM,
    Adapted,
    epoch_to_utc,
    json_text,
    looks_like,
    missing_fields,
    problem,
)
from meterhouse.core.text import utc_from_iso_text
from meterhouse.errors import MeterhouseError

SPEND_LOG, PAYLOAD = "spend log", "payload"
# LiteLLM appends f"_cache_hit{time.time()}" (a float) to the id of a cache hit's spend log row
CACHE_HIT_ID = r"_cache_hit\d+(\.\d+)?\z"
CACHE_HIT_REASON = (
    "LiteLLM cache hits (served from the gateway's cache: no vendor cost, not billed)"
)
ID_FIELDS = ("team_id", "end_user", "organization_id", "user")
DEFAULT_TENANT = "team_id"
_METADATA_KEY = re.compile(r"\Ametadata\.([A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*)\Z")
# Where a payload keeps the ids a spend log has as columns (StandardLoggingMetadata).
_PAYLOAD_IDS = {
    "team_id": ("user_api_key_team_id", "team_id"),
    "organization_id": ("user_api_key_org_id",),
    "user": ("user_api_key_user_id",),
    "end_user": ("user_api_key_end_user_id",),
}
# The spend log's metadata keeps the usage as `usage_object` (recent versions) and as
# `additional_usage_values` (the usage fields besides the three counts); a payload in
# `metadata.usage_object` and `hidden_params.usage_object`. Each count is the largest found.
_USAGE_IN_METADATA = ("usage_object", "additional_usage_values")
_READS = ("cache_read_input_tokens", "prompt_tokens_details.cached_tokens")
_WRITES = (
    "cache_creation_input_tokens",
    "prompt_tokens_details.cache_creation_tokens",
    "prompt_tokens_details.cache_write_tokens",
)
_WRITES_1H = (
    "prompt_tokens_details.cache_creation_token_details.ephemeral_1h_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",  # Anthropic's own shape, passed through
)
_WRITES_5M = tuple(p.replace("_1h_", "_5m_") for p in _WRITES_1H)
_REASONING = ("completion_tokens_details.reasoning_tokens",)
# Every metadata path the adapter reads besides a user's own `metadata.<key>` tenant: decoded
# at once with one type (_metadata_type) instead of one JSON parse per path and row.
_METADATA_PATHS = (
    *(f"{where}.{p}" for where in _USAGE_IN_METADATA
      for p in (*_READS, *_WRITES, *_WRITES_1H, *_WRITES_5M, *_REASONING)),
    *(k for keys in _PAYLOAD_IDS.values() for k in keys),
    "status",
)  # fmt: skip
DECODED = "_metadata_decoded"


def _metadata_type(paths: tuple[str, ...]) -> pl.Struct:
    """The nested struct type holding these dotted paths, every leaf as text."""
    tree: dict[str, dict] = {}  # type: ignore[type-arg]
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})

    def struct(node: dict) -> pl.Struct:  # type: ignore[type-arg]
        return pl.Struct({k: struct(v) if v else pl.String() for k, v in node.items()})

    return struct(tree)


METADATA_TYPE = _metadata_type(_METADATA_PATHS)


@dataclass(frozen=True)
class LiteLLMSource:
    """LiteLLM spend logs and StandardLoggingPayload files; the tenant from `tenant_from`
    (team_id, end_user, organization_id, user or metadata.<key>; default team_id)."""

    tenant_from: str | None = None
    name: str = "litellm"
    line_column: str | None = None

    def __post_init__(self) -> None:
        field = self.tenant_field
        if field not in ID_FIELDS and not _METADATA_KEY.match(field):
            raise MeterhouseError(
                f"--tenant-from {field!r}: a LiteLLM tenant comes from one of "
                f"{', '.join(ID_FIELDS)} or metadata.<key> (a key of the metadata JSON, "
                "e.g. metadata.spend_logs_metadata.customer_id); docs/sources.md."
            )

    @property
    def tenant_field(self) -> str:
        return (self.tenant_from or DEFAULT_TENANT).strip()

    def adapt(self, raw: pl.DataFrame, where: str) -> Adapted:
        return _Reader(raw, where, self.tenant_field).adapted()


class _Reader:
    """One file's columns read into the contract (a class only to share the file's schema)."""

    def __init__(self, raw: pl.DataFrame, where: str, tenant: str) -> None:
        self.raw, self.tenant = raw, tenant
        self.names = {c.strip().lower(): c for c in raw.columns}
        self.kind = (
            SPEND_LOG if "request_id" in self.names else PAYLOAD if "id" in self.names else None
        )
        self.used: set[str] = set()
        self.checks: dict[str, pl.Expr] = {}
        self.decoded = self.all_json = False
        missing = self._missing()
        if missing:
            raise missing_fields(where, "litellm", missing, looks_like(raw.columns, "litellm"))
        meta = self._col("metadata")
        self.meta = (
            json_text(meta, raw.schema[self.names["metadata"]])
            if meta is not None
            else pl.lit(None, pl.String)
        )
        hidden = self._col("hidden_params")
        self.hidden = (
            None if hidden is None else json_text(hidden, raw.schema[self.names["hidden_params"]])
        )

    def _missing(self) -> list[str]:
        key = {SPEND_LOG: "request_id", PAYLOAD: "id"}.get(self.kind or "", "request_id (or id)")
        wanted = [key, "startTime", "model", "prompt_tokens", "completion_tokens"]
        missing = [w for w in wanted if w.split(" ")[0].lower() not in self.names]
        tenant = self.tenant
        if tenant.startswith("metadata.") or (self.kind == PAYLOAD and tenant != "end_user"):
            sources = ["metadata"]
        elif self.kind == PAYLOAD:
            sources = ["end_user", "metadata"]
        else:
            sources = [tenant, "metadata"]
        if not any(s in self.names for s in sources):
            missing.append(" or ".join(sources) if len(sources) > 1 else sources[0])
        return missing

    def _col(self, name: str) -> pl.Expr | None:
        original = self.names.get(name.lower())
        if original is None:
            return None
        self.used.add(original)
        return pl.col(original)

    def _dtype(self, name: str) -> pl.DataType:
        return self.raw.schema[self.names[name.lower()]]

    # ---- values ----------------------------------------------------------------------------

    def _meta_value(self, path: str) -> pl.Expr:
        if self.decoded and path in _METADATA_PATHS:
            value = pl.col(DECODED)
            for part in path.split("."):
                value = value.struct.field(part)
            return value
        return self.meta.str.json_path_match(f"$.{path}")

    def _decode(self) -> bool:
        """Decode every metadata path the adapter reads at once, into the DECODED column;
        False (each path then parsed on its own) when a row's metadata holds another type at
        one of them (a text where an object is, say). `all_json`: no row needs its own check
        that its metadata is JSON (the decoding of every row succeeded)."""
        for only_json in (False, True):
            meta = self.meta
            if only_json:  # some metadata is not JSON: decode the rows whose metadata is
                meta = pl.when(meta.str.json_path_match("$").is_not_null()).then(meta)
            try:
                self.raw = self.raw.with_columns(meta.str.json_decode(METADATA_TYPE).alias(DECODED))
            except pl.exceptions.PolarsError:
                continue
            self.all_json = not only_json
            return True
        return False

    def _count(self, name: str) -> pl.Expr:
        """A count column of the file as Int64; a check for a value that is not one."""
        column = self._col(name)
        assert column is not None  # _missing refused the file otherwise
        reading = count_reading(column, self._dtype(name))
        if reading is None:
            raise MeterhouseError(f"{name}: type {self._dtype(name)} holds no count")
        value, flag = reading
        self.checks[f"{name}: not a whole number"] = flag
        return value

    def _usage(self, paths: tuple[str, ...]) -> pl.Expr:
        """A usage count from wherever the file keeps the usage: the largest one found, else
        null; a check per place whose value is not a whole number."""
        found: list[tuple[str, pl.Expr]] = []
        for where in _USAGE_IN_METADATA:
            found += [(f"metadata.{where}.{p}", self._meta_value(f"{where}.{p}")) for p in paths]
        if self.hidden is not None:
            hidden = self.hidden
            found += [
                (
                    f"hidden_params.usage_object.{p}",
                    hidden.str.json_path_match(f"$.usage_object.{p}"),
                )
                for p in paths
            ]
        values = []
        for label, text in found:
            reading = count_reading(text, pl.String())
            assert reading is not None  # text always holds a count
            value, flag = reading
            self.checks[f"{label}: not a whole number"] = flag
            values.append(value)
        return pl.max_horizontal(values)

    def _time(self, name: str) -> pl.Expr:
        """A time as UTC: ISO text (a Postgres dump's `2026-10-01 12:00:00.123`, an offset
        `+00` included) or a timestamp column in a dump, epoch seconds (a float) in a
        payload; a check for a value given that is no time."""
        column = self._col(name)
        if column is None:
            return pl.lit(None, pl.Datetime("us", "UTC"))
        dtype = self._dtype(name)
        if isinstance(dtype, pl.Datetime):
            naive = dtype.time_zone is None
            value = (column.dt.replace_time_zone("UTC") if naive
                     else column.dt.convert_time_zone("UTC"))  # fmt: skip
            return value.cast(pl.Datetime("us", "UTC"))
        if isinstance(dtype, pl.Date):
            return column.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        if dtype.is_numeric() or isinstance(dtype, pl.Null):
            return epoch_to_utc(column, "s")
        if dtype != pl.String:
            raise MeterhouseError(f"{name}: type {dtype} holds no time")
        text = column.str.strip_chars()
        iso = utc_from_iso_text(
            text.str.replace(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([+-]\d{2})\z", "${1}${2}:00")
        )
        epoch = pl.when(text.str.contains(r"\A\d+(\.\d+)?\z")).then(epoch_to_utc(text, "s"))
        value = pl.coalesce(iso, epoch)
        self.checks[f"{name}: not a time (ISO 8601 or epoch seconds)"] = (
            text != ""
        ) & value.is_null()
        return value

    def _id(self, field: str) -> pl.Expr:
        """A LiteLLM id (team_id, end_user, organization_id, user), blank as null: a spend
        log's column (else its metadata's key), a payload's metadata key (end_user: its own)."""
        keys = _PAYLOAD_IDS[field]
        column = self._col(field) if self.kind == SPEND_LOG or field == "end_user" else None
        parts = [] if column is None else [column.cast(pl.String)]
        parts += [self._meta_value(k) for k in keys]
        return pl.coalesce([pl.when(p.str.strip_chars() != "").then(p) for p in parts])

    def _tenant(self) -> pl.Expr:
        match = _METADATA_KEY.match(self.tenant)
        if match:
            value = self._meta_value(match.group(1))
            value = pl.when(value.str.strip_chars() != "").then(value)
        else:
            value = self._id(self.tenant)
        self.checks[f"{self.tenant}: empty (the request has none): choose another "
                    "--tenant-from (docs/sources.md)"] = value.is_null()  # fmt: skip
        return value

    # ---- the file --------------------------------------------------------------------------

    def adapted(self) -> Adapted:
        self.decoded = self.raw.height > 0 and self._decode()
        meta_text = self.meta.str.strip_chars()
        given = (meta_text != "") & (meta_text.str.to_lowercase() != "null")
        metadata_check = "metadata: not JSON (the cache and reasoning counts are read from it)"
        self.checks[metadata_check] = (
            pl.lit(False) if self.all_json else given & self.meta.str.json_path_match("$").is_null()
        )

        key = self._col("request_id" if self.kind == SPEND_LOG else "id")
        assert key is not None
        request_id = key.cast(pl.String)
        start = self._time("startTime")
        end, first = self._time("endTime"), self._time("completionStartTime")
        prompt, completion = self._count("prompt_tokens"), self._count("completion_tokens")
        read = self._usage(_READS).fill_null(0)
        five = self._usage(_WRITES_5M)
        hour = self._usage(_WRITES_1H)
        write = pl.max_horizontal(
            self._usage(_WRITES), pl.when(five.is_not_null() | hour.is_not_null())
            .then(five.fill_null(0) + hour.fill_null(0))
        ).fill_null(0)  # fmt: skip
        reasoning = self._usage(_REASONING).fill_null(0)
        # the reads-only convention: prompt = uncached + read (see the module's docstring)
        reads_only = (prompt - read - write < 0) & (prompt >= read)
        below = "prompt_tokens: below its cache reads (cache_read_input_tokens), in no LiteLLM "
        self.checks[below + "convention"] = prompt < read
        tenant = self._tenant()
        user = self._id("end_user" if self.tenant != "end_user" else "user")

        status_column = self._col("status")
        status = status_column if status_column is not None else self._meta_value("status")
        status = status.cast(pl.String)
        said = status.str.strip_chars().str.to_lowercase()
        status = pl.when(said == "success").then(pl.lit("success")).when(
            said == "failure").then(pl.lit("error")).otherwise(status)  # fmt: skip

        cost_name = "spend" if self.kind == SPEND_LOG else "response_cost"
        cost_column = self._col(cost_name)
        # LiteLLM's spend is its own float estimate and never money here: a cache hit only needs
        # it absent or zero, which its text says without reading it as a number
        spent = None if cost_column is None else cost_column.cast(pl.String).str.strip_chars()
        flag_column = self._col("cache_hit")
        flagged = (pl.lit(False) if flag_column is None else flag_column.cast(pl.String)
                   .str.strip_chars().str.to_lowercase().is_in(["true", "t", "1"]))  # fmt: skip
        is_hit = (request_id.str.contains(CACHE_HIT_ID) | flagged).fill_null(False)
        free = (
            pl.lit(True)
            if spent is None
            else spent.is_null() | spent.str.contains(r"\A[+-]?0*\.?0*([eE][+-]?\d+)?\z")
        )
        self.checks[f"{cost_name}: above 0 on a LiteLLM cache hit (no provider call, so "
                    "no usage): check the export"] = is_hit & ~free  # fmt: skip

        provider = self._col("custom_llm_provider")
        provider = None if provider is None else provider.cast(pl.String)
        model = self._col("model")
        assert model is not None
        frame = (
            self.raw.lazy()
            .select(  # lazy: a value read by several checks is computed once
                request_id.alias("request_id"),
                start.alias("event_at"),
                tenant.alias("tenant_id"),
                model.cast(pl.String).alias("model"),
                pl.when(reads_only).then(prompt + write).otherwise(prompt).alias("input_tokens"),
                completion.alias("output_tokens"),
                read.alias("cache_read_tokens"),
                write.alias("cache_write_tokens"),
                hour.fill_null(0).alias("cache_write_1h_tokens"),
                reasoning.alias("reasoning_tokens"),
                user.alias("user_id"),
                (pl.lit(None, pl.String) if provider is None else provider).alias("provider"),
                status.alias("status"),
                _ms(end - start).alias("latency_ms"),
                _ms(first - start).alias("first_token_latency_ms"),
                problem(self.checks),  # the metadata check first: the others read it
                (is_hit & free).alias("_cache_hit"),
            )
            .collect()
        )
        hits = int(frame["_cache_hit"].sum())
        frame = frame.filter(~pl.col("_cache_hit")).drop("_cache_hit")
        assert PROBLEM in frame.columns
        ignored = tuple(c for c in self.raw.columns if c not in self.used and c != DECODED)
        return Adapted(frame, {CACHE_HIT_REASON: hits} if hits else {}, ignored)


def _ms(duration: pl.Expr) -> pl.Expr:
    return duration.dt.total_microseconds().cast(pl.Float64) / 1000
