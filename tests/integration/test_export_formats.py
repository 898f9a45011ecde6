"""Exports as they really come (issue 18, formats): the same events written as Parquet, CSV
(any delimiter, with or without a byte order mark), TSV and JSON Lines, each plain, gzip- and
zstd-compressed, load into the same warehouse rows through the one loader; text values are
read by the contract's rules row by row, and a damaged or misnamed file is refused by name."""

from __future__ import annotations

import codecs
import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from tests.conftest import event_rows, query, run

STORED = (
    "select request_id, event_at, tenant_id, model, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, reasoning_tokens, region, status "
    "from raw.usage_events order by request_id"
)


def _events() -> pl.DataFrame:
    return event_rows(
        40,
        region=["eu-west-1", None, "us-east-1", "ap-south-1"] * 10,
        status=["success", "error", "SUCCESS", "timeout"] * 10,
        event_at=[datetime(2026, 10, 1 + i % 20, i % 24, i, tzinfo=UTC) for i in range(40)],
    )


def _write_text(path: Path, text: str, compression: str | None, bom: bool = False) -> None:
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode()
    with pa.output_stream(str(path), compression=compression) as stream:
        stream.write(data)


def _write(folder: Path, kind: str, compression: str | None) -> Path:
    events = _events()
    suffix = {"gzip": ".gz", "zstd": ".zst", None: ""}[compression]
    name = {"parquet": "e.parquet", "csv": "e.csv", "csv-semicolon-bom": "e.csv",
            "tsv": "e.tsv", "jsonl": "e.jsonl"}[kind] + suffix  # fmt: skip
    path = folder / name
    if kind == "parquet":
        events.write_parquet(folder / "plain.parquet")
        data = (folder / "plain.parquet").read_bytes()
        (folder / "plain.parquet").unlink()
        with pa.output_stream(str(path), compression=compression) as stream:
            stream.write(data)
    elif kind == "jsonl":
        _write_text(path, events.write_ndjson(), compression)
    else:
        separator = {"csv": ",", "csv-semicolon-bom": ";", "tsv": "\t"}[kind]
        text = events.write_csv(separator=separator)
        _write_text(path, text, compression, bom=kind == "csv-semicolon-bom")
    return path


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    """The warehouse rows of the events loaded from plain Parquet."""
    folder = tmp_path_factory.mktemp("native")
    db = folder / "w.duckdb"
    result = run("ingest", _write(folder, "parquet", None), "--db", db)
    assert result.exit_code == 0, result.output
    return query(db, STORED)


@pytest.mark.parametrize("compression", [None, "gzip", "zstd"])
@pytest.mark.parametrize("kind", ["parquet", "csv", "csv-semicolon-bom", "tsv", "jsonl"])
def test_every_format_loads_the_same_rows(
    tmp_path: Path, native: list[tuple[Any, ...]], kind: str, compression: str | None
) -> None:
    path = _write(tmp_path, kind, compression)
    db = tmp_path / "w.duckdb"
    result = run("ingest", tmp_path, "--db", db)  # the folder: found by its suffixes
    assert result.exit_code == 0, result.output
    assert "1 new file(s)" in result.output
    assert query(db, STORED) == native
    assert query(db, "select rows_read, rows_loaded, rows_quarantined from raw.load_manifest") == [
        (40, 40, 0)
    ]
    again = run("ingest", path, "--db", db)  # idempotent: the same file adds nothing
    assert again.exit_code == 0, again.output
    assert query(db, "select count(*) from raw.usage_events") == [(40,)]


def test_text_values_are_read_row_by_row_and_bad_ones_quarantined(tmp_path: Path) -> None:
    header = "request_id;event_at;tenant_id;model;input_tokens;output_tokens;cache_read_tokens\n"
    rows = [
        "a;2026-10-01T10:00:00Z;tn_a;gpt-4.1;100;10;5",  # Z
        "b;2026-10-01 15:45:00+05:45;tn_a;gpt-4.1; 200 ;20.0;5",  # space, offset, padded, 20.0
        "c;2026-10-02;tn_a;gpt-4.1;300;30;5",  # a date alone: midnight UTC
        "d;2026-10-01T10:00:00.250;tn_a;gpt-4.1;400;40;",  # no zone: UTC; optional count empty: 0
        "e;yesterday;tn_a;gpt-4.1;100;10;5",  # not a time
        "f;2026-10-01T10:00:00Z;tn_a;gpt-4.1;12.5;10;5",  # fractional
        "g;2026-10-01T10:00:00Z;tn_a;gpt-4.1;lots;10;5",  # not a number
    ]
    path = tmp_path / "dirty.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    db = tmp_path / "w.duckdb"
    result = run("ingest", path, "--db", db)
    assert result.exit_code == 0, result.output
    assert "read 7 = loaded 4 + duplicate 0 + quarantined 3" in " ".join(result.output.split())
    loaded = query(db, "select request_id, event_at, input_tokens, output_tokens, "
                       "cache_read_tokens from raw.usage_events order by 1")  # fmt: skip
    assert loaded == [
        ("a", datetime(2026, 10, 1, 10, 0), 100, 10, 5),
        ("b", datetime(2026, 10, 1, 10, 0), 200, 20, 5),
        ("c", datetime(2026, 10, 2, 0, 0), 300, 30, 5),
        ("d", datetime(2026, 10, 1, 10, 0, 0, 250000), 400, 40, 0),
    ]
    reasons = dict(query(db, "select request_id, rules_broken from raw.quarantined_events"))
    assert reasons["e"].startswith("unreadable_timestamp")
    assert reasons["f"].startswith("non_integer_tokens")
    assert reasons["g"].startswith("non_integer_tokens")


