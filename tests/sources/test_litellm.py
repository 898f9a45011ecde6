"""The `litellm` source: LiteLLM spend log dumps (CSV with a BOM, semicolon CSV, Parquet) and
StandardLoggingPayload JSON Lines (plain and gzip) as its bucket logger writes them
(tests/fixtures/sources/litellm/README.md lists the cases). Real CLI, real DuckDB file, real
dbt build; the expected tokens and costs are computed here from the fixture files themselves
(csv, json, pyarrow: not through meterhouse) and the shipped price snapshot, in Decimal."""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from meterhouse.core.sources import PROBLEM, Adapted
from meterhouse.core.sources.litellm import LiteLLMSource
from meterhouse.warehouse.export_files import with_json_values
from tests.conftest import event_rows, query, run, snapshot
from tests.sources.costs import list_price, loaded_and_built, snapshot_prices, warehouse_costs

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sources" / "litellm"
OCTOBER_CSV = FIXTURES / "spend_logs_2026-10.csv"
REEXPORT_CSV = FIXTURES / "reexport" / "spend_logs_2026-10_again.csv"
NOVEMBER_PARQUET = FIXTURES / "spend_logs_2026-11.parquet"
PAYLOADS_GZ = FIXTURES / "payloads_2026-11-13.jsonl.gz"
PAYLOADS = FIXTURES / "payloads_2026-11-20.jsonl"
FILES = (OCTOBER_CSV, NOVEMBER_PARQUET, PAYLOADS_GZ, PAYLOADS)


def _records(path: Path) -> list[dict[str, Any]]:
    """One fixture file's records, as the test reads them: id, time, tenant, model, counts,
    metadata (None when it is not JSON), cache_hit, spend, status."""
    if path.suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
    elif path.name.endswith((".jsonl", ".jsonl.gz")):
        text = (gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz"
                else path.read_text())  # fmt: skip
        rows = [json.loads(line) for line in text.splitlines()]
    else:
        text = path.read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(text.splitlines(), delimiter=";" if ";" in text[:200] else ","))
    out = []
    for r in rows:
        payload = "id" in r
        meta: Any = r["metadata"]
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except json.JSONDecodeError:
                meta = None
        start = r["startTime"]
        at = (datetime.fromtimestamp(start, UTC) if payload
              else start.replace(tzinfo=UTC) if isinstance(start, datetime)
              else datetime.fromisoformat(start).replace(tzinfo=UTC))  # fmt: skip
        team = (meta or {}).get("user_api_key_team_id") if payload else r["team_id"]
        out.append({
            "id": r["id"] if payload else r["request_id"], "at": at, "tenant": team,
            "model": r["model"], "prompt": str(r["prompt_tokens"]),
            "completion": int(r["completion_tokens"]), "meta": meta,
            "cache_hit": str(r["cache_hit"]).lower() == "true",
            "spend": float(r["response_cost"] if payload else r["spend"]),
            "status": r["status"], "end_user": r["end_user"],
        })  # fmt: skip
    return out


