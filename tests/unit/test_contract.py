"""The contract as code and as documentation say the same thing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from meterhouse.core.reading import read_file_columns
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.events import COLUMNS, CONFLICT_RULE, PARSE_RULES, REQUIRED, RULES

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
