"""Export files as they really come: Parquet, CSV and JSON Lines, each plain or compressed with
gzip or zstd, told apart by the name's suffixes (`.csv.gz`, `.jsonl.zst`, ...).

Reading gives Polars frames of the file's own columns and nothing else: the loader reads any of
them the same way (core/reading.py turns columns into the contract, text included). A CSV has
a header; its delimiter is sniffed (`,` `;` tab or `|`); it is UTF-8, with or without a byte
order mark, and every value is read as text. A JSON Lines file has one object per line. An
empty (or blank) CSV or JSON Lines file has no columns and no rows.

A file is read in batches (`read_batches`), so a load's memory does not grow with the file: a
plain Parquet file by row batches, a JSON Lines file by blocks of whole lines (a JSON line
holds no raw newline). A CSV file, whose quoted values may hold newlines, and a compressed
Parquet file are read whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from meterhouse.core.sources import decoded_column
from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.db import as_arrow
from meterhouse.warehouse.memory import duckdb_settings

KINDS = {".parquet": "Parquet", ".csv": "CSV", ".tsv": "CSV", ".jsonl": "JSON Lines",
         ".ndjson": "JSON Lines"}  # fmt: skip
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
DELIMITERS = ",;\t|"
SNIFF_BYTES = 1 << 16
BATCH_ROWS = 1 << 19  # rows of a Parquet or plain CSV batch
CSV_BATCH_BYTES = 1 << 28  # at most about this much text in a plain CSV batch
BLOCK_BYTES = 1 << 26  # bytes of JSON Lines read at once (whole lines: a few more or less)
NAMES = "Parquet, CSV or JSON Lines (.parquet, .csv, .tsv, .jsonl, .ndjson), plain or .gz/.zst"


@dataclass(frozen=True)
class ExportFormat:
    kind: str  # a value of KINDS
    compression: str | None  # a value of COMPRESSIONS

    def __str__(self) -> str:
        return self.kind + (f" ({self.compression})" if self.compression else "")


def export_format(path: Path) -> ExportFormat | None:
    """The format a file's name says, or None for a file that is no export."""
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    kind = KINDS.get(suffixes[-1]) if suffixes else None
    return ExportFormat(kind, compression) if kind else None


def read_schema(path: Path, fmt: ExportFormat, lines_as: str | None = None) -> pl.Schema:
    """The file's columns and types: a plain Parquet file's from its footer, the others' from
    their first batch (an empty text file has none). With `lines_as`, a JSON Lines file's
    are the keys of its first line, as text."""
    if lines_as is not None and fmt.kind == "JSON Lines":
        return _first_line_keys(path, fmt)
    if fmt.kind == "Parquet" and fmt.compression is None:
        try:
            return _polars_schema(pq.read_schema(path))
        except Exception as exc:  # pyarrow raises several types for a bad footer
            raise _unreadable(path, fmt, exc) from exc
    if fmt.kind == "CSV":  # every value is text: the header says it all
        try:
            return _csv_header(path, fmt)
        except Exception as exc:
            raise _unreadable(path, fmt, exc) from exc
    return next(read_batches(path, fmt)).schema


def _csv_header(path: Path, fmt: ExportFormat) -> pl.Schema:
    """A CSV file's columns, all text, from its first lines (none when it is blank)."""
    return _csv_columns(_csv_start(path, fmt))


def _csv_start(path: Path, fmt: ExportFormat) -> bytes:
    """A CSV file's first lines (at least its header), checked to be text."""
    with pa.input_stream(str(path), compression=fmt.compression) as stream:
        data = b""
        while (block := bytes(stream.read(SNIFF_BYTES))) and b"\n" not in data.lstrip():
            data += block
    data = _without_bom(data)
    codecs.getincrementaldecoder("utf-8")().decode(data, final=False)  # text, not binary
    return data


def _csv_columns(start: bytes) -> pl.Schema:
    """The columns named by the header in `start` (none when it is blank)."""
    if not start or start.isspace():
        return pl.Schema()
    return pl.read_csv(start, separator=_delimiter(start), infer_schema=False, n_rows=0).schema


