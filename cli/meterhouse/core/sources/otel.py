"""The `otel` source: OpenTelemetry GenAI spans in OTLP JSON, as the Collector's file exporter
writes them (JSON Lines, one TracesData per line: resourceSpans -> scopeSpans -> spans).

One usage record per model-call span (gen_ai.operation.name chat, text_completion,
generate_content or embeddings, or another name with token counts); agent, workflow, tool and
retrieval spans, spans whose child spans carry the usage, and spans without token counts are
left out and counted. The rules, attribute by attribute, are in docs/sources.md ("otel").

read_ndjson infers a different nested schema for every file (an attribute value's struct has
the keys the file happened to use; intValue is text or a number; a line may lack any field).
So `resourceSpans` is re-encoded as JSON and decoded with one fixed type (`RESOURCE_SPANS`,
every leaf scalar as text): the output never depends on what was inferred, a field the file
lacks is null, and a count written as a number or a string reads the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from meterhouse.core.reading import count_reading
from meterhouse.core.sources import Adapted, epoch_to_utc, looks_like, missing_fields, problem

S = pl.String
# An attribute's AnyValue with its scalars as text; arrayValue, kvlistValue and bytesValue are
# not declared, so they are never decoded (nothing this source reads is one).
ATTRIBUTES = pl.List(pl.Struct({"key": S, "value": pl.Struct(
    {"stringValue": S, "intValue": S, "doubleValue": S, "boolValue": S}
)}))  # fmt: skip
SPAN = pl.Struct({
    "traceId": S, "spanId": S, "parentSpanId": S, "startTimeUnixNano": S,
    "endTimeUnixNano": S, "attributes": ATTRIBUTES, "status": pl.Struct({"code": S}),
})  # fmt: skip
RESOURCE_SPANS = pl.List(pl.Struct({
    "resource": pl.Struct({"attributes": ATTRIBUTES}),
    "scopeSpans": pl.List(pl.Struct({"spans": pl.List(SPAN)})),
}))  # fmt: skip
FIELD = "resourceSpans"
SCALARS = ("stringValue", "intValue", "doubleValue", "boolValue")

# No semantic convention names a tenant (semconv's user.id and enduser.id name people); a
# `tenant.id` resource or span attribute is the common choice, in the registry's style.
DEFAULT_TENANT = "tenant.id"
BILLED_OPERATIONS = ("chat", "text_completion", "generate_content", "embeddings")
AGENT_OPERATIONS = ("invoke_agent", "create_agent", "invoke_workflow", "plan")
TOOL_OPERATIONS = ("execute_tool", "retrieval")

# contract column -> span attributes, the current name first: the first one present wins
TOKENS = {
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "cache_read_tokens": ("gen_ai.usage.cache_read.input_tokens",),
    "cache_write_tokens": (
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
    ),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens",),
}
USAGE = (*TOKENS["input_tokens"], *TOKENS["output_tokens"])
MODEL = ("gen_ai.response.model", "gen_ai.request.model")
PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
SERVICE_TIER = (
    "openai.response.service_tier", "gen_ai.openai.response.service_tier",
    "openai.request.service_tier", "gen_ai.openai.request.service_tier",
)  # fmt: skip
OPERATION = "gen_ai.operation.name"
FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"  # seconds
USER = ("user.id", "enduser.id")
REGION = "cloud.region"

SKIP_AGENT = "agent or workflow spans (their usage repeats their model calls')"
SKIP_TOOL = "tool or retrieval spans (not model calls)"
SKIP_PARENT = "spans whose child spans carry the usage (counted once, at the child)"
SKIP_NO_USAGE = "spans without GenAI token counts"


@dataclass(frozen=True)
class OtelSource:
    """OpenTelemetry GenAI spans (OTLP JSON Lines); the tenant from a span or resource
    attribute (`--tenant-from`, default `tenant.id`)."""

    tenant_from: str | None = None
    name: str = "otel"
    line_column: str | None = FIELD  # each TracesData line decoded with one fixed type

    @property
    def tenant_field(self) -> str:
        return self.tenant_from or DEFAULT_TENANT

    @property
    def json_paths(self) -> dict[str, tuple[str, ...]]:
        return {}

    def adapt(self, raw: pl.DataFrame, where: str) -> Adapted:
        if FIELD not in raw.columns:
            seems = looks_like(raw.columns, "otel")
            raise missing_fields(where, "OTLP JSON (otel)", [FIELD], seems)
        spans = _spans(raw, self.tenant_field)
        frame, skipped = _records(spans, self.tenant_field)
        return Adapted(frame, skipped, tuple(c for c in raw.columns if c != FIELD))


def _decoded(raw: pl.DataFrame) -> pl.Expr:
    """resourceSpans in the fixed type, whatever read_ndjson inferred. A text column may hold
    the JSON of resourceSpans or of the whole line (a loader reading raw lines)."""
    if raw.schema[FIELD] == pl.String:
        text = pl.col(FIELD).str.strip_chars()
        wrapped = (
            pl.when(text.str.starts_with("{"))
            .then(text)
            .otherwise(pl.concat_str(pl.lit('{"resourceSpans":'), text, pl.lit("}")))
        )
    else:
        wrapped = pl.struct(FIELD).struct.json_encode()  # {"resourceSpans": ...}
    return wrapped.str.json_decode(pl.Struct({FIELD: RESOURCE_SPANS})).struct.field(FIELD)


def _resource_keys(tenant: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((tenant, *USER, REGION)))


def _span_keys(tenant: str) -> tuple[str, ...]:
    every = (OPERATION, *MODEL, *PROVIDER, *SERVICE_TIER, FIRST_CHUNK,
             *(a for names in TOKENS.values() for a in names), *_resource_keys(tenant))  # fmt: skip
    return tuple(dict.fromkeys(every))


def _attribute_table(frame: pl.DataFrame, index: str, keys: tuple[str, ...]) -> pl.DataFrame:
    """A text column per key: its value (the first, for a key given twice), for each `index`
    that has one of the keys. `frame` has `index` and `attributes`."""
    value = pl.col("attributes").struct.field("value")
    long = (
        frame.lazy()
        .select(index, "attributes")
        .explode("attributes")
        .select(
            index,
            pl.col("attributes").struct.field("key").alias("_key"),
            pl.coalesce(value.struct.field(f) for f in SCALARS).alias("_value"),
        )
        .filter(pl.col("_key").is_in(keys))
        .group_by(index)
        .agg(pl.col("_value").filter(pl.col("_key") == k).first().alias(k) for k in keys)
    )
    return long.collect()


def _spans(raw: pl.DataFrame, tenant: str) -> pl.DataFrame:
    """One row per span: its own fields and a text column per attribute read, prefixed
    `span:` for the span's attributes and `resource:` for its resource's."""
    resources = (
        raw.select(_decoded(raw))
        .explode(FIELD)
        .select(pl.col(FIELD).struct.field("resource", "scopeSpans"))
        .with_columns(pl.int_range(pl.len()).alias("_resource"))
    )
    resource_attributes = _attribute_table(
        resources.select("_resource", pl.col("resource").struct.field("attributes")),
        "_resource",
        _resource_keys(tenant),
    )
    spans = (
        resources.select("_resource", "scopeSpans")
        .explode("scopeSpans")
        .select("_resource", pl.col("scopeSpans").struct.field("spans"))
        .explode("spans")
        .filter(pl.col("spans").is_not_null())
        .select("_resource", pl.col("spans").struct.unnest())
        .with_columns(pl.int_range(pl.len()).alias("_span"))
    )
    span_attributes = _attribute_table(spans, "_span", _span_keys(tenant))
    return (
        spans.drop("attributes")
        .join(
            span_attributes.rename(lambda k: k if k == "_span" else f"span:{k}"),
            on="_span",
            how="left",
            maintain_order="left",
        )
        .join(
            resource_attributes.rename(lambda k: k if k == "_resource" else f"resource:{k}"),
            on="_resource",
            how="left",
            maintain_order="left",
        )
    )


def _first(names: tuple[str, ...], prefix: str = "span:") -> pl.Expr:
    return pl.coalesce(pl.col(f"{prefix}{n}") for n in names)


def _span_or_resource(name: str) -> pl.Expr:
    """A span attribute, else its resource's: the span is the more specific of the two."""
    return pl.coalesce(pl.col(f"span:{name}"), pl.col(f"resource:{name}"))


