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
  cache_hit true) made no provider call: it loads with `served_from_cache` true (no vendor
  cost; billed only where the tenant's contract says bill_gateway_cache_hits). Its id is made
  stable, `<id>_cache_hit@<startTime, UTC, in microseconds>`, as the time LiteLLM appends
  differs between exports of one hit: a re-import adds nothing. A hit with spend is
  quarantined (a provider call costs; a cache hit does not).
- `spend` / `response_cost` are floats of LiteLLM's own price list: never an amount here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from meterhouse.core.reading import count_reading
from meterhouse.core.sources import (
    DECODED_PREFIX,
    PROBLEM,
    Adapted,
    decoded_column,
    epoch_to_utc,
    json_text,
    looks_like,
    missing_fields,
    problem,
)
from meterhouse.core.text import utc_from_dump_text, utc_from_iso_text
from meterhouse.errors import MeterhouseError

SPEND_LOG, PAYLOAD = "spend log", "payload"
# LiteLLM appends f"_cache_hit{time.time()}" (a float) to the id of a cache hit's spend log row
CACHE_HIT_ID = r"_cache_hit\d+(\.\d+)?\z"
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
_USAGE_PATHS = (*_READS, *_WRITES, *_WRITES_1H, *_WRITES_5M, *_REASONING)
# Every metadata path the adapter reads besides a user's own `metadata.<key>` tenant, and
# the hidden_params ones (a payload's): the reader parses each JSON column once for them all.
_METADATA_PATHS = (
    *(f"{where}.{p}" for where in _USAGE_IN_METADATA for p in _USAGE_PATHS),
    *(k for keys in _PAYLOAD_IDS.values() for k in keys),
    "status",
)  # fmt: skip
_HIDDEN_PATHS = tuple(f"usage_object.{p}" for p in _USAGE_PATHS)
# How many of each JSON column's paths (from the first) are counts, and the column a fast
# read keeps them in as integers
_JSON_COUNTS = {"metadata": len(_USAGE_IN_METADATA) * len(_USAGE_PATHS),
                "hidden_params": len(_HIDDEN_PATHS)}  # fmt: skip
_INTS = "_ints_"


def _ints(column: str, counts: int) -> pl.Expr:
    """The first `counts` values of JSON column `column` (its counts) as Int64, null where a
    value is not a plain integer (one cast of the list, not one reading per path)."""
    return pl.col(decoded_column(column)).list.head(counts).cast(pl.List(pl.Int64), strict=False)


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

    @property
    def json_paths(self) -> dict[str, tuple[str, ...]]:
        match = _METADATA_KEY.match(self.tenant_field)
        own = (match.group(1),) if match and match.group(1) not in _METADATA_PATHS else ()
        return {"metadata": (*_METADATA_PATHS, *own), "hidden_params": _HIDDEN_PATHS}

    def adapt(self, raw: pl.DataFrame, where: str) -> Adapted:
        return _Reader(raw, where, self.tenant_field, self.json_paths).adapted()


class _Reader:
    """One file's columns read into the contract (a class only to share the file's schema)."""

    def __init__(
        self, raw: pl.DataFrame, where: str, tenant: str, paths: dict[str, tuple[str, ...]]
    ) -> None:
        self.raw, self.tenant, self.paths = raw, tenant, paths
        self.names = {c.strip().lower(): c for c in raw.columns}
        self.kind = (
            SPEND_LOG if "request_id" in self.names else PAYLOAD if "id" in self.names else None
        )
        self.used: set[str] = set()
        self.checks: dict[str, pl.Expr] = {}
        self.fast = False
        self.stage: dict[str, pl.Expr] = {}
        self.otherwise: dict[str, tuple[pl.Expr, pl.Expr]] = {}
        missing = self._missing()
        if missing:
            raise missing_fields(where, "litellm", missing, looks_like(raw.columns, "litellm"))
        meta = self._col("metadata")
        self.meta = (
            json_text(meta, raw.schema[self.names["metadata"]])
            if meta is not None
            else pl.lit(None, pl.String)
        )
        self.has_hidden = "hidden_params" in self.names

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

    def _json_value(self, column: str, path: str) -> pl.Expr:
        """The text at `path` of JSON column `column` (metadata or hidden_params), as the
        reader parsed it (export_files.read_batches: core/sources.decoded_column)."""
        original = self.names.get(column)
        if original is None:
            return pl.lit(None, pl.String)
        decoded = decoded_column(original)
        assert decoded in self.raw.columns, "read through export_files with the json_paths"
        return pl.col(decoded).list.get(self.paths[column].index(path), null_on_oob=True)

    def _meta_value(self, path: str) -> pl.Expr:
        return self._json_value("metadata", path)

    def _ints_at(self, label: str) -> pl.Expr:
        """The count at `label` (metadata.<path> or hidden_params.<path>) from the column of
        plain integer counts `adapted` adds."""
        column, path = label.split(".", 1)
        return pl.col(_INTS + column).list.get(self.paths[column].index(path), null_on_oob=True)

    def _count(self, name: str) -> pl.Expr:
        """A count column of the file as Int64; a check for a value that is not one."""
        column = self._col(name)
        assert column is not None  # _missing refused the file otherwise
        reading = count_reading(column, self._dtype(name))
        if reading is None:
            raise MeterhouseError(f"{name}: type {self._dtype(name)} holds no count")
        value, flag = reading
        self.checks[f"{name}: not a whole number"] = flag
        return self._staged(f"_count_{name}", value)

    def _usage(self, paths: tuple[str, ...]) -> pl.Expr:
        """A usage count from wherever the file keeps the usage: the largest one found, else
        null; a check per place whose value is not a whole number."""
        found: list[tuple[str, pl.Expr]] = []
        for where in _USAGE_IN_METADATA:
            found += [(f"metadata.{where}.{p}", self._meta_value(f"{where}.{p}")) for p in paths]
        if self.has_hidden:
            hidden = (f"usage_object.{p}" for p in paths)
            found += [(f"hidden_params.{h}", self._json_value("hidden_params", h)) for h in hidden]
        if self.fast:  # every count of these rows is a plain integer (adapted)
            return pl.max_horizontal(self._ints_at(label) for label, _ in found)
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
        given = text != ""
        # a dump's own spelling first; any other (an offset, a T, epoch seconds) where it misses
        value = self._staged(f"_time_{name}", utc_from_dump_text(text),
                             otherwise=(given, pl.coalesce(iso, epoch)))  # fmt: skip
        self.checks[f"{name}: not a time (ISO 8601 or epoch seconds)"] = given & value.is_null()
        return value

    def _staged(
        self, name: str, value: pl.Expr, otherwise: tuple[pl.Expr, pl.Expr] | None = None
    ) -> pl.Expr:
        """`value`, computed once as column `name` before the records are (text parsed into
        a time is read by several outputs and checks: computed in each, it costs 4x).
        `otherwise` (given, slower): where `value` is null on a row `given`, in any row of
        the batch, the batch's column is `slower` instead (which reads what `value` does)."""
        self.stage[name] = value
        if otherwise is not None:
            self.otherwise[name] = otherwise
        return pl.col(name)

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
        """The file's records. The rows whose JSON counts are all plain integers (nearly
        every row of a real export) are read from one cast of each JSON column's counts; the
        others through core/reading's count_reading, path by path (a whole number as "12.0"
        or " 12 " read, anything else named), which costs several times more."""
        counts = {c: n for c, n in _JSON_COUNTS.items() if c in self.names}
        raw = self.raw.with_columns(_ints(self.names[c], n).alias(_INTS + c)
                                    for c, n in counts.items())  # fmt: skip

        def given(values: pl.Expr) -> pl.Expr:
            return values.list.eval(pl.element().is_not_null()).list.sum().fill_null(0)

        plain = pl.all_horizontal(True, *(
            given(pl.col(decoded_column(self.names[c])).list.head(n)) == given(pl.col(_INTS + c))
            for c, n in counts.items()
        ))  # fmt: skip
        rows = raw.select(plain.alias("plain")).to_series()
        if rows.all():
            frame = self._frame(raw, fast=True)
        elif not rows.any():
            frame = self._frame(raw, fast=False)
        else:
            order = "_row"
            raw = raw.with_row_index(order).with_columns(rows.alias("_plain"))
            frame = pl.concat([
                self._frame(raw.filter("_plain"), fast=True, keep=order),
                self._frame(raw.filter(~pl.col("_plain")), fast=False, keep=order),
            ]).sort(order).drop(order)  # fmt: skip
        assert PROBLEM in frame.columns
        ignored = tuple(
            c for c in self.raw.columns if c not in self.used and not c.startswith(DECODED_PREFIX)
        )
        return Adapted(frame, {}, ignored)

    def _frame(self, raw: pl.DataFrame, fast: bool, keep: str | None = None) -> pl.DataFrame:
        """These rows as records: `fast` for rows whose JSON counts are plain integers."""
        self.checks, self.fast, self.stage, self.otherwise = {}, fast, {}, {}
        metadata_check = "metadata: not JSON (the cache and reasoning counts are read from it)"
        self.checks[metadata_check] = (
            pl.col(decoded_column(self.names["metadata"])).is_null()
            & ~self.meta.str.contains(r"\A\s*(?i:null)?\s*\z")  # blank or null: none given
            if "metadata" in self.names else pl.lit(False)
        )  # fmt: skip

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

        stable = request_id.str.replace(CACHE_HIT_ID, "") + "_cache_hit@" + start.dt.strftime(
            "%Y-%m-%dT%H:%M:%S%.6fZ")  # fmt: skip
        stable_id = pl.when(is_hit).then(pl.coalesce(stable, request_id)).otherwise(request_id)

        provider = self._col("custom_llm_provider")
        provider = None if provider is None else provider.cast(pl.String)
        model = self._col("model")
        assert model is not None
        # each check a column, named; the metadata check first
        named = {f"_check_{i}": item for i, item in enumerate(self.checks.items())}
        return (
            self._with_stage(raw)
            .lazy()
            .select(  # lazy: a value read by several checks is computed once
                *([] if keep is None else [pl.col(keep)]),
                stable_id.alias("request_id"),
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
                *(check.alias(name) for name, (_, check) in named.items()),
                is_hit.alias("served_from_cache"),
            )
            # each check a column first, so the values it shares with the outputs are computed
            # once (a chain of when/then over the checks defeats common subexpressions: 3x)
            .with_columns(problem({what: pl.col(name) for name, (what, _) in named.items()}))
            .drop(list(named))
            .collect()
        )

    def _with_stage(self, raw: pl.DataFrame) -> pl.DataFrame:
        """`raw` and the staged values, each read the slower way only in a batch that needs it
        (a time not in the dump's spelling: a payload's, or a hand-edited row)."""
        staged = raw.with_columns(**self.stage)
        if not self.otherwise:
            return staged
        missed = staged.select(
            (given & pl.col(name).is_null()).any().alias(name)
            for name, (given, _) in self.otherwise.items()
        ).row(0)
        slower = {name: full for (name, (_, full)), miss in zip(self.otherwise.items(), missed,
                                                               strict=True) if miss}  # fmt: skip
        return staged.with_columns(**slower) if slower else staged


def _ms(duration: pl.Expr) -> pl.Expr:
    return duration.dt.total_microseconds().cast(pl.Float64) / 1000