def read_batches(
    path: Path,
    fmt: ExportFormat,
    lines_as: str | None = None,
    json_paths: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[pl.DataFrame]:
    """The file as frames of its own columns, in order, at least one (refused in one line
    if unreadable). JSON Lines blocks may differ in columns and types: each is inferred,
    unless `lines_as` names the one text column each line is read into, whole (for a source
    that decodes its lines with a fixed type: inferring deeply nested OTLP costs far more).
    `json_paths` (a source's, core/sources): each named JSON column's values at those paths
    are added (with_json_values); a plain Parquet file is then read by DuckDB, which parses
    the JSON in the same pass (several times faster than Polars' JSON functions)."""
    plain_parquet = fmt.kind == "Parquet" and fmt.compression is None
    wanted = _json_columns(read_schema(path, fmt), json_paths or {}) if plain_parquet else {}
    if wanted:
        yield from _parquet_with_json_values(path, fmt, wanted)
        return
    if not json_paths:
        yield from _batches(path, fmt, lines_as)
        return
    con = _reader()  # one for the file: opening one costs as much as parsing 20k rows
    try:
        for frame in _batches(path, fmt, lines_as):
            yield with_json_values(frame, json_paths, con)
    finally:
        con.close()


def with_json_values(
    frame: pl.DataFrame,
    json_paths: Mapping[str, Sequence[str]],
    con: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """`frame` and, for each of its columns named in `json_paths` (any case), its values at
    those paths (core/sources.decoded_column): each row's JSON parsed once, by DuckDB (`con`,
    a `_reader`; else one of its own)."""
    wanted = _json_columns(frame.schema, json_paths)
    if not wanted:
        return frame
    selected = frame.select(list(wanted))
    _columns = as_arrow(selected)  # read by name in the query below
    reader = con or _reader()
    try:
        values = reader.sql(
            f"select {_json_values_sql(wanted, dict(selected.schema))} from _columns"
        ).to_arrow_table()
    finally:
        if con is None:
            reader.close()
    return frame.hstack(_from_arrow(values).get_columns())


def _json_columns(
    schema: Mapping[str, object], json_paths: Mapping[str, Sequence[str]]
) -> dict[str, Sequence[str]]:
    lower = {k.lower(): v for k, v in json_paths.items()}
    return {c: lower[c.strip().lower()] for c in schema if c.strip().lower() in lower}


def _json_values_sql(wanted: Mapping[str, Sequence[str]], types: Mapping[str, object]) -> str:
    """DuckDB select items: each JSON column's values at its paths, a list of text, null for a
    value that is not JSON (try); a column that is not text (a struct) is encoded first."""
    items = []
    for column, paths in wanted.items():
        name = _quoted(column)
        text = name if types[column] == pl.String else f"to_json({name})"
        json_paths = ", ".join(
            "'$" + "".join(f'."{part}"' for part in p.split(".")).replace("'", "''") + "'"
            for p in paths
        )
        items.append(f"try(json_extract_string({text}, [{json_paths}]))::varchar[] "
                     f"as {_quoted(decoded_column(column))}")  # fmt: skip
    return ", ".join(items)


def _reader() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that hands its results to Polars in Polars' own Arrow layout
    (string views, 64-bit list offsets): converting DuckDB's default layout cost as much as
    reading the file and parsing its JSON."""
    return duckdb.connect(config={**duckdb_settings(), "produce_arrow_string_view": True,
                                  "arrow_large_buffer_size": True})  # fmt: skip


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parquet_with_json_values(
    path: Path, fmt: ExportFormat, wanted: Mapping[str, Sequence[str]]
) -> Iterator[pl.DataFrame]:
    schema = read_schema(path, fmt)
    con = _reader()
    try:
        con.execute("set TimeZone = 'UTC'")  # a tz-aware timestamp comes out as UTC
        reader = con.sql(
            f"select *, {_json_values_sql(wanted, dict(schema))} from read_parquet(?)",
            params=[str(path)],
        ).to_arrow_reader(BATCH_ROWS)
        yielded = False
        for batch in reader:
            yielded = True
            yield _from_arrow(pa.Table.from_batches([batch]))
        if not yielded:
            yield with_json_values(pl.DataFrame(schema=schema), wanted)
    except duckdb.Error as exc:
        raise _unreadable(path, fmt, exc) from exc
    finally:
        con.close()


def _batches(path: Path, fmt: ExportFormat, lines_as: str | None) -> Iterator[pl.DataFrame]:
    try:
        if fmt.kind == "Parquet" and fmt.compression is None:
            parquet = pq.ParquetFile(path)
            yielded = False
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                yielded = True
                yield _from_arrow(pa.Table.from_batches([batch]))
            if not yielded:
                yield _from_arrow(parquet.schema_arrow.empty_table())
        elif fmt.kind == "Parquet":
            yield _from_arrow(pq.read_table(io.BytesIO(_bytes(path, fmt))))
        elif fmt.kind == "CSV" and fmt.compression is None:  # read in place, not copied first
            start = _csv_start(path, fmt)
            columns = _csv_columns(start)
            if not columns:  # an empty export (an hour without traffic)
                yield pl.DataFrame()
            else:  # Polars skips a byte order mark itself
                yield from _csv_batches(path, start, columns)
        elif fmt.kind == "CSV":
            data = _without_bom(_bytes(path, fmt))
            if not data or data.isspace():
                yield pl.DataFrame()
            else:
                yield pl.read_csv(data, separator=_delimiter(data), infer_schema=False)
        else:
            yield from _json_lines(path, fmt, lines_as)
    except MeterhouseError:
        raise
    except Exception as exc:
        raise _unreadable(path, fmt, exc) from exc


def _csv_batches(path: Path, start: bytes, columns: pl.Schema) -> Iterator[pl.DataFrame]:
    """A plain CSV file streamed in batches of text columns: read whole, a 1.8 GB spend-log
    dump (1.2 KB of JSON a row) took twice as long, half of it in the kernel."""
    batches = pl.scan_csv(path, separator=_delimiter(start), infer_schema=False).collect_batches(
        chunk_size=_csv_batch_rows(start), lazy=True)  # fmt: skip
    yielded = False
    for batch in batches:
        yielded = True
        yield batch
    if not yielded:  # a header and no rows
        yield pl.DataFrame(schema=columns)


def _csv_batch_rows(start: bytes) -> int:
    """Rows of a CSV batch: BATCH_ROWS, fewer where the first lines in `start` say a row is long
    (a spend-log dump's 1.8 KB: 2 GiB less memory at the peak and no slower; a first row
    longer than `start` itself: the fewest)."""
    lines = max(1, start.count(b"\n"))
    return max(1 << 12, min(BATCH_ROWS, CSV_BATCH_BYTES * lines // max(1, len(start))))


def _json_lines(path: Path, fmt: ExportFormat, lines_as: str | None) -> Iterator[pl.DataFrame]:
    yielded = False
    rest = b""
    with pa.input_stream(str(path), compression=fmt.compression) as stream:
        first = True
        while True:
            block = bytes(stream.read(BLOCK_BYTES))
            data = rest + block
            if first:
                data, first = _without_bom(data), False
            cut = data.rfind(b"\n") + 1 if block else len(data)
            lines, rest = data[:cut], data[cut:]
            if lines.strip():
                yielded = True
                yield (
                    pl.read_ndjson(lines, infer_schema_length=None)
                    if lines_as is None
                    else _text_lines(lines, lines_as)
                )
            if not block:
                break
    if not yielded:
        yield pl.DataFrame()


def _text_lines(data: bytes, column: str) -> pl.DataFrame:
    """Each non-blank line as text (a raw 0x1F, the separator, cannot be in valid JSON)."""
    lines = pl.read_csv(data, has_header=False, separator="\x1f", quote_char=None,
                        schema={column: pl.String})  # fmt: skip
    return lines.filter(pl.col(column).str.strip_chars() != "")


def _first_line_keys(path: Path, fmt: ExportFormat) -> pl.Schema:
    """The top-level keys of a JSON Lines file's first non-blank line (none: no columns)."""
    try:
        with pa.input_stream(str(path), compression=fmt.compression) as stream:
            data = b""
            while not data.strip() or b"\n" not in data.lstrip():
                block = bytes(stream.read(SNIFF_BYTES))
                if not block:
                    break
                data += block
        line = _without_bom(data).lstrip().split(b"\n", 1)[0]
        keys = json.loads(line) if line.strip() else {}
    except Exception as exc:
        raise _unreadable(path, fmt, exc) from exc
    if not isinstance(keys, dict):
        raise _unreadable(path, fmt, ValueError("a line is not a JSON object"))
    return pl.Schema({str(k): pl.String() for k in keys})


def _without_bom(data: bytes) -> bytes:
    return data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data


def _from_arrow(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table.cast(pa.schema([readable_type(f) for f in table.schema])))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _bytes(path: Path, fmt: ExportFormat) -> bytes:
    with pa.input_stream(str(path), compression=fmt.compression) as stream:
        return bytes(stream.read())


def _delimiter(data: bytes) -> str:
    """The CSV delimiter: what the first lines sniff to, else the one the header has most."""
    head = data[:SNIFF_BYTES].decode("utf-8", errors="ignore")
    lines = head.splitlines()[:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        return max(DELIMITERS, key=header.count)


def _unreadable(path: Path, fmt: ExportFormat, exc: Exception) -> MeterhouseError:
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return MeterhouseError(
        f"{path}: not a readable {fmt} file ({detail}). It may be truncated, damaged or in "
        "another format than its name says; re-export it, or move it out of the folder being "
        "loaded. Nothing was loaded."
    )


def readable_type(field: pa.Field) -> pa.Field:
    """Arrow types Polars or DuckDB cannot take, as ones they can, with the same values.

    A tz-aware timestamp is stored as a UTC instant, so relabelling it UTC changes no value
    and spares Polars offset zones like '+05:45' it cannot parse; float16 becomes float32.
    """
    if pa.types.is_timestamp(field.type) and field.type.tz is not None:
        return field.with_type(pa.timestamp(field.type.unit, "UTC"))
    if pa.types.is_float16(field.type):
        return field.with_type(pa.float32())
    return field


def _polars_schema(schema: pa.Schema) -> pl.Schema:
    readable = pa.schema([readable_type(f) for f in schema])
    frame = pl.from_arrow(readable.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.schema