def _hex_id(column: str, size: int) -> tuple[pl.Expr, pl.Expr]:
    """An id as lowercase hex, from hex (OTLP JSON) or base64 (a misbehaving exporter), and a
    flag for an id given that is neither (or all zeros, which OTLP calls invalid)."""
    text = pl.col(column).str.strip_chars()
    is_hex = text.str.contains(rf"\A[0-9a-fA-F]{{{2 * size}}}\z")
    padded = pl.concat_str(
        text.str.replace_all("-", "+", literal=True).str.replace_all("_", "/", literal=True),
        pl.lit("==").str.slice(0, (4 - text.str.len_bytes() % 4) % 4),
    )
    decoded = padded.str.decode("base64", strict=False)
    from_base64 = pl.when(
        text.str.contains(r"\A[A-Za-z0-9+/_-]+={0,2}\z") & (decoded.bin.size() == size)
    ).then(decoded.bin.encode("hex"))
    value = pl.when(is_hex).then(text.str.to_lowercase()).otherwise(from_base64)
    value = pl.when(value != "0" * (2 * size)).then(value)
    return value, text.is_not_null() & (text != "") & value.is_null()


def _blank(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().fill_null("") == ""


def _records(spans: pl.DataFrame, tenant: str) -> tuple[pl.DataFrame, dict[str, int]]:
    """The usage records of the spans, and the spans left out by reason."""
    trace, bad_trace = _hex_id("traceId", 16)
    span, bad_span = _hex_id("spanId", 8)
    parent, _ = _hex_id("parentSpanId", 8)
    operation = pl.col(f"span:{OPERATION}").str.strip_chars().str.to_lowercase()
    has_usage = pl.any_horizontal(pl.col(f"span:{a}").is_not_null() for a in USAGE)
    kind = (
        pl.when(operation.is_in(AGENT_OPERATIONS)).then(pl.lit(SKIP_AGENT))
        .when(operation.is_in(TOOL_OPERATIONS)).then(pl.lit(SKIP_TOOL))
        .when(~has_usage).then(pl.lit(SKIP_NO_USAGE))
    )  # fmt: skip
    spans = spans.with_columns(trace.alias("_trace"), span.alias("_spanhex"),
                               parent.alias("_parent"), kind.alias("_skip"))  # fmt: skip
    # a span with a usage-bearing child (a framework's wrapper around the client's own span)
    # repeats that child's usage
    parents = (
        spans.filter(pl.col("_skip").is_null() & pl.col("_parent").is_not_null())
        .select(pl.col("_trace"), pl.col("_parent").alias("_spanhex"), pl.lit(True).alias("_has"))
        .unique()
    )
    spans = spans.join(parents, on=["_trace", "_spanhex"], how="left", maintain_order="left")
    spans = spans.with_columns(
        pl.when(pl.col("_skip").is_null() & pl.col("_has").fill_null(False))
        .then(pl.lit(SKIP_PARENT))
        .otherwise("_skip")
        .alias("_skip")
    )
    counts = spans.group_by("_skip").len().drop_nulls("_skip")
    skipped = {str(why): int(n) for why, n in counts.sort("_skip").iter_rows()}
    kept = spans.filter(pl.col("_skip").is_null())

    checks: dict[str, pl.Expr] = {
        "traceId: absent": _blank("traceId"),
        "traceId: neither 32 hex digits nor base64 of 16 bytes": bad_trace,
        "spanId: absent": _blank("spanId"),
        "spanId: neither 16 hex digits nor base64 of 8 bytes": bad_span,
    }
    start = pl.col("startTimeUnixNano").str.strip_chars().cast(pl.Int64, strict=False)
    end = pl.col("endTimeUnixNano").str.strip_chars().cast(pl.Int64, strict=False)
    checks["startTimeUnixNano: absent or not a time in ns since the epoch"] = start.is_null() | (
        start <= 0
    )
    checks[f"{tenant}: absent (neither a span nor a resource attribute)"] = (
        _span_or_resource(tenant).str.strip_chars().fill_null("") == ""
    )
    checks["gen_ai.request.model: absent (and no gen_ai.response.model)"] = _first(MODEL).is_null()
    tokens: dict[str, pl.Expr] = {}
    for column, names in TOKENS.items():
        for place, name in enumerate(names):
            reading = count_reading(pl.col(f"span:{name}"), pl.String())
            assert reading is not None  # text always reads as a count
            # the attribute read is the first one present (the current name over a deprecated
            # one, even where they differ or the current one is unreadable)
            earlier = [pl.col(f"span:{n}").is_null() for n in names[:place]]
            checks[f"{name}: not a whole number"] = pl.all_horizontal(reading[1], *earlier)
        value = count_reading(_first(names), pl.String())
        assert value is not None
        tokens[column] = value[0]
    checks["gen_ai.usage.input_tokens: less than its cache reads and writes (the convention "
           "counts them in it; this instrumentation does not)"] = (
        tokens["input_tokens"]
        < tokens["cache_read_tokens"].fill_null(0) + tokens["cache_write_tokens"].fill_null(0)
    )  # fmt: skip
    status = pl.col("status").struct.field("code").str.strip_chars().str.to_uppercase()
    tier = _first(SERVICE_TIER)
    first_chunk = pl.col(f"span:{FIRST_CHUNK}").cast(pl.Float64, strict=False)
    frame = kept.select(
        pl.coalesce(
            pl.concat_str(pl.col("_trace"), pl.lit(":"), pl.col("_spanhex")),
            pl.concat_str(pl.col("traceId"), pl.lit(":"), pl.col("spanId")),
        ).alias("request_id"),
        epoch_to_utc(pl.when(start > 0).then(start), "ns").alias("event_at"),
        _span_or_resource(tenant).alias("tenant_id"),
        _first(MODEL).alias("model"),
        *(value.alias(column) for column, value in tokens.items()),
        _span_or_resource(USER[0]).fill_null(_span_or_resource(USER[1])).alias("user_id"),
        _first(PROVIDER).alias("provider"),
        _span_or_resource(REGION).alias("region"),
        # a request tier of "auto" is no tier billed: the response says which one served it
        pl.when(tier.str.to_lowercase() != "auto").then(tier).alias("service_tier"),
        pl.when(status.is_in(["2", "STATUS_CODE_ERROR"])).then(pl.lit("error"))
        .otherwise(pl.lit("success")).alias("status"),
        pl.when(end >= start).then((end - start) / 1_000_000).alias("latency_ms"),
        (first_chunk * 1000).alias("first_token_latency_ms"),
        pl.col("_trace").alias("trace_id"),
        problem(checks),
    )  # fmt: skip
    return frame, skipped
