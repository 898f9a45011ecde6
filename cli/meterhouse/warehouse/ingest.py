"""Load nightly exports into the warehouse: every row loaded, counted or quarantined.

One loader for every dataset (usage events, GPU-hour telemetry: schemas/dataset.py). Every file
is checked before anything is written; then the load is one DuckDB transaction per call: either
every new file is in, with its manifest row, or nothing is. Each file (Parquet, CSV or JSON
Lines, plain or compressed: warehouse/export_files.py) is read with Polars,
mapped to the dataset's canonical row and checked against its rules; rows that break a rule go
to its quarantine table. A file is read in batches (export_files.read_batches), and the valid
rows are deduplicated on the dataset's key by the Polars core each time enough of them are
waiting (memory.flush_rows: what the memory budget holds; or at the end): against each other
(path order, then row order: the first copy wins) and against the warehouse's copies, fetched
with one scan of their keys; then inserted. A load's memory is so bounded by the batch and the
flush, not by the files (each statement reads its frame through db.with_table, so nothing piles
up in the transaction), and rows inserted by an earlier flush of the same load are the
warehouse's copies for the next one. A repeat whose
compared fields differ is a conflict: the first copy stays, the repeat is quarantined, nothing
is summed. The days that received rows are recorded in raw.changed_days in the same
transaction, for the incremental models (docs/decisions/0004). See docs/decisions/0001.

A file of another source (`--source`: a LiteLLM spend log, OpenTelemetry spans, any export
through a mapping; core/sources, docs/sources.md) goes through its adapter first, which turns
the file's columns into the contract's; from there on it is loaded like any export.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from meterhouse.core.dedup import classify_repeats, copy_columns, is_new_row
from meterhouse.core.reading import FileReading, read_file_columns
from meterhouse.core.sources import (
    PERSONAL_TENANT_FIELDS,
    PROBLEM,
    EventsSource,
    Source,
    looks_like,
)
from meterhouse.core.text import format_text
from meterhouse.errors import MeterhouseError
from meterhouse.progress import Report
from meterhouse.schemas.dataset import DTYPES, Dataset, with_load_time
from meterhouse.schemas.events import (
    CACHE_FLAG,
    CONFLICT_RULE,
    CONTENT_COLUMNS,
    EVENTS,
    SOURCE_FIELD_RULE,
)
from meterhouse.warehouse.db import rows_with_table, transaction, with_table
from meterhouse.warehouse.export_files import (
    NAMES,
    export_format,
    read_batches,
    read_schema,
    with_json_values,
)
from meterhouse.warehouse.holds import record_changed_days
from meterhouse.warehouse.memory import flush_rows


@dataclass
class FileOutcome:
    path: Path
    name: str = ""  # as shown: relative to the folder given (file_names)
    skipped: str = ""  # why nothing was loaded from it, when that is the case
    loaded_before: bool = False  # skipped as this very file was loaded before (not a copy)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    rows_served_from_cache: int = 0  # of rows_loaded: answered from a gateway's own cache
    left_out: dict[str, int] = field(default_factory=dict)  # records that are not usage, by
    # reason (not in rows_read): an agent span repeating its children's usage
    ignored_columns: list[str] = field(default_factory=list)
    content_columns: list[str] = field(default_factory=list)

    @property
    def rows_skipped(self) -> int:
        return sum(self.left_out.values())

    @property
    def skip_reasons(self) -> list[str]:
        return [f"{n:,} {why}" for why, n in self.left_out.items()]

    def note(self, reading: FileReading, skipped: dict[str, int]) -> None:
        """Add what one batch's reading ignored, dropped and left out."""
        for why, n in skipped.items():
            self.left_out[why] = self.left_out.get(why, 0) + n
        for name in reading.ignored_columns:
            if name not in self.ignored_columns:
                self.ignored_columns.append(name)
        for name in reading.content_columns:
            if name not in self.content_columns:
                self.content_columns.append(name)


