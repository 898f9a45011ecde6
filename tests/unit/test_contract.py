"""The contract as code and as documentation say the same thing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from meterhouse.core.reading import read_file_columns
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.dataset import DTYPES, with_load_time
from meterhouse.schemas.events import (
    COLUMNS,
    CONFLICT_RULE,
    MAX_TOKENS_PER_REQUEST,
    MODEL_NAME_PATTERN,
    PARSE_RULES,
    REQUIRED,
    RULES,
    event_schema,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "event-contract.md").read_text()


def test_every_column_and_rule_is_documented() -> None:
    names = [c.name for c in COLUMNS] + [r.name for r in RULES] + [*PARSE_RULES, CONFLICT_RULE]
    missing = [n for n in names if f"`{n}`" not in DOC]
    assert missing == []


def test_required_columns_are_documented_as_required() -> None:
    for name in REQUIRED:
        row = next(line for line in DOC.splitlines() if line.startswith(f"| `{name}` |"))
        assert "| yes |" in row


def test_missing_required_column_names_every_missing_one() -> None:
    schema = pl.Schema({"request_id": pl.String, "event_at": pl.Datetime("us")})
    with pytest.raises(MeterhouseError) as info:
        read_file_columns(schema, "f.parquet")
    message = str(info.value)
    for name in ("tenant_id", "model", "input_tokens", "output_tokens"):
        assert name in message
    assert message.startswith("f.parquet")


def test_columns_differing_only_in_case_are_refused() -> None:
    schema = pl.Schema({"model": pl.String, "Model": pl.String})
    with pytest.raises(MeterhouseError, match="differ only in case"):
        read_file_columns(schema, "f.parquet")


def test_dollar_matches_only_at_the_very_end_in_polars_regex() -> None:
    """Polars' Rust regex engine: `$` (no m flag) does not match before a final newline, unlike
    Python's re; the model pattern is anchored with \\A...\\z all the same."""
    values = pl.Series(["abc", "abc\n"])
    assert values.str.contains(r"^abc$").to_list() == [True, False]
    assert values.str.contains(r"\Aabc\z").to_list() == [True, False]
    assert values.str.contains(r"(?m)^abc$").to_list() == [True, True]
    assert MODEL_NAME_PATTERN.startswith(r"\A")
    assert MODEL_NAME_PATTERN.endswith(r"\z")


@pytest.mark.parametrize(
    ("model", "valid"),
    [
        ("gpt-4.1", True),
        ("bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", True),
        ("m" * 256, True),
        ("m" * 257, False),
        ("gpt-4.1\n", False),
        ("gpt-4.1\x7f", False),
        ("gpt\u202e-4.1", False),
        ("gpt\u2028", False),
        ("gpt 4.1", False),
        ("", False),
    ],
)
def test_model_names(model: str, valid: bool) -> None:
    assert pl.Series([model]).str.contains(MODEL_NAME_PATTERN).to_list() == [valid]


def _broken(frame: pl.DataFrame, at: datetime) -> list[str]:
    rules = {r.name: r for r in RULES}
    checked = with_load_time(frame.lazy(), at).collect()
    return [name for name in rules if checked.select(rules[name].broken).item()]


@pytest.mark.parametrize(
    ("value", "broken"),
    [
        ("tn_a", False),
        ("tn/../a [x] 'q' \"d\" %s ü 中文 a b", False),  # odd but valid: outputs make it safe
        ("t" * 256, False),
        ("t" * 257, True),
        ("tn_a\n", True),
        ("\x1b[31mtn_a", True),
        ("tn_\u202ea", True),
        ("tn_\u2066a", True),
        ("tn\x85a", True),
        ("tn\x00a", True),
    ],
)
def test_id_rule(value: str, broken: bool) -> None:
    at = datetime(2026, 10, 2, tzinfo=UTC)
    row = _one_event(tenant_id=value)
    assert ("invalid_tenant_id" in _broken(row, at)) is broken


def _one_event(**values: object) -> pl.DataFrame:
    base: dict[str, object] = {
        "request_id": "r1", "event_at": datetime(2026, 10, 1, tzinfo=UTC), "tenant_id": "tn_a",
        "model": "gpt-4.1", "input_tokens": 10, "output_tokens": 1, "cache_read_tokens": 0,
        "cache_write_tokens": 0, "cache_write_1h_tokens": 0, "reasoning_tokens": 0,
        "user_id": None, "provider": None, "region": None, "service_tier": "standard",
        "status": "success", "latency_ms": None, "first_token_latency_ms": None, "gpu_id": None,
        "trace_id": None, "served_from_cache": False,
    }  # fmt: skip
    base.update(values)
    return pl.DataFrame([base], schema={c.name: DTYPES[c.kind] for c in COLUMNS})


def test_token_bound_and_future_horizon_are_inclusive_limits() -> None:
    at = datetime(2026, 10, 1, tzinfo=UTC)
    assert _broken(_one_event(input_tokens=MAX_TOKENS_PER_REQUEST), at) == []
    assert _broken(_one_event(input_tokens=MAX_TOKENS_PER_REQUEST + 1), at) == ["too_many_tokens"]
    day = timedelta(days=1)
    assert _broken(_one_event(event_at=at + day), at) == []
    assert _broken(_one_event(event_at=at + day + timedelta(microseconds=1)), at) == [
        "future_event_at"
    ]


def test_one_hour_cache_writes_are_a_part_of_the_cache_writes() -> None:
    """cache_write_1h_tokens counts within cache_write_tokens: all of them may be 1-hour writes,
    never more, and they are not a second amount added to the input."""
    at = datetime(2026, 10, 1, tzinfo=UTC)
    writes = {"input_tokens": 100, "cache_write_tokens": 40}
    assert _broken(_one_event(**writes, cache_write_1h_tokens=40), at) == []
    assert _broken(_one_event(**writes, cache_write_1h_tokens=41), at) == [
        "cache_write_1h_exceeds_cache_write"
    ]
    # 1-hour writes with no cache writes at all: the source put them in the wrong column
    assert _broken(_one_event(cache_write_1h_tokens=5), at) == [
        "cache_write_1h_exceeds_cache_write"
    ]
    with pytest.raises(Exception, match="cache_write_1h_exceeds_cache_write"):
        event_schema().validate(_one_event(**writes, cache_write_1h_tokens=41))


def test_pandera_schema_checks_the_time_rule_without_a_load_time() -> None:
    """Rows read back carry no load time: they are checked against the time of the check."""
    event_schema().validate(_one_event())
    with pytest.raises(Exception, match="future_event_at"):
        event_schema().validate(_one_event(event_at=datetime.now(UTC) + timedelta(days=2)))