def _tokens(record: dict[str, Any]) -> dict[str, int] | None:
    """The contract's counts of a record by the adapter's documented rule, or None where the
    record cannot be mapped (quarantined)."""
    if record["meta"] is None or not record["prompt"].isdigit():
        return None
    usage = (
        record["meta"].get("usage_object") or record["meta"].get("additional_usage_values") or {}
    )
    details = usage.get("prompt_tokens_details") or {}
    read = usage.get("cache_read_input_tokens") or details.get("cached_tokens") or 0
    write = usage.get("cache_creation_input_tokens") or details.get("cache_creation_tokens") or 0
    creation = details.get("cache_creation_token_details") or usage.get("cache_creation") or {}
    hour = creation.get("ephemeral_1h_input_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    prompt = int(record["prompt"])
    if prompt < read:
        return None  # in no LiteLLM convention
    uncached = prompt - read - write
    if uncached < 0:  # the version whose prompt_tokens counted the reads and not the writes
        uncached = prompt - read
    return {"uncached": uncached, "input": uncached + read + write, "cache_read": read,
            "cache_write": write, "cache_write_1h": hour, "output": record["completion"],
            "reasoning": reasoning}  # fmt: skip


def _is_cache_hit(record: dict[str, Any]) -> bool:
    return bool(re.search(r"_cache_hit[0-9.]+$", record["id"]) or record["cache_hit"])


def _key(record: dict[str, Any]) -> str:
    """The documented key: a cache hit's is its id without LiteLLM's time, then its start."""
    if not _is_cache_hit(record):
        return str(record["id"])
    base = re.sub(r"_cache_hit[0-9.]+$", "", record["id"])
    return f"{base}_cache_hit@{record['at'].strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


def _expected_rows(files: tuple[Path, ...] = FILES) -> dict[str, dict[str, Any]]:
    """request_id -> record and counts, for every record that should load: no unmappable
    record, the first copy of a request (files in path order, as the loader)."""
    rows: dict[str, dict[str, Any]] = {}
    for path in sorted(files, key=str):
        for record in _records(path):
            tokens = _tokens(record)
            if tokens is None or _key(record) in rows:
                continue
            rows[_key(record)] = {**record, **tokens, "served_from_cache": _is_cache_hit(record)}
    return rows


def _expected_costs() -> dict[tuple[str, str], Decimal]:
    prices = snapshot_prices()
    costs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in _expected_rows().values():
        if r["served_from_cache"]:
            continue  # no provider call: no vendor cost
        parts = {"input": r["uncached"], "cache_read": r["cache_read"],
                 "cache_write": r["cache_write"] - r["cache_write_1h"],
                 "cache_write_1h": r["cache_write_1h"], "output": r["output"] - r["reasoning"],
                 "reasoning": r["reasoning"]}  # fmt: skip
        for token_class, tokens in parts.items():
            price = list_price(prices, r["model"], token_class)
            costs[(r["tenant"], r["at"].strftime("%Y-%m"))] += tokens * price / Decimal(10**6)
    return dict(costs)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return loaded_and_built(tmp_path_factory, "--source", "litellm", *FILES)


def test_every_tenant_month_costs_what_the_fixture_rows_say_at_list_price(loaded: Path) -> None:
    got = warehouse_costs(loaded)
    expected = _expected_costs()
    assert set(expected) == {("acme", "2026-10"), ("acme", "2026-11"),
                             ("globex", "2026-10"), ("globex", "2026-11")}  # fmt: skip
    assert got == expected  # exact, so equal to the cent as well


def test_every_loaded_row_has_the_counts_of_the_rule(loaded: Path) -> None:
    rows = query(
        loaded,
        "select request_id, input_tokens, cache_read_tokens, cache_write_tokens, "
        "cache_write_1h_tokens, output_tokens, reasoning_tokens, tenant_id "
        "from raw.usage_events",
    )
    expected = _expected_rows()
    assert {r[0] for r in rows} == set(expected)
    for request_id, given, read, write, hour, output, reasoning, tenant in rows:
        e = expected[request_id]
        assert (given, read, write, hour, output, reasoning, tenant) == (
            e["input"],
            e["cache_read"],
            e["cache_write"],
            e["cache_write_1h"],
            e["output"],
            e["reasoning"],
            e["tenant"],
        ), request_id
        assert given == e["uncached"] + read + write, request_id
    # the older LiteLLM row (prompt_tokens 6,300 = 300 uncached + 6,000 read; 2,000 written):
    # neither double counted nor lost
    assert expected["msg_L05"]["uncached"] == 300
    [(uncached,)] = query(
        loaded,
        "select uncached_input_tokens from main.stg_meterhouse__usage_events "
        "where request_id = 'msg_L05'",
    )
    assert (uncached, expected["msg_L05"]["input"]) == (300, 8300)


def test_cache_hits_load_as_served_from_cache_under_a_stable_key(loaded: Path) -> None:
    hits = {key for key, r in _expected_rows().items() if r["served_from_cache"]}
    assert len(hits) == 4  # 2 in October's dump, 1 in November's, 1 payload
    stored = query(loaded, "select request_id from raw.usage_events where served_from_cache")
    assert {r[0] for r in stored} == hits
    assert all(re.search(r"_cache_hit@\d{4}-\d\d-\d\dT[\d:.]+Z$", key) for key in hits)
    # nothing left out: every record is a usage record (rows_read counts the hits), and the
    # manifest counts each file's loaded hits
    rows = query(loaded, "select source, rows_skipped, skip_reasons from raw.load_manifest")
    assert len(rows) == len(FILES)
    assert all(source == "litellm" and not skipped and not why for source, skipped, why in rows)
    per_file = query(loaded, "select file_id, rows_served_from_cache from raw.load_manifest "
                             "where rows_served_from_cache > 0 order by 1")  # fmt: skip
    assert per_file == query(loaded, "select file_id, count(*) from raw.usage_events "
                                     "where served_from_cache group by 1 order by 1")  # fmt: skip
    assert sum(n for _, n in per_file) == len(hits)


def test_a_request_in_two_files_loads_once_as_a_duplicate(loaded: Path) -> None:
    assert query(loaded, "select count(*) from raw.usage_events "
                         "where request_id = 'chatcmpl-P01'") == [(1,)]  # fmt: skip
    rows = query(loaded, "select source_path, rows_duplicate from raw.load_manifest "
                         "where rows_duplicate > 0")  # fmt: skip
    assert [(Path(p).name, n) for p, n in rows] == [(NOVEMBER_PARQUET.name, 1)]


def test_unmappable_rows_are_quarantined_naming_the_source_field(loaded: Path) -> None:
    rows = query(loaded, "select request_id, rules_broken, detail from raw.quarantined_events "
                         "order by request_id")  # fmt: skip
    assert [(r[0], r[1].split(", ")[0], r[2].split(":")[0]) for r in rows] == [
        ("chatcmpl-L10", "unmappable_source_field", "metadata"),
        ("chatcmpl-L11", "unmappable_source_field", "prompt_tokens"),
        ("msg_P05", "unmappable_source_field", "prompt_tokens"),
    ]
    assert "not JSON" in rows[0][2]
    assert "not a whole number" in rows[1][2]


def test_a_failed_call_is_an_error_and_times_become_latencies(loaded: Path) -> None:
    rows = dict(query(loaded, "select request_id, status from raw.usage_events "
                              "where status <> 'success'"))  # fmt: skip
    assert rows == {"chatcmpl-L07": "error", "chatcmpl-J03": "error"}
    # every fixture request took 1,850 ms (2,500 in a payload), first token after 420 (750)
    latencies = set(query(loaded, "select latency_ms, first_token_latency_ms, provider is null "
                                  "from raw.usage_events"))  # fmt: skip
    assert latencies == {(1850.0, 420.0, False), (2500.0, 750.0, True)}


def test_a_reexport_whose_cache_hit_ids_changed_adds_nothing(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    first = run("ingest", "--source", "litellm", OCTOBER_CSV, "--db", db)
    assert first.exit_code == 0, first.output
    line = "loaded 9 + duplicate 0 + quarantined 2; 2 of the loaded served from a gateway cache"
    assert line in first.output
    before = query(db, "select * from raw.usage_events order by request_id")
    result = run("ingest", "--source", "litellm", REEXPORT_CSV, "--db", db)
    assert result.exit_code == 0, result.output
    assert query(db, "select * from raw.usage_events order by request_id") == before
    [again] = query(db, "select rows_read, rows_loaded, rows_duplicate, rows_skipped "
                        "from raw.load_manifest where source_path like '%_again.csv'")  # fmt: skip
    assert again == (11, 0, 9, 0)  # 2 quarantined again; the 2 cache hits are duplicates


def test_tenant_from_end_user_warns_and_metadata_keys_name_tenants(tmp_path: Path) -> None:
    db = tmp_path / "end_user.duckdb"
    result = run("ingest", "--source", "litellm", "--tenant-from", "end_user", PAYLOADS_GZ,
                 "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the tenant is read from 'end_user', which names a person" in result.stderr
    assert query(db, "select request_id, tenant_id, user_id from raw.usage_events "
                     "order by 1") == [("chatcmpl-J02", "eu-dan", "u-bot"),
                                       ("chatcmpl-J02_cache_hit@2026-11-13T09:00:00.000000Z",
                                        "eu-dan", "u-bot"),
                                       ("chatcmpl-J03", "eu-dan", "u-bot"),
                                       ("msg_J01", "eu-cat", "u-bot")]  # fmt: skip

    db = tmp_path / "customer.duckdb"
    result = run("ingest", "--source", "litellm", "--tenant-from",
                 "metadata.spend_logs_metadata.customer", PAYLOADS_GZ, "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "names a person" not in result.stderr
    assert query(db, "select distinct tenant_id, user_id from raw.usage_events order by 1") == [
        ("cust-acme", "eu-cat"),
        ("cust-globex", "eu-dan"),
    ]


def _error_line(stderr: str) -> str:
    """The one error line a refused command prints (besides its progress lines)."""
    [line] = [line for line in stderr.splitlines() if line.startswith("error:")]
    return line


def test_a_file_of_another_source_is_refused_saying_what_it_looks_like(
    tmp_path: Path, write: Any
) -> None:
    db = tmp_path / "warehouse.duckdb"
    native = write("events.parquet", event_rows(2))
    result = run("ingest", "--source", "litellm", native, "--db", db)
    assert result.exit_code == 2
    message = _error_line(result.stderr)
    assert "events.parquet: not an export of the litellm source" in message
    assert "looks like an export in the event contract (load it with --source events)" in message
    assert "field(s) startTime, prompt_tokens, completion_tokens" in message

    result = run("ingest", OCTOBER_CSV, "--db", db)  # no --source: read as the contract
    assert result.exit_code == 2
    message = _error_line(result.stderr)
    assert "spend_logs_2026-10.csv" in message
    assert "It looks like a LiteLLM spend log (load it with --source litellm)" in message
    assert snapshot(db) in ((), ([], [], []))  # nothing loaded: no event, quarantine, manifest


def _adapt(raw: pl.DataFrame, where: str) -> Adapted:
    """A frame through the litellm adapter as the loader reads a file: its JSON parsed first."""
    source = LiteLLMSource()
    return source.adapt(with_json_values(raw, source.json_paths), where)


def test_times_as_dumps_and_payloads_write_them_are_read_as_utc() -> None:
    raw = pl.DataFrame({
        "request_id": ["a", "b", "c", "d", "e"],
        "startTime": ["2026-10-01 12:00:00.5+00", "2026-10-01T14:00:00.5+02:00",
                      "1790856000.5", "yesterday", " 2026-10-01 12:00:00.500"],
        "endTime": ["2026-10-01 12:00:01.5", None, None, None, "2026-10-01 12:00:02"],
        "model": ["gpt-4.1"] * 5, "prompt_tokens": ["1"] * 5, "completion_tokens": ["1"] * 5,
        "team_id": ["t"] * 5, "metadata": ["{}"] * 5,
    })  # fmt: skip
    frame = _adapt(raw, "dump.csv").frame
    noon = datetime(2026, 10, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    assert frame["event_at"].to_list() == [noon, noon, noon, None, noon]
    assert frame["latency_ms"].to_list() == [1000.0, None, None, None, 1500.0]
    unreadable = "startTime: not a time (ISO 8601 or epoch seconds)"
    assert frame[PROBLEM].to_list() == [None, None, None, unreadable, None]
    # a batch all in a dump's spelling (read by the one strict parse) reads the same times
    dump = _adapt(raw.filter(pl.col("request_id") == "e"), "dump.csv").frame
    assert dump["event_at"].to_list() == [noon]
    assert dump[PROBLEM].to_list() == [None]


def test_a_cache_hit_with_spend_is_quarantined_not_dropped() -> None:
    raw = pl.DataFrame({
        "id": ["x", "y"], "startTime": [1790856000.0, 1790856000.0], "model": ["gpt-4.1"] * 2,
        "prompt_tokens": [10, 10], "completion_tokens": [1, 1], "cache_hit": [True, True],
        "response_cost": [0.0, 0.25],
        "metadata": [{"user_api_key_team_id": "t"}, {"user_api_key_team_id": "t"}],
    })  # fmt: skip
    adapted = _adapt(raw, "payloads.jsonl")
    assert adapted.skipped == {}
    at = "_cache_hit@2026-10-01T12:00:00.000000Z"
    assert adapted.frame["request_id"].to_list() == ["x" + at, "y" + at]
    assert adapted.frame["served_from_cache"].to_list() == [True, True]
    [free, spent] = adapted.frame[PROBLEM].to_list()
    assert free is None
    assert spent.startswith("response_cost: above 0 on a LiteLLM cache hit")


def test_an_unknown_tenant_field_is_refused_naming_the_choices(tmp_path: Path) -> None:
    result = run("ingest", "--source", "litellm", "--tenant-from", "team", PAYLOADS,
                 "--db", tmp_path / "w.duckdb")  # fmt: skip
    assert result.exit_code == 2
    message = _error_line(result.stderr)
    assert "--tenant-from 'team'" in message
    assert "team_id, end_user, organization_id, user or metadata.<key>" in message


@pytest.mark.parametrize(
    "odd_metadata",
    [
        '{"usage_object": "not an object"}',
        "not JSON at all",
        '{"user_api_key_team_id": {"a": 1}}',
        '{"usage_object": {"cache_read_input_tokens": 2.5}}',
        '{"usage_object": {"prompt_tokens_details": {"cached_tokens": " 3 "}}}',
    ],
)
def test_one_odd_metadata_reads_the_other_rows_as_a_clean_file_does(odd_metadata: str) -> None:
    clean = pl.read_csv(OCTOBER_CSV, infer_schema=False)
    odd = clean.vstack(clean.head(1).with_columns(
        request_id=pl.lit("odd-1"), metadata=pl.lit(odd_metadata)
    ))  # fmt: skip
    expected = _adapt(clean, "clean.csv").frame
    got = _adapt(odd, "odd.csv").frame  # the odd row read path by path, the others at once
    assert got.head(expected.height).equals(expected)
    assert got.height == expected.height + 1


def test_counts_that_are_not_plain_integers_are_read_as_the_contract_reads_a_count() -> None:
    """Rows whose JSON counts are all plain integers are read at once; the others one path at
    a time, with the one reading of a count: a whole number in another spelling is that
    number, anything else is quarantined naming the path."""
    usage = ['{"usage_object": {"cache_read_input_tokens": 4}}',
             '{"usage_object": {"cache_read_input_tokens": "4.0"}}',
             '{"usage_object": {"prompt_tokens_details": {"cached_tokens": " 4 "}}}',
             '{"usage_object": {"cache_read_input_tokens": 4.5}}',
             '{"usage_object": {"cache_read_input_tokens": "four"}}']  # fmt: skip
    raw = pl.DataFrame({
        "request_id": [f"r{i}" for i in range(len(usage))],
        "startTime": ["2026-10-01 12:00:00"] * len(usage), "model": ["gpt-4.1"] * len(usage),
        "prompt_tokens": ["10"] * len(usage), "completion_tokens": ["1"] * len(usage),
        "team_id": ["t"] * len(usage), "metadata": usage,
    })  # fmt: skip
    frame = _adapt(raw, "dump.csv").frame
    assert frame["request_id"].to_list() == raw["request_id"].to_list()  # order kept
    assert frame["cache_read_tokens"].to_list()[:3] == [4, 4, 4]
    assert (
        frame[PROBLEM].to_list()
        == [None, None, None]
        + ["metadata.usage_object.cache_read_input_tokens: not a whole number"] * 2
    )