@dataclass
class IngestResult:
    files: list[FileOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def total(self, what: str) -> int:
        return sum(int(getattr(f, what)) for f in self.files)


@dataclass(frozen=True)
class _Planned:
    path: Path
    size: int
    modified_ns: int
    sha256: str


def find_export_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders to the export files under them (by name: export_files.KINDS, plain or
    compressed); return all files in path order."""
    if not paths:
        raise MeterhouseError("give at least one export file or folder to load.")
    found: set[Path] = set()
    for given in paths:
        path = given.resolve()
        if path.is_dir():
            inside = [  # not hidden ones (`._x.parquet` a Mac writes, `.x.csv` an editor's)
                p for p in path.rglob("*")
                if p.is_file() and export_format(p) and not p.name.startswith(".")
            ]  # fmt: skip
            if not inside:
                raise MeterhouseError(f"{given}: no export files in this folder ({NAMES}).")
            found.update(inside)
        elif path.is_file():
            if export_format(path) is None:
                raise MeterhouseError(
                    f"{given}: not an export file by its name; the loader reads {NAMES}. "
                    "Rename it to say its format."
                )
            found.add(path)
        else:
            raise MeterhouseError(f"{given}: no such file or folder. Check the path.")
    return sorted(found, key=str)


def file_names(files: Sequence[Path], paths: Sequence[Path]) -> dict[Path, str]:
    """How each file is shown: relative to the folder given (`date=2026-09-01/part-0.parquet`),
    or to the folder holding every path given when there are several."""
    folders = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    base = Path(os.path.commonpath(folders))
    return {f: f.relative_to(base).as_posix() for f in files}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _records(
    raw: pl.DataFrame, dataset: Dataset, source: Source, where: str
) -> tuple[pl.DataFrame, FileReading, dict[str, int]]:
    """A batch of a file as records (a source's: as its adapter makes them), content
    columns dropped; how to read them (refused: missing columns, wrong types); what the
    adapter left out, by reason."""
    content = [n for n in raw.columns if n.strip().lower() in CONTENT_COLUMNS]
    raw = raw.drop(content)  # counts, not contents: never kept
    skipped: dict[str, int] = {}
    ignored: list[str] | None = None
    try:
        if not raw.width:  # an empty text export: no rows of the dataset's own columns
            records = _no_rows(dataset)
        elif isinstance(source, EventsSource):
            records = raw
        else:
            adapted = source.adapt(raw, where)
            records, skipped = adapted.frame, adapted.skipped
            ignored = list(adapted.ignored_columns)
        reading = read_file_columns(records.schema, where, dataset)
    except MeterhouseError as error:
        seems = looks_like(raw.columns, source.name) if dataset is EVENTS else None
        if seems and "looks like" not in str(error):
            raise MeterhouseError(f"{error} It looks like {seems}.") from error
        raise
    if ignored is not None:
        problems = {**reading.problems, SOURCE_FIELD_RULE: pl.col(PROBLEM).is_not_null()}
        reading = replace(reading, problems=problems, ignored_columns=ignored)
    return records, replace(reading, content_columns=content), skipped


def _plan(path: Path, dataset: Dataset, source: Source) -> _Planned:
    """Check that a file can be loaded at all, before anything is written: its columns (a
    source's: those its adapter makes of them, from no rows) must read as the contract (of a
    JSON Lines file: its first block's columns; a later block that cannot be read refuses
    the whole load, as it is one transaction)."""
    fmt = export_format(path)
    assert fmt is not None  # find_export_files keeps only export files
    schema = read_schema(path, fmt, source.line_column)
    _records(with_json_values(pl.DataFrame(schema=schema), source.json_paths), dataset, source,
             str(path))  # fmt: skip
    stat = path.stat()
    return _Planned(path, stat.st_size, stat.st_mtime_ns, _sha256(path))


def _triage(
    con: duckdb.DuckDBPyConnection,
    files: dict[Path, str],
    dataset: Dataset,
    allow_changed: bool,
    report: Report,
    source: Source,
) -> tuple[list[FileOutcome], list[tuple[_Planned, FileOutcome]]]:
    """What happens to each file, and the plans of those to load.

    A file whose path, size and modification time match the manifest is skipped unread; any
    other file is checked and hashed: known content is skipped, a known path with new content
    is refused (unless allowed). Checking is reported as the first half of the work.
    """
    rows = con.execute(
        "select source_path, size_bytes, modified_ns, content_sha256, loaded_at "
        "from raw.load_manifest"
    ).fetchall()
    unchanged = {(path, size, ns): at for path, size, ns, _, at in rows}
    by_hash = {sha: (path, at) for path, _, _, sha, at in rows}
    by_path = {path for path, *_ in rows}
    outcomes: list[FileOutcome] = []
    todo: list[tuple[_Planned, FileOutcome]] = []
    changed: list[str] = []
    known: dict[Path, datetime | None] = {}
    for path in files:
        stat = path.stat()
        known[path] = unchanged.get((str(path), stat.st_size, stat.st_mtime_ns))
    # the other files checked and hashed on every core (hashing and reading release the GIL),
    # taken in path order: the first file that cannot be loaded is the one named
    pool = ThreadPoolExecutor(os.cpu_count() or 1)
    try:
        plans = pool.map(lambda p: _plan(p, dataset, source),
                         [p for p in files if known[p] is None])  # fmt: skip
        for index, (path, name) in enumerate(files.items()):
            at = known[path]
            if at is not None:
                outcomes.append(FileOutcome(path, name, f"already loaded on {at:%Y-%m-%d %H:%M} "
                                            "UTC", loaded_before=True))  # fmt: skip
                continue
            report(f"checking {name}", index, 2 * len(files))
            plan = next(plans)
            if plan.sha256 in by_hash:
                other, at = by_hash[plan.sha256]
                again = other == str(path)
                why = f"already loaded{'' if again else f' as {other}'} on {at:%Y-%m-%d %H:%M} UTC"
                outcomes.append(FileOutcome(path, name, why, loaded_before=again))
                continue
            if str(path) in by_path and not allow_changed:
                changed.append(str(path))
            outcomes.append(FileOutcome(path, name))
            todo.append((plan, outcomes[-1]))
    finally:  # a file that cannot be loaded stops the checks of the files after it
        pool.shutdown(cancel_futures=True)
    if changed:
        raise MeterhouseError(
            "these files were loaded before and their content has changed since: "
            + ", ".join(changed)
            + ". Nothing was loaded. Write new rows to a new file, or pass --allow-changed to "
            "load the new content (rows already loaded count as duplicates or conflicts)."
        )
    return outcomes, todo


def ingest(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[Path],
    *,
    dataset: Dataset = EVENTS,
    allow_changed: bool = False,
    report: Report = lambda step, done, total: None,
    source: Source = EventsSource(),  # noqa: B008  # frozen, so one shared default is safe
) -> IngestResult:
    """Load the files of `source` into `dataset`; returns what happened to every file and row."""
    files = find_export_files(paths)
    outcomes, todo = _triage(con, file_names(files, paths), dataset, allow_changed, report,
                             source)  # fmt: skip
    result = IngestResult(outcomes, _warnings(source))
    if not todo:
        return result

    now = datetime.now(UTC).replace(tzinfo=None)
    with transaction(con):
        [(load_id, first_file_id)] = con.execute(
            "select coalesce(max(load_id), 0) + 1, coalesce(max(file_id), 0) + 1 "
            "from raw.load_manifest"
        ).fetchall()
        load = _Load(con, dataset, now)
        steps = len(files) + len(todo)  # every file checked, then the new ones read
        for index, (plan, outcome) in enumerate(todo):
            report(f"reading {outcome.name} ({index + 1} of {len(todo)})", len(files) + index,
                   steps)  # fmt: skip
            fmt = export_format(plan.path)
            assert fmt is not None
            for raw in read_batches(plan.path, fmt, source.line_column, source.json_paths):
                records, reading, skipped = _records(raw, dataset, source, str(plan.path))
                load.add(_quarantine_bad_rows(con, dataset, records, reading, outcome,
                                              first_file_id + index, now))  # fmt: skip
                outcome.note(reading, skipped)
        report("deduplicating against everything loaded", steps, steps)
        counts = load.finish()
        cached = _served_from_cache(con, dataset, first_file_id)
        for index, (plan, outcome) in enumerate(todo):
            file_id = first_file_id + index
            outcome.rows_duplicate, conflicts = counts.get(file_id, (0, 0))
            outcome.rows_quarantined += conflicts
            outcome.rows_loaded = (
                outcome.rows_read - outcome.rows_duplicate - outcome.rows_quarantined
            )
            outcome.rows_served_from_cache = cached.get(file_id, 0)
            con.execute(
                "insert into raw.load_manifest (file_id, load_id, source_path, size_bytes, "
                "modified_ns, content_sha256, rows_read, rows_loaded, rows_duplicate, "
                "rows_quarantined, ignored_columns, loaded_at, dataset, source, rows_skipped, "
                "skip_reasons, rows_served_from_cache) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    file_id, load_id, str(plan.path), plan.size, plan.modified_ns, plan.sha256,
                    outcome.rows_read, outcome.rows_loaded, outcome.rows_duplicate,
                    outcome.rows_quarantined,
                    outcome.ignored_columns
                    + [f"{c} (content, not stored)" for c in outcome.content_columns],
                    now, dataset.name, source.name, outcome.rows_skipped, outcome.skip_reasons,
                    outcome.rows_served_from_cache,
                ],
            )  # fmt: skip
        _verify(con, dataset, first_file_id, todo)
    return result


def _served_from_cache(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, first_file_id: int
) -> dict[int, int]:
    """The loaded rows of each file of this load that a gateway served from its cache."""
    if CACHE_FLAG not in dataset.column_names:
        return {}
    rows = con.execute(
        f"select file_id, count(*) from {dataset.table} where file_id >= ? and {CACHE_FLAG} "
        "group by 1",
        [first_file_id],
    ).fetchall()
    return {int(file_id): int(n) for file_id, n in rows}


def _verify(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    first_file_id: int,
    todo: list[tuple[_Planned, FileOutcome]],
) -> None:
    """Read back what this load wrote before committing it: a mismatch is a bug, not data."""
    rows = con.execute(
        f"select file_id, count(*) from {dataset.table} where file_id >= ? group by 1",
        [first_file_id],
    ).fetchall()
    written = dict(rows)
    for index, (plan, outcome) in enumerate(todo):
        if written.get(first_file_id + index, 0) != outcome.rows_loaded:
            raise RuntimeError(
                f"internal error: {plan.path} should have loaded {outcome.rows_loaded} rows but "
                f"{written.get(first_file_id + index, 0)} are in the warehouse; nothing was loaded."
            )


def _warnings(source: Source) -> list[str]:
    field = (source.tenant_field or "").strip().lower()
    # a person's id by its name, or a metadata key naming a user (metadata.user_api_key_user_id)
    if field in PERSONAL_TENANT_FIELDS or "user" in field.rsplit(".", 1)[-1]:
        return [
            f"the tenant is read from '{source.tenant_field}', which names a person: it is "
            "stored as given, not pseudonymised, and shows on invoices. Prefer a team, "
            "organisation or metadata key (docs/sources.md)."
        ]
    return []


def _no_rows(dataset: Dataset) -> pl.DataFrame:
    """What an empty text export (no header, no rows) reads as: no rows of the dataset's own
    columns, so it loads as a file of 0 rows, recorded in the manifest like any other."""
    return pl.DataFrame(schema={c.name: DTYPES[c.kind] for c in dataset.columns})


@dataclass(frozen=True)
class _Checked:
    """One file's records checked against the rules: as read (a source's: as adapted), their
    canonical reading, which are bad, and the bad ones' quarantine rows."""

    records: pl.DataFrame
    checked: pl.DataFrame
    is_bad: pl.Series
    bad: pl.DataFrame
    flags: list[str]


def _check_rows(dataset: Dataset, records: pl.DataFrame, reading: FileReading, first_row: int,
                now: datetime) -> _Checked:  # fmt: skip
    """Check each record of a batch (pure: nothing is written); `first_row` is the number of
    the batch's first record in its file."""
    detail = pl.col(PROBLEM) if PROBLEM in records.columns else pl.lit(None, pl.String)
    checked = with_load_time(  # the time rules compare with the load's own time
        records.lazy().select(
            *reading.columns,
            *(flag.alias(f"_{rule}") for rule, flag in reading.problems.items()),
            (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).alias("source_row"),
            detail.alias("_detail"),
        ),
        now,
    ).collect()
    flags = [f"_{rule}" for rule in reading.problems]
    is_bad = checked.select(
        dataset.any_rule_broken() | pl.any_horizontal(pl.lit(False), *flags)
    ).to_series()
    bad = checked.filter(is_bad).select(
        "source_row",
        *(dataset.stored(c) for c in dataset.quarantine_ids),
        pl.concat_str(
            [
                *(pl.when(f"_{rule}").then(pl.lit(rule)) for rule in reading.problems),
                pl.when(dataset.any_rule_broken()).then(dataset.broken_rules()),
            ],
            separator=", ",
            ignore_nulls=True,
        ).alias("rules_broken"),
        pl.col("_detail").alias("detail"),
    )
    return _Checked(records, checked, is_bad, bad, flags)


def _quarantine_bad_rows(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    records: pl.DataFrame,
    reading: FileReading,
    outcome: FileOutcome,
    file_id: int,
    now: datetime,
) -> pl.DataFrame:
    """Quarantine the records of one batch of a file that break a rule; return the others, as
    stored. A source's file is its adapter's records: a row is a usage record."""
    c = _check_rows(dataset, records, reading, outcome.rows_read, now)
    if c.bad.height:
        # the row as the file had it, in the columns the contract reads: a column it does not
        # know (named in the manifest) may hold anything, content too, so it is not kept
        known = [n for n in records.columns if n not in (*reading.ignored_columns, PROBLEM)]
        row_values = records.filter(c.is_bad).select(pl.struct(known).alias("row")).to_series()
        rows = c.bad.with_columns(row_values, pl.lit(file_id, pl.Int64).alias("file_id"))
        _quarantine(con, dataset, rows, now)
    outcome.rows_read += records.height
    outcome.rows_quarantined += c.bad.height
    good = dataset.schema.validate(c.checked.filter(~c.is_bad).drop(*c.flags, "_detail"))
    return good.select(
        *(dataset.stored(name) for name in dataset.column_names),
        pl.lit(file_id, pl.Int64).alias("file_id"),
        "source_row",
    ).with_columns(*dataset.derived)


@dataclass(frozen=True)
class SourceCheck:
    """`sources check` of one file: its first records as they would load, the quarantined
    ones by rule and detail, what would be left out, the columns not read."""

    name: str
    rows_read: int
    first_rows: pl.DataFrame
    quarantined: pl.DataFrame  # rules_broken, detail, rows, first_row
    skipped: dict[str, int]
    ignored_columns: list[str]
    content_columns: list[str]


def check_files(paths: Sequence[Path], source: Source, rows: int) -> list[SourceCheck]:
    """Each file as it would load through `source`, with nothing written and no warehouse
    (so a repeat of a loaded request is not seen: only the warehouse knows those)."""
    files = find_export_files(paths)
    names = file_names(files, paths)
    now = datetime.now(UTC).replace(tzinfo=None)
    checks = []
    for path in files:
        fmt = export_format(path)
        assert fmt is not None
        outcome = FileOutcome(path, names[path])
        first: list[pl.DataFrame] = []
        quarantined: list[pl.DataFrame] = []
        for raw in read_batches(path, fmt, source.line_column, source.json_paths):
            records, reading, skipped = _records(raw, EVENTS, source, str(path))
            c = _check_rows(EVENTS, records, reading, outcome.rows_read, now)
            outcome.rows_read += records.height
            outcome.note(reading, skipped)
            first.append(c.checked.filter(~c.is_bad).select(EVENTS.column_names).head(rows))
            quarantined.append(c.bad)
        bad = pl.concat(quarantined)
        by_reason = bad.group_by("rules_broken", "detail", maintain_order=True).agg(
            pl.len().alias("rows"), (pl.col("source_row").min() + 1).alias("first_row")
        )
        checks.append(SourceCheck(
            names[path], outcome.rows_read, pl.concat(first).head(rows), by_reason,
            outcome.left_out, outcome.ignored_columns, outcome.content_columns,
        ))  # fmt: skip
    return checks


def _quarantine(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, rows: pl.DataFrame, now: datetime
) -> None:
    """Store quarantined rows; `row` (a struct of the row's values) is kept as JSON."""
    with_table(
        con, rows.with_columns(quarantined_at=pl.lit(now, pl.Datetime("us"))),
        f"insert into {dataset.quarantine_table} by name select * exclude (row), "
        "to_json(row)::varchar as row_json from _frame",
    )  # fmt: skip


def _copies_in_warehouse(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, load: pl.DataFrame
) -> pl.DataFrame:
    """The warehouse's rows for the keys of this load: one scan of the loaded keys."""
    columns = ", ".join(f"e.{c}" for c in copy_columns(dataset))
    query = (
        f"select {columns} from {dataset.table} e "
        f"semi join _frame l using ({', '.join(dataset.key)})"
    )
    [(loaded,)] = con.execute(f"select count(*) from {dataset.table}").fetchall()
    if not loaded:  # a first load: nothing to look up, and the semi join would hash every key
        query += " limit 0"
    return rows_with_table(con, load.select(dataset.key), query)


class _Load:
    """The valid rows of a load on their way in: inserted flush_rows at a time (each flush
    deduplicated against what earlier flushes inserted), the changed days recorded once."""

    def __init__(self, con: duckdb.DuckDBPyConnection, dataset: Dataset, now: datetime):
        self.con, self.dataset, self.now = con, dataset, now
        self.waiting: list[pl.DataFrame] = []
        self.counts: dict[int, tuple[int, int]] = {}
        self.days: list[pl.DataFrame] = []
        self.flush_rows = flush_rows()  # valid rows waiting, at most (warehouse/memory.py)

    def add(self, rows: pl.DataFrame) -> None:
        self.waiting.append(rows)
        if sum(f.height for f in self.waiting) >= self.flush_rows:
            self._flush()

    def _flush(self) -> None:
        if not self.waiting:
            return
        # one chunk: DuckDB inserted a flush of many batches' chunks half as fast
        load = pl.concat(self.waiting, rechunk=True)
        self.waiting = []
        counts, days = _load_new_rows(self.con, self.dataset, load, self.now)
        for file_id, (duplicates, conflicts) in counts.items():
            before = self.counts.get(file_id, (0, 0))
            self.counts[file_id] = (before[0] + duplicates, before[1] + conflicts)
        self.days.append(days)

    def finish(self) -> dict[int, tuple[int, int]]:
        """Insert what is waiting, record the days the load changed (in its transaction:
        what the incremental models re-rate); file_id -> (duplicates, conflicts)."""
        self._flush()
        if self.days:
            days = pl.concat(self.days).group_by("usage_date").agg(
                pl.col("first_file_id").min(), pl.col("last_file_id").max(),
                pl.col("row_count").sum(),
            )  # fmt: skip
            record_changed_days(self.con, days, dataset=self.dataset.name, kind="load",
                                at=self.now)  # fmt: skip
        return self.counts


def _load_new_rows(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, load: pl.DataFrame, now: datetime
) -> tuple[dict[int, tuple[int, int]], pl.DataFrame]:
    """Insert the new rows of `load`, quarantine conflicts.

    Returns file_id -> (duplicates, conflicts), and the days that received rows.
    """
    earlier = _copies_in_warehouse(con, dataset, load)
    is_new = load.select(is_new_row(dataset, earlier)).to_series()
    with_table(con, load.with_columns(_is_new=is_new),  # no copy of the rows
               f"insert into {dataset.table} by name select * exclude (_is_new) "
               "from _frame where _is_new")  # fmt: skip
    days = (
        load.select(dataset.day.alias("usage_date"), "file_id")  # two columns, not the rows
        .filter(is_new)
        .group_by("usage_date")
        .agg(
            pl.col("file_id").min().alias("first_file_id"),
            pl.col("file_id").max().alias("last_file_id"),
            pl.len().cast(pl.Int64).alias("row_count"),
        )
    )
    repeats = classify_repeats(dataset, load, is_new, earlier)
    conflicts = repeats.filter(~pl.col("is_duplicate")).select(
        "file_id",
        "source_row",
        *dataset.quarantine_ids,
        pl.lit(CONFLICT_RULE).alias("rules_broken"),
        format_text(
            "differs in {} from the copy loaded from file {} row {}",
            "differs_in", "original_file_id", "original_row",
        ).alias("detail"),
        pl.struct(*dataset.column_names).alias("row"),
    )  # fmt: skip
    if conflicts.height:
        _quarantine(con, dataset, conflicts, now)
    per_file = repeats.group_by("file_id").agg(
        pl.col("is_duplicate").sum().alias("duplicates"),
        (~pl.col("is_duplicate")).sum().alias("conflicts"),
    )
    return {int(f): (int(d), int(c)) for f, d, c in per_file.iter_rows()}, days