def test_blank_and_padded_names_are_not_new_providers_or_regions(tmp_path: Path) -> None:
    """A blank provider is not reported (the catalog's provider is derived then), a padded
    region is the region: neither splits usage into a provider or region of its own."""
    events = event_rows(3, provider=["", "openai", "  "], region=[" eu-west-1 ", "", "eu-west-1"])
    events.write_parquet(tmp_path / "e.parquet")
    (tmp_path / ".e.parquet").write_bytes(b"an editor's hidden copy: not an export")
    db = tmp_path / "w.duckdb"
    result = run("ingest", tmp_path, "--db", db)
    assert result.exit_code == 0, result.output
    stored = query(db, "select provider, region from raw.usage_events order by request_id")
    assert stored == [(None, "eu-west-1"), ("openai", None), (None, "eu-west-1")]


def test_an_empty_text_export_loads_as_a_file_of_no_rows(tmp_path: Path) -> None:
    """An hour without traffic: an empty JSON Lines file and a blank CSV beside a good file.
    They load as files of 0 rows (in the manifest, so not read again), and the good file
    loads with them."""
    (tmp_path / "01.jsonl").write_bytes(b"")
    (tmp_path / "02.csv.gz").write_bytes(gzip.compress(b"\n"))
    event_rows(3).write_parquet(tmp_path / "03.parquet")
    db = tmp_path / "w.duckdb"
    result = run("ingest", tmp_path, "--db", db)
    assert result.exit_code == 0, result.output
    assert query(db, "select rows_read, rows_loaded from raw.load_manifest order by file_id") == [
        (0, 0),
        (0, 0),
        (3, 3),
    ]
    assert "already loaded" in run("ingest", tmp_path, "--db", db).output


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("cut.csv.gz", b"\x1f\x8b\x08\x00garbage", "not a readable CSV (gzip) file"),
        ("really_parquet.csv", None, "not a readable CSV file"),
        ("events.xlsx", b"PK\x03\x04", "not an export file by its name"),
        ("broken.jsonl", b'{"request_id": "a",\n', "not a readable JSON Lines file"),
    ],
)
def test_a_damaged_or_misnamed_file_is_refused_by_name(
    tmp_path: Path, name: str, content: bytes | None, says: str
) -> None:
    db = tmp_path / "w.duckdb"
    run("ingest", _write(tmp_path, "parquet", None), "--db", db)
    before = query(db, "select count(*) from raw.usage_events")
    path = tmp_path / name
    if content is None:  # Parquet bytes under a CSV name
        event_rows(3).write_parquet(tmp_path / "p.parquet")
        path.write_bytes((tmp_path / "p.parquet").read_bytes())
        (tmp_path / "p.parquet").unlink()
    else:
        path.write_bytes(content)
    result = run("ingest", path, "--db", db)
    assert result.exit_code == 2
    assert says in result.output
    assert name in result.output
    assert "Traceback" not in result.output
    assert query(db, "select count(*) from raw.usage_events") == before


def test_prompt_and_response_content_is_never_stored(tmp_path: Path) -> None:
    """A gateway's JSON Lines export with the request's messages, its response and a nested
    request body: the rows load (one breaks a rule and is quarantined), the content is in no
    table, not even the quarantined row's JSON, and the manifest names the columns."""
    secret = "the patient's diagnosis is"
    events = event_rows(3, input_tokens=[100, -5, 300]).with_columns(
        Messages=pl.lit(f'[{{"role": "user", "content": "{secret} A"}}]'),
        response=pl.lit(f"{secret} B"),
        request=pl.struct(body=pl.lit(f"{secret} C")),  # a name no list of content columns has
        gateway_cost=pl.lit(0.01),
    )
    path = tmp_path / "gateway.jsonl"
    path.write_text(events.write_ndjson())
    db = tmp_path / "w.duckdb"
    result = run("ingest", path, "--db", db)
    assert result.exit_code == 0, result.output
    manifest = "select rows_loaded, rows_quarantined, ignored_columns from raw.load_manifest"
    dropped = ["Messages (content, not stored)", "response (content, not stored)"]
    assert query(db, manifest) == [(2, 1, ["request", "gateway_cost", *dropped])]
    [(quarantined,)] = query(db, "select row_json from raw.quarantined_events")
    assert '"tenant_id"' in quarantined  # the contract's columns of the bad row are kept,
    assert "gateway_cost" not in quarantined  # a column it does not know is not
    tables = query(db, "select table_schema, table_name from information_schema.tables "
                       "where table_type = 'BASE TABLE'")  # fmt: skip
    for schema, table in tables:
        rows = query(db, f'select * from "{schema}"."{table}"')
        assert secret not in repr(rows), f"{schema}.{table} holds prompt content"
