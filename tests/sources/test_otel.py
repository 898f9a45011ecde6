"""The `otel` source: OpenTelemetry GenAI spans in OTLP JSON Lines, plain and zstd, as the
Collector's file exporter writes them (tests/fixtures/sources/otel/README.md lists the cases).
Real CLI, real DuckDB file, real dbt build; the expected records, tokens and costs are worked out
here from the fixture files themselves (json and pyarrow, not through meterhouse) and the
shipped price snapshot, in Decimal."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from meterhouse.core.sources import PROBLEM
from meterhouse.core.sources.otel import OtelSource
from meterhouse.schemas.events import COLUMN_NAMES
from tests.conftest import query, run, snapshot
from tests.sources.costs import list_price, loaded_and_built, snapshot_prices, warehouse_costs

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sources" / "otel"
SEPTEMBER = FIXTURES / "traces-2026-09.jsonl"
OCTOBER = FIXTURES / "traces-2026-10.jsonl.zst"
AGENT = "agent or workflow spans (their usage repeats their model calls')"
TOOL = "tool or retrieval spans (not model calls)"
WRAPPER = "spans whose child spans carry the usage (counted once, at the child)"
NO_USAGE = "spans without GenAI token counts"
# contract count -> attributes, the current name first (docs/sources.md, "otel")
COUNTS = {
    "input": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "cache_read": ("gen_ai.usage.cache_read.input_tokens",),
    "cache_write": ("gen_ai.usage.cache_write.input_tokens",
                    "gen_ai.usage.cache_creation.input_tokens"),
    "reasoning": ("gen_ai.usage.reasoning.output_tokens",),
}  # fmt: skip


def _lines(path: Path) -> list[dict[str, Any]]:
    with pa.input_stream(str(path), compression="zstd" if path.suffix == ".zst" else None) as f:
        return [json.loads(line) for line in bytes(f.read()).decode().splitlines() if line]


def _hex(given: str, size: int) -> str:
    if re.fullmatch(rf"[0-9a-fA-F]{{{2 * size}}}", given):
        return given.lower()
    return binascii.hexlify(base64.b64decode(given)).decode()


def _value(v: dict[str, Any]) -> Any:
    return next(iter(v.values()))


def _spans() -> list[dict[str, Any]]:
    """Every fixture span, in file order: file, tenant, ids, attributes (key -> value)."""
    spans = []
    for path in (SEPTEMBER, OCTOBER):
        for line in _lines(path):
            for rs in line["resourceSpans"]:
                resource = {a["key"]: _value(a["value"]) for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        spans.append({
                            "file": path.name, "tenant": resource["tenant.id"],
                            "id": f"{_hex(s['traceId'], 16)}:{_hex(s['spanId'], 8)}",
                            "trace": _hex(s["traceId"], 16),
                            "parent": _hex(s["parentSpanId"], 8) if s["parentSpanId"] else None,
                            "start": int(s["startTimeUnixNano"]),
                            "attrs": {a["key"]: _value(a["value"]) for a in s["attributes"]},
                        })  # fmt: skip
    return spans


def _count(attrs: dict[str, Any], names: tuple[str, ...]) -> int | None:
    """The first attribute present; an unreadable one raises ValueError."""
    for name in names:
        if name in attrs:
            try:
                number = Decimal(str(attrs[name]))
            except InvalidOperation as exc:
                raise ValueError(name) from exc
            if number != number.to_integral_value():
                raise ValueError(name)
            return int(number)
    return None


def _expected() -> tuple[dict[str, dict[str, Any]], set[str], dict[str, dict[str, int]]]:
    """(records by request id, quarantined request ids, spans left out per file by reason)."""
    spans = _spans()
    usage = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
    has_usage = [any(k in s["attrs"] for k in usage) for s in spans]
    operation = [s["attrs"].get("gen_ai.operation.name") for s in spans]
    is_call = [
        u and op not in ("invoke_agent", "execute_tool")
        for u, op in zip(has_usage, operation, strict=True)
    ]
    parents = {(s["trace"], s["parent"]) for s, call in zip(spans, is_call, strict=True) if call}
    records: dict[str, dict[str, Any]] = {}
    quarantined: set[str] = set()
    skipped: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s, op, call in zip(spans, operation, is_call, strict=True):
        wraps = (s["trace"], s["id"].split(":")[1]) in parents
        why = (AGENT if op == "invoke_agent" else TOOL if op == "execute_tool"
               else NO_USAGE if not call else WRAPPER if wraps else None)  # fmt: skip
        if why:
            skipped[s["file"]][why] += 1
            continue
        try:
            counts = {k: _count(s["attrs"], names) or 0 for k, names in COUNTS.items()}
        except ValueError:
            quarantined.add(s["id"])
            continue
        model = s["attrs"].get("gen_ai.response.model") or s["attrs"]["gen_ai.request.model"]
        at = datetime.fromtimestamp(s["start"] // 10**9, UTC)
        records.setdefault(s["id"], {**counts, "tenant": s["tenant"], "model": model, "at": at})
    return records, quarantined, {f: dict(r) for f, r in skipped.items()}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return loaded_and_built(tmp_path_factory, "--source", "otel", "--tenant-from", "tenant.id",
                            SEPTEMBER, OCTOBER)  # fmt: skip


def test_every_tenant_month_costs_what_the_fixture_spans_say_at_list_price(loaded: Path) -> None:
    prices = snapshot_prices()
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in _expected()[0].values():
        parts = {"input": r["input"] - r["cache_read"] - r["cache_write"],
                 "cache_read": r["cache_read"], "cache_write": r["cache_write"],
                 "output": r["output"] - r["reasoning"], "reasoning": r["reasoning"]}  # fmt: skip
        for token_class, tokens in parts.items():
            price = list_price(prices, r["model"], token_class)
            expected[(r["tenant"], r["at"].strftime("%Y-%m"))] += tokens * price / 10**6
    got = warehouse_costs(loaded)
    assert set(expected) == {("acme", "2026-09"), ("acme", "2026-10"),
                             ("globex", "2026-09"), ("globex", "2026-10")}  # fmt: skip
    assert got == dict(expected)  # exact, so equal to the cent as well
    [(anthropic,)] = query(loaded, "select api_cost_usd from main.int_usage_events_priced "
                                   "where model_name = 'claude-sonnet-4-20250514'")  # fmt: skip
    # 500 uncached x 3 + 3,000 read x 0.3 + 1,500 written x 3.75 + 400 out x 15, per 1M tokens
    assert anthropic == Decimal("0.014025")


def test_every_loaded_row_has_the_span_counts_and_the_token_identity(loaded: Path) -> None:
    records = _expected()[0]
    rows = query(
        loaded,
        "select request_id, tenant_id, model_name, input_tokens, output_tokens, "
        "cache_read_tokens, cache_write_tokens, reasoning_tokens, uncached_input_tokens "
        "from main.stg_meterhouse__usage_events_stored",
    )
    assert {r[0] for r in rows} == set(records)
    for request_id, tenant, model, given, output, read, write, reasoning, uncached in rows:
        e = records[request_id]
        assert (tenant, model, given, output, read, write, reasoning) == (
            e["tenant"], e["model"], e["input"], e["output"], e["cache_read"], e["cache_write"],
            e["reasoning"],
        ), request_id  # fmt: skip
        assert given == uncached + read + write, request_id
        assert uncached >= 0, request_id
    # both names on one span: the current gen_ai.usage.input_tokens (800), not prompt_tokens
    assert records["7d1c2a4e9b3f4c8a8e2b6f1d3c5a7e90:1f2e3d4c5b6a7980"]["input"] == 800


def test_agent_tool_wrapper_and_http_spans_are_counted_not_billed(loaded: Path) -> None:
    rows = query(loaded, "select source_path, source, rows_skipped, skip_reasons "
                         "from raw.load_manifest")  # fmt: skip
    by_file = {Path(p).name: (source, n, sorted(reasons)) for p, source, n, reasons in rows}
    assert by_file == {
        SEPTEMBER.name: ("otel", 3, [f"1 {AGENT}", f"1 {NO_USAGE}", f"1 {TOOL}"]),
        OCTOBER.name: ("otel", 1, [f"1 {WRAPPER}"]),
    }
    skipped = _expected()[2]
    assert skipped == {SEPTEMBER.name: {AGENT: 1, TOOL: 1, NO_USAGE: 1},
                       OCTOBER.name: {WRAPPER: 1}}  # fmt: skip
    # the agent's 1,200 + 300 tokens repeat its chat span's: billed once
    [(tokens,)] = query(loaded, "select sum(input_tokens) from raw.usage_events "
                                "where tenant_id = 'acme' and month(event_at) = 9")  # fmt: skip
    assert tokens == 1200 + 50
    stored = {r[0].split(":")[1] for r in query(loaded, "select request_id from raw.usage_events")}
    assert not stored & {"a3ce929d0e0e4736", "b7ad6b7169203331", "1111111111111111"}


def test_base64_and_upper_case_ids_are_their_hex_twins_loaded_once(loaded: Path) -> None:
    rows = query(loaded, "select request_id, trace_id from raw.usage_events "
                         "where request_id in ('4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7',"
                         " '0af7651916cd43dd8448eb211c80319c:b9c7c989f97918e1')")  # fmt: skip
    assert sorted(rows) == [
        ("0af7651916cd43dd8448eb211c80319c:b9c7c989f97918e1", "0af7651916cd43dd8448eb211c80319c"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7", "4bf92f3577b34da6a3ce929d0e0e4736"),
    ]
    rows = query(loaded, "select source_path, rows_read, rows_loaded, rows_duplicate "
                         "from raw.load_manifest order by file_id")  # fmt: skip
    assert [(Path(p).name, *counts) for p, *counts in rows] == [
        (SEPTEMBER.name, 4, 4, 0), (OCTOBER.name, 6, 3, 2),
    ]  # fmt: skip


def test_an_unreadable_count_is_quarantined_naming_the_attribute(loaded: Path) -> None:
    rows = query(loaded, "select request_id, tenant_id, rules_broken, detail, row_json "
                         "from raw.quarantined_events")  # fmt: skip
    assert [r[:4] for r in rows] == [(
        "b1b2b3b4b5b6b7b8b9babbbcbdbebf00:4444444444444444", "globex",
        "unmappable_source_field, missing_tokens", "gen_ai.usage.output_tokens: not a whole number",
    )]  # fmt: skip
    assert {r[0] for r in rows} == _expected()[1]


def test_span_fields_become_status_latency_tier_user_and_region(loaded: Path) -> None:
    rows = query(loaded, "select split_part(request_id, ':', 2), status, latency_ms, "
                         "first_token_latency_ms, service_tier, user_id, provider, region "
                         "from raw.usage_events")  # fmt: skip
    by_span = {r[0]: r[1:] for r in rows}
    assert by_span["deadbeef00000001"] == ("error", 400.0, None, "standard", None, "openai",
                                           "eu-west-1")  # fmt: skip
    assert by_span["0102030405060708"] == ("success", 3200.0, 750.0, "standard", None,
                                           "gcp.gemini", "eu-west-1")  # fmt: skip
    assert by_span["00f067aa0ba902b7"][4:6] == ("u-17", "openai")
    assert by_span["1f2e3d4c5b6a7980"][5] == "openai"  # from the deprecated gen_ai.system


def _error_line(stderr: str) -> str:
    [line] = [line for line in stderr.splitlines() if line.startswith("error:")]
    return line


def test_a_file_of_another_source_is_refused_saying_what_it_looks_like(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    spend_log = tmp_path / "spend_logs.csv"
    spend_log.write_text("request_id,startTime,model,prompt_tokens,completion_tokens\n"
                         "chatcmpl-1,2026-10-01T10:00:00Z,gpt-4.1,10,2\n")  # fmt: skip
    result = run("ingest", "--source", "otel", spend_log, "--db", db)
    assert result.exit_code == 2
    message = _error_line(result.stderr)
    assert (
        "spend_logs.csv: not an export of the OTLP JSON (otel) source: field(s) resourceSpans "
        "missing" in message
    )
    assert "It looks like a LiteLLM spend log (load it with --source litellm)" in message

    result = run("ingest", SEPTEMBER, "--db", db)  # no --source: read as the contract
    assert result.exit_code == 2
    message = _error_line(result.stderr)
    assert "traces-2026-09.jsonl" in message
    assert "It looks like OTLP JSON (OpenTelemetry spans) (load it with --source otel)" in message
    assert snapshot(db) in ((), ([], [], []))  # nothing loaded


def _frame(lines: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.read_ndjson(
        "\n".join(json.dumps(x) for x in lines).encode(), infer_schema_length=None
    )


def test_the_output_columns_do_not_depend_on_what_the_file_holds() -> None:
    source = OtelSource()
    full = source.adapt(pl.read_ndjson(SEPTEMBER, infer_schema_length=None), "september")
    inferred = pl.read_ndjson(SEPTEMBER, infer_schema_length=None).schema
    planned = source.adapt(pl.DataFrame(schema=inferred), "plan")  # as the loader plans a file
    empty = source.adapt(_frame([{"resourceSpans": []}]), "empty")
    null = source.adapt(_frame([{"resourceSpans": None, "other": 1}]), "null")
    sparse = source.adapt(_frame([{"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "AAAAAAAAAAAAAAAAAAAAAQ", "spanId": "AAAAAAAAAAE",  # base64 without padding
        "startTimeUnixNano": 1790000000000000000,
        "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": 5}},
                       {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "1"}}]}]}]}]}]),
        "sparse")  # fmt: skip
    schemas = {str(a.frame.schema) for a in (full, planned, empty, null, sparse)}
    assert len(schemas) == 1
    assert set(full.frame.columns) <= {*COLUMN_NAMES, PROBLEM}  # no content, no span field
    assert (empty.frame.height, null.frame.height, null.ignored_columns) == (0, 0, ("other",))
    [row] = sparse.frame.to_dicts()
    assert row["request_id"] == "00000000000000000000000000000001:0000000000000001"
    assert (row["input_tokens"], row["output_tokens"]) == (5, 1)
    # no tenant, no model: named, so the quarantine says which attribute to add
    assert row[PROBLEM] == "tenant.id: absent (neither a span nor a resource attribute)"


def test_a_span_attribute_names_the_tenant_over_its_resource() -> None:
    def line(span_tenant: str | None) -> dict[str, Any]:
        attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                 {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4.1"}},
                 {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "3"}},
                 {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "1"}}]  # fmt: skip
        if span_tenant:
            attrs.append({"key": "org.id", "value": {"stringValue": span_tenant}})
        return {"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "org.id", "value": {"stringValue": "from-resource"}}]},
            "scopeSpans": [{"spans": [{"traceId": "ab" * 16, "spanId": "cd" * 8,
                                       "startTimeUnixNano": "1790000000000000000",
                                       "attributes": attrs}]}]}]}  # fmt: skip

    adapted = OtelSource("org.id").adapt(_frame([line("from-span"), line(None)]), "tenants")
    assert adapted.frame["tenant_id"].to_list() == ["from-span", "from-resource"]
    assert adapted.frame[PROBLEM].to_list() == [None, None]
    assert OtelSource().tenant_field == "tenant.id"
    bad = line("t")
    bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "not-an-id"
    [problem] = OtelSource("org.id").adapt(_frame([bad]), "ids").frame[PROBLEM].to_list()
    assert problem == "traceId: neither 32 hex digits nor base64 of 16 bytes"
