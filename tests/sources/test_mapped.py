"""The `mapped` source: a Langfuse observations export through docs/mappings/langfuse.toml,
and mapping files as users write them (tests/fixtures/sources/langfuse/README.md lists the
cases). Real CLI, real DuckDB file, real dbt build; the expected costs are computed here from
the fixture files themselves and the shipped price snapshot, in Decimal."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from meterhouse.core.sources.mapped import MappedSource, parse_mapping
from meterhouse.errors import MeterhouseError
from tests.conftest import query, run
from tests.sources.costs import list_price, loaded_and_built, snapshot_prices, warehouse_costs

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sources" / "langfuse"
MAPPING = ROOT / "docs" / "mappings" / "langfuse.toml"
CENT = Decimal("0.01")
# a token class and the usage_details keys it sums (Langfuse's keys are disjoint)
CLASSES = {
    "input": ("input",),
    "cache_read": ("input_cached_tokens", "input_cache_read"),
    "cache_write": ("input_cache_creation",),
    "cache_write_1h": ("input_cache_creation_1h",),
    "output": ("output",),
    "reasoning": ("output_reasoning_tokens",),
}


def _observations() -> list[dict[str, Any]]:
    """Every generation of the fixtures whose usage is readable, first copy of an id first."""
    rows: list[dict[str, Any]] = []
    with (FIXTURES / "observations.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            rows.append({**row, "usage_details": _json(row["usage_details"]),
                         "metadata": json.loads(row["metadata"])})  # fmt: skip
    for line in (FIXTURES / "observations.jsonl").read_text(encoding="utf-8").splitlines():
        rows.append(json.loads(line))
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["type"] == "GENERATION" and row["usage_details"] is not None:
            seen.setdefault(row["id"], row)
    return list(seen.values())


def _json(text: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(text))
    except ValueError:
        return None


def _expected_costs() -> dict[tuple[str, str], Decimal]:
    prices = snapshot_prices()
    costs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in _observations():
        at = datetime.fromisoformat(row["start_time"].replace("Z", "+00:00")).astimezone(UTC)
        model, usage = row["provided_model_name"], row["usage_details"]
        for token_class, keys in CLASSES.items():
            tokens = sum(int(usage.get(k) or 0) for k in keys)
            costs[(row["metadata"]["tenant_id"], f"{at:%Y-%m}")] += (
                tokens * list_price(prices, model, token_class) / Decimal(1_000_000)
            )
    return dict(costs)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return loaded_and_built(tmp_path_factory, "--source", "mapped", "--mapping", MAPPING, FIXTURES)


def test_every_tenant_month_costs_what_the_export_says_to_the_cent(loaded: Path) -> None:
    got = {key: cost.quantize(CENT) for key, cost in warehouse_costs(loaded).items()}
    expected = {key: cost.quantize(CENT) for key, cost in _expected_costs().items()}
    assert got == expected
    assert len(expected) == 4  # two tenants, two months: the fixtures' own spread


def test_every_loaded_row_keeps_the_token_identity(loaded: Path) -> None:
    rows = query(
        loaded,
        "select request_id, input_tokens - cache_read_tokens - cache_write_tokens, "
        "output_tokens - reasoning_tokens, cache_write_1h_tokens from raw.usage_events",
    )
    source = {row["id"]: row["usage_details"] for row in _observations()}
    assert {r[0] for r in rows} == set(source)
    for request_id, uncached, other_output, one_hour in rows:
        usage = source[request_id]
        assert uncached == usage["input"], request_id  # input = uncached + read + write
        assert other_output == usage["output"], request_id
        assert one_hour == int(usage.get("input_cache_creation_1h") or 0), request_id


def test_every_record_is_accounted_for_and_no_content_is_stored(loaded: Path) -> None:
    files = query(
        loaded,
        "select regexp_extract(source_path, '[^/]+$'), source, rows_read, rows_loaded, "
        "rows_duplicate, rows_quarantined, rows_skipped, ignored_columns from raw.load_manifest "
        "order by 1",
    )
    csv_file, jsonl_file = files
    assert csv_file[:7] == ("observations.csv", "mapped", 5, 4, 0, 1, 2)  # a span, an event
    assert jsonl_file[:7] == ("observations.jsonl", "mapped", 3, 2, 1, 0, 1)  # gen-002 again
    assert "input (content, not stored)" in csv_file[7]
    [(request_id, rules, detail, row_json)] = query(
        loaded, "select request_id, rules_broken, detail, row_json from raw.quarantined_events"
    )
    assert (request_id, detail) == ("gen-005", "usage_details: not JSON")
    assert rules.startswith("unmappable_source_field")
    stored = "\n".join(str(r) for r in query(loaded, "select * from raw.quarantined_events"))
    assert "refund" not in stored.lower()
    assert "plan my week" not in row_json


def test_loading_the_export_again_adds_nothing(loaded: Path, tmp_path: Path) -> None:
    db = tmp_path / "again.duckdb"
    for _ in range(2):
        result = run("ingest", "--source", "mapped", "--mapping", MAPPING, FIXTURES, "--db", db)
        assert result.exit_code == 0, result.output
    assert query(db, "select count(*) from raw.usage_events") == [(6,)]
    assert "0 new file(s), 2 already loaded" in result.output


def test_sources_check_shows_the_rows_and_writes_nothing(tmp_path: Path) -> None:
    result = run("sources", "check", "--mapping", MAPPING, FIXTURES / "observations.csv")
    assert result.exit_code == 1, result.output  # a row would be quarantined
    assert "24,040 (20,000 / 4,000 / 1,000)" in result.output  # gen-003 as the contract has it
    assert "usage_details: not JSON" in result.output
    assert "left out 2 record(s)" in result.output
    assert not list(tmp_path.iterdir())
    assert not (Path.cwd() / "meterhouse.duckdb").exists()


def _mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


REQUIRED_COLUMNS = """
[columns]
request_id = "rid"
event_at = { column = "at", time = "ms" }
tenant_id = "team"
model = "m"
input_tokens = "in"
output_tokens = "out"
"""


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (REQUIRED_COLUMNS.replace('model = "m"\n', ""), "model: required"),
        (REQUIRED_COLUMNS + 'colour = "c"\n', "colour: not a column of the event contract"),
        (REQUIRED_COLUMNS.replace('"ms"', '"fortnights"'), "columns.event_at.time"),
        (REQUIRED_COLUMNS + "[mapping]\ninput = 'sometimes'\n", "mapping.input"),
        ("[columns\n", "not a readable mapping file"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    data = tmp_path / "x.csv"
    data.write_text("rid,at,team,m,in,out\nr1,1790000000000,t,gpt-4.1,1,1\n", encoding="utf-8")
    result = run("ingest", "--source", "mapped", "--mapping", _mapping(tmp_path, text), data,
                 "--db", tmp_path / "w.duckdb")  # fmt: skip
    assert result.exit_code == 2
    assert named in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "w.duckdb").exists()  # refused before the warehouse is opened


def test_times_in_epoch_units_and_local_zones_are_read_as_utc() -> None:
    mapping = parse_mapping(
        REQUIRED_COLUMNS.replace('event_at = { column = "at", time = "ms" }',
                                 'event_at = { column = "at", time = "iso", zone = '
                                 '"Europe/Paris" }'), "m.toml",
    )  # fmt: skip
    raw = pl.DataFrame({
        "rid": ["a", "b", "c", "d"], "team": ["t"] * 4, "m": ["gpt-4.1"] * 4,
        "in": ["1"] * 4, "out": ["1"] * 4,
        # a summer and a winter wall time in Paris, one with its own offset, one unreadable
        "at": ["2026-07-01 12:00:00", "2026-12-01T12:00", "2026-07-01T12:00:00Z", "noon"],
    })  # fmt: skip
    frame = MappedSource(mapping).adapt(raw, "x.csv").frame
    assert frame["event_at"].to_list() == [
        datetime(2026, 7, 1, 10, tzinfo=UTC),  # CEST, UTC+2
        None,  # ISO text without seconds is not read (as in any export): quarantined
        datetime(2026, 7, 1, 12, tzinfo=UTC),  # its own offset wins over the zone
        None,
    ]
    problems = frame["_source_problem"].to_list()
    assert problems[1] == problems[3] == "at: not an ISO 8601 time"
    winter = raw.with_columns(at=pl.Series(["2026-12-01 12:00:00"] * 4))
    assert MappedSource(mapping).adapt(winter, "x.csv").frame["event_at"][0] == datetime(
        2026, 12, 1, 11, tzinfo=UTC
    )  # CET, UTC+1
    epoch = parse_mapping(REQUIRED_COLUMNS, "m.toml")
    raw = raw.with_columns(at=pl.Series(["1790000000123", "1790000000123.0", "", "x"]))
    frame = MappedSource(epoch).adapt(raw, "x.csv").frame
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=1_790_000_000_123)
    assert frame["event_at"].to_list()[:3] == [at, at, None]
    assert frame["_source_problem"].to_list()[3] == "at: not an epoch number (ms)"


def test_a_file_without_the_mapped_columns_is_refused_saying_what_it_looks_like(
    tmp_path: Path,
) -> None:
    mapping = parse_mapping(REQUIRED_COLUMNS, "m.toml")
    spend_log = pl.DataFrame({"request_id": ["x"], "startTime": ["2026-09-01T00:00:00Z"],
                              "prompt_tokens": [1], "completion_tokens": [1]})  # fmt: skip
    with pytest.raises(MeterhouseError) as info:
        MappedSource(mapping).adapt(spend_log, "spend.csv")
    message = str(info.value)
    assert "spend.csv" in message
    assert "rid" in message
    assert "LiteLLM spend log (load it with --source litellm)" in message
