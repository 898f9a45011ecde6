"""The canonical token-usage event: the input contract, defined once.

Everything that checks an event reads it from here (as the `EVENTS` dataset, see
schemas/dataset.py): the loader evaluates `RULES` row by row to quarantine bad rows with a
reason, and `event_schema()` (Pandera on Polars) checks the same rules plus column types on the
rows that were loaded. `docs/event-contract.md` describes the same
columns and rules for people; a test keeps the two in step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl

from meterhouse.core.vocabulary import SERVICE_TIER_NAMES
from meterhouse.schemas.dataset import (
    CONTROL_CHARACTERS,
    DTYPES,
    ID_MAX_CHARS,
    LOADED_AT,
    Column,
    Dataset,
    Rule,
    future_rule,
    id_rules,
)

if TYPE_CHECKING:
    import pandera.polars as pa

__all__ = ["DTYPES", "EVENTS", "ID_MAX_CHARS", "LOADED_AT", "Column", "Rule"]

SERVICE_TIERS = SERVICE_TIER_NAMES
STATUSES = ("success", "error", "timeout", "cancelled")
# Spellings gateways use for a canonical value (OpenAI reports its standard tier as "default").
SERVICE_TIER_ALIASES = {"default": "standard"}

# A model name is one token of printable characters: gateways never put spaces in one, and a
# name with whitespace or control characters is a broken export, not a model to price.
# Anchored at the very start and end of the value (\A, \z): in the Rust regex engine Polars uses,
# `$` without the m flag also matches only at the very end (tests/unit/test_contract.py checks
# both), but \z says so to a reader used to Python, where `$` matches before a final newline.
MODEL_NAME_PATTERN = rf"\A[^\s{CONTROL_CHARACTERS}]{{1,256}}\z"
# Generous bounds that no real request reaches, so that sums of tokens cannot overflow an int64
# (docs/event-contract.md, "Sizes"): a count near 2**63 passes every other rule and would
# overflow the first sum, failing the build of every tenant.
MAX_TOKENS_PER_REQUEST = 100_000_000
# How far after its load an event may be dated (clock skew, time zones mislabelled as UTC):
# an event dated later would make "today" the future for forecasts and projections.
FUTURE_HORIZON = timedelta(days=1)
# A request a gateway answered from its own response cache (docs/decisions/0028): no vendor
# cost, billed only by contract; the manifest counts a file's loaded ones.
CACHE_FLAG = "served_from_cache"


COLUMNS: tuple[Column, ...] = (
    Column("request_id", "id", True, "Unique id of the LLM request; the idempotency key."),
    Column("event_at", "timestamp", True, "When the request was made, UTC."),
    Column("tenant_id", "id", True, "The customer the request is billed to."),
    Column("model", "string", True, "Model name as the gateway saw it."),
    Column("input_tokens", "tokens", True, "All prompt tokens, cache reads and writes included."),
    Column("output_tokens", "tokens", True, "All generated tokens, reasoning included."),
    Column("cache_read_tokens", "tokens", False, "Prompt tokens served from the prompt cache."),
    Column("cache_write_tokens", "tokens", False, "Prompt tokens written to the prompt cache."),
    Column(
        "cache_write_1h_tokens",
        "tokens",
        False,
        "Of cache_write_tokens, those written to the 1-hour cache (Anthropic); the rest are "
        "5-minute writes.",
    ),
    Column("reasoning_tokens", "tokens", False, "Output tokens spent on hidden reasoning."),
    Column("user_id", "id", False, "The tenant's end user, if the gateway knows it."),
    Column("provider", "string", False, "Who served the request (openai, bedrock, self-hosted)."),
    Column("region", "string", False, "Region that served the request."),
    Column(
        "service_tier",
        "string",
        False,
        ", ".join(SERVICE_TIER_NAMES[:-1]) + f" or {SERVICE_TIER_NAMES[-1]}.",
        default="standard",
        value_aliases=SERVICE_TIER_ALIASES,
    ),
    Column("status", "string", False, "success, error, timeout or cancelled.", default="success"),
    Column("latency_ms", "number", False, "Total request latency in milliseconds."),
    Column("first_token_latency_ms", "number", False, "Time to first token in milliseconds."),
    Column("gpu_id", "id", False, "The self-hosted GPU that served the request, if any."),
    Column("trace_id", "id", False, "Trace id linking the request to the caller's trace."),
    Column(
        CACHE_FLAG,
        "boolean",
        False,
        "Answered from the gateway's own response cache: no provider call, no vendor cost.",
    ),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
TOKEN_COLUMNS = tuple(c.name for c in COLUMNS if c.kind == "tokens")
# The fields that decide what a request costs: a repeated request_id that differs in any of them
# is a conflict, not a duplicate. A cache hit costs nothing and is billed by contract.
BILLING_FIELDS = ("tenant_id", "model", "event_at", "service_tier", *TOKEN_COLUMNS,
                  CACHE_FLAG)  # fmt: skip


def _blank(name: str) -> pl.Expr:
    return pl.col(name).is_null() | (pl.col(name).str.strip_chars() == "")


RULES: tuple[Rule, ...] = (
    Rule("missing_request_id", _blank("request_id"), "request_id is null or empty"),
    Rule("missing_event_at", pl.col("event_at").is_null(), "event_at is null"),
    future_rule("future_event_at", "event_at", FUTURE_HORIZON),
    Rule("missing_tenant_id", _blank("tenant_id"), "tenant_id is null or empty"),
    *id_rules(COLUMNS),
    Rule(
        "unparseable_model",
        ~pl.col("model").str.contains(MODEL_NAME_PATTERN).fill_null(False),
        "model is null, empty, longer than 256 characters or contains whitespace or a control "
        "character",
    ),
    Rule(
        "missing_tokens",
        pl.col("input_tokens").is_null() | pl.col("output_tokens").is_null(),
        "input_tokens or output_tokens is null",
    ),
    Rule(
        "negative_tokens",
        pl.any_horizontal(pl.col(c) < 0 for c in TOKEN_COLUMNS).fill_null(False),
        "a token count is below zero",
    ),
    Rule(
        "too_many_tokens",
        pl.any_horizontal(pl.col(c) > MAX_TOKENS_PER_REQUEST for c in TOKEN_COLUMNS).fill_null(
            False
        ),
        f"a token count is above {MAX_TOKENS_PER_REQUEST:,} (the most one request may have)",
    ),
    Rule(
        "cache_exceeds_input",
        # written so that it cannot overflow int64 (a sum of two huge counts would wrap)
        (
            pl.col("cache_read_tokens") > pl.col("input_tokens") - pl.col("cache_write_tokens")
        ).fill_null(False),
        "cache_read_tokens + cache_write_tokens is greater than input_tokens",
    ),
    Rule(
        "cache_write_1h_exceeds_cache_write",
        # a negative cache_write_tokens is negative_tokens' alone
        (
            (pl.col("cache_write_1h_tokens") > pl.col("cache_write_tokens"))
            & (pl.col("cache_write_tokens") >= 0)
        ).fill_null(False),
        "cache_write_1h_tokens is greater than cache_write_tokens",
    ),
    Rule(
        "reasoning_exceeds_output",
        (pl.col("reasoning_tokens") > pl.col("output_tokens")).fill_null(False),
        "reasoning_tokens is greater than output_tokens",
    ),
    Rule(
        "invalid_service_tier",
        ~pl.col("service_tier").is_in(SERVICE_TIERS).fill_null(False),
        f"service_tier is not one of {', '.join(SERVICE_TIERS)}",
    ),
    Rule(
        "invalid_status",
        ~pl.col("status").is_in(STATUSES).fill_null(False),
        f"status is not one of {', '.join(STATUSES)}",
    ),
)
# Rules the loader applies before a row reaches the canonical types, so Pandera cannot see them.
NON_INTEGER_RULE = "non_integer_tokens"
UNREADABLE_TIME_RULE = "unreadable_timestamp"
# A boolean column's rule is named after it (core/reading.py: boolean_rule).
CACHE_FLAG_RULE = "invalid_served_from_cache"
# A row a source's adapter (core/sources) could not map to the contract: its detail names the
# source field and what is wrong with it.
SOURCE_FIELD_RULE = "unmappable_source_field"
PARSE_RULES = {
    NON_INTEGER_RULE: "a token count is fractional, not a number, or too large for int64",
    UNREADABLE_TIME_RULE: "a time given as text is not ISO 8601 (a date, or a date and time "
    "with Z, an offset, or none for UTC)",
    CACHE_FLAG_RULE: "served_from_cache is not a boolean: true/false, t/f, 1/0 or yes/no (any "
    "case, spaces around ignored; empty means false)",
    SOURCE_FIELD_RULE: "a field of the source could not be mapped to the contract (the detail "
    "names the source field: absent, not JSON, not a number)",
}
# Columns that hold prompt or response content (as gateways name them, compared without case or
# surrounding spaces): never stored, not even in a quarantined row's JSON; the load manifest
# names them as dropped. The warehouse keeps counts, not contents.
CONTENT_COLUMNS = frozenset(
    {"messages", "response", "input", "output", "prompt", "completion", "content",
     "proxy_server_request", "request_body", "response_body"}
)  # fmt: skip
# Not a property of one row: a repeat of a loaded request_id with different billing fields.
CONFLICT_RULE = "conflicting_duplicate"


EVENTS = Dataset(
    name="usage_events",
    columns=COLUMNS,
    rules=RULES,
    key=("request_id",),
    compared=BILLING_FIELDS,
    quarantine_table="raw.quarantined_events",
    quarantine_ids=("request_id", "tenant_id"),
    derived=(pl.col("event_at").dt.date().alias("usage_date"),),
    day=pl.col("usage_date"),
    what="event",
)


def event_schema() -> pa.DataFrameSchema:
    """The Pandera schema of a loaded event: column types and every rule in RULES."""
    return EVENTS.schema
