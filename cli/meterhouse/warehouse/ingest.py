"""Load nightly exports into the warehouse: every row loaded, counted or quarantined.

One loader for every dataset (usage events, GPU-hour telemetry: schemas/dataset.py). Every file
is checked before anything is written; then the load is one DuckDB transaction per call: either
every new file is in, with its manifest row, or nothing is. Each file (Parquet, CSV or JSON
Lines, plain or compressed: warehouse/export_files.py) is read with Polars,
mapped to the dataset's canonical row and checked against its rules; rows that break a rule go
to its quarantine table. The valid rows of all files are then deduplicated on the dataset's key
by the Polars core, against each other (path order, then row order: the first copy wins) and
against the warehouse's copies, fetched with one scan of the loaded keys. A repeat whose
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
from meterhouse.schemas.events import CONFLICT_RULE, CONTENT_COLUMNS, EVENTS, SOURCE_FIELD_RULE
from meterhouse.warehouse.db import frame, transaction
from meterhouse.warehouse.export_files import NAMES, export_format, read_export, read_schema
from meterhouse.warehouse.holds import record_changed_days


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
    rows_skipped: int = 0  # records of the source that are not usage (not in rows_read)
    skip_reasons: list[str] = field(default_factory=list)  # "3 agent spans ..."


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
    reading: FileReading


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


def _plan(path: Path, dataset: Dataset, source: Source) -> _Planned:
    """Check that a file can be loaded at all, before anything is written: its columns (a
    source's: those its adapter makes of them, from no rows) must read as the contract."""
    fmt = export_format(path)
    assert fmt is not None  # find_export_files keeps only export files
    schema = read_schema(path, fmt)
    content = [n for n in schema.names() if n.strip().lower() in CONTENT_COLUMNS]
    try:
        if not schema:  # an empty text export
            reading = read_file_columns(_no_rows(dataset).schema, str(path), dataset)
        elif isinstance(source, EventsSource):
            reading = read_file_columns(schema, str(path), dataset)  # refuses missing, wrong type
        else:
            adapted = source.adapt(pl.DataFrame(schema=schema).drop(content), str(path))
            reading = read_file_columns(adapted.frame.schema, str(path), dataset)
            reading = replace(
                reading,
                problems={**reading.problems, SOURCE_FIELD_RULE: pl.col(PROBLEM).is_not_null()},
                ignored_columns=[c for c in adapted.ignored_columns if c not in content],
                content_columns=content,
            )
    except MeterhouseError as error:
        seems = looks_like(schema.names(), source.name) if dataset is EVENTS else None
        if seems and "looks like" not in str(error):
            raise MeterhouseError(f"{error} It looks like {seems}.") from error
        raise
    stat = path.stat()
    return _Planned(path, stat.st_size, stat.st_mtime_ns, _sha256(path), reading)


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
    for index, (path, name) in enumerate(files.items()):
        stat = path.stat()
        at = unchanged.get((str(path), stat.st_size, stat.st_mtime_ns))
        if at is not None:
            outcomes.append(FileOutcome(path, name, f"already loaded on {at:%Y-%m-%d %H:%M} UTC",
                                        loaded_before=True))  # fmt: skip
            continue
        report(f"checking {name}", index, 2 * len(files))
        plan = _plan(path, dataset, source)
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
        valid = []
        steps = len(files) + len(todo)  # every file checked, then the new ones read
        for index, (plan, outcome) in enumerate(todo):
            report(f"reading {outcome.name} ({index + 1} of {len(todo)})", len(files) + index,
                   steps)  # fmt: skip
            valid.append(
                _quarantine_bad_rows(con, dataset, source, plan, outcome, first_file_id + index,
                                     now)  # fmt: skip
            )
        report("deduplicating against everything loaded", steps, steps)
        counts = _load_new_rows(con, dataset, pl.concat(valid, rechunk=False), now)
        del valid
        for index, (plan, outcome) in enumerate(todo):
            file_id = first_file_id + index
            outcome.rows_duplicate, conflicts = counts.get(file_id, (0, 0))
            outcome.rows_quarantined += conflicts
            outcome.rows_loaded = (
                outcome.rows_read - outcome.rows_duplicate - outcome.rows_quarantined
            )
            con.execute(
                "insert into raw.load_manifest (file_id, load_id, source_path, size_bytes, "
                "modified_ns, content_sha256, rows_read, rows_loaded, rows_duplicate, "
                "rows_quarantined, ignored_columns, loaded_at, dataset, source, rows_skipped, "
                "skip_reasons) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    file_id, load_id, str(plan.path), plan.size, plan.modified_ns, plan.sha256,
                    outcome.rows_read, outcome.rows_loaded, outcome.rows_duplicate,
                    outcome.rows_quarantined,
                    plan.reading.ignored_columns
                    + [f"{c} (content, not stored)" for c in plan.reading.content_columns],
                    now, dataset.name, source.name, outcome.rows_skipped, outcome.skip_reasons,
                ],
            )  # fmt: skip
        _verify(con, dataset, first_file_id, todo)
    return result


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
    if source.tenant_field and source.tenant_field.strip().lower() in PERSONAL_TENANT_FIELDS:
        return [
            f"the tenant is read from '{source.tenant_field}', which names a person: it is "
            "stored as given, not pseudonymised, and shows on invoices. Prefer a team, "
            "organisation or metadata key (docs/sources.md)."
        ]
    return []


def _read(path: Path) -> pl.DataFrame:
    fmt = export_format(path)
    assert fmt is not None  # find_export_files keeps only export files
    return read_export(path, fmt)


def _no_rows(dataset: Dataset) -> pl.DataFrame:
    """What an empty text export (no header, no rows) reads as: no rows of the dataset's own
    columns, so it loads as a file of 0 rows, recorded in the manifest like any other."""
    return pl.DataFrame(schema={c.name: DTYPES[c.kind] for c in dataset.columns})


@dataclass(frozen=True)
class _Checked:
    """One file's records checked against the rules: as read (a source's: as adapted), their
    canonical reading, which are bad, the bad ones' quarantine rows, and what was left out."""

    records: pl.DataFrame
    checked: pl.DataFrame
    is_bad: pl.Series
    bad: pl.DataFrame
    skipped: dict[str, int]
    flags: list[str]


def _check_rows(dataset: Dataset, source: Source, plan: _Planned, now: datetime) -> _Checked:
    """Read one file and check each of its records (pure: nothing is written)."""
    reading = plan.reading
    records = _read(plan.path).drop(reading.content_columns)  # counts, not contents: never kept
    skipped: dict[str, int] = {}
    if not records.width:
        records = _no_rows(dataset)
    elif not isinstance(source, EventsSource):
        adapted = source.adapt(records, str(plan.path))
        records, skipped = adapted.frame, adapted.skipped
    detail = pl.col(PROBLEM) if PROBLEM in records.columns else pl.lit(None, pl.String)
    checked = with_load_time(  # the time rules compare with the load's own time
        records.lazy().select(
            *reading.columns,
            *(flag.alias(f"_{rule}") for rule, flag in reading.problems.items()),
            pl.int_range(pl.len(), dtype=pl.Int64).alias("source_row"),
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
                dataset.broken_rules(),
            ],
            separator=", ",
            ignore_nulls=True,
        ).alias("rules_broken"),
        pl.col("_detail").alias("detail"),
    )
    return _Checked(records, checked, is_bad, bad, skipped, flags)


def _quarantine_bad_rows(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    source: Source,
    plan: _Planned,
    outcome: FileOutcome,
    file_id: int,
    now: datetime,
) -> pl.DataFrame:
    """Quarantine the rows of one file that break a rule; return the others, as stored. A
    source's file is its adapter's records: a row is a usage record, numbered in their order."""
    c = _check_rows(dataset, source, plan, now)
    if c.bad.height:
        # the row as the file had it, in the columns the contract reads: a column it does not
        # know (named in the manifest) may hold anything, content too, so it is not kept
        known = [n for n in c.records.columns if n not in (*plan.reading.ignored_columns, PROBLEM)]
        row_values = c.records.filter(c.is_bad).select(pl.struct(known).alias("row")).to_series()
        rows = c.bad.with_columns(row_values, pl.lit(file_id, pl.Int64).alias("file_id"))
        _quarantine(con, dataset, rows, now)
    outcome.rows_read = c.records.height
    outcome.rows_quarantined = c.bad.height
    outcome.rows_skipped = sum(c.skipped.values())
    outcome.skip_reasons = [f"{n:,} {why}" for why, n in c.skipped.items()]
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
        plan = _plan(path, EVENTS, source)
        c = _check_rows(EVENTS, source, plan, now)
        good = c.checked.filter(~c.is_bad)
        quarantined = (
            c.bad.group_by("rules_broken", "detail", maintain_order=True)
            .agg(pl.len().alias("rows"), (pl.col("source_row").min() + 1).alias("first_row"))
        )
        checks.append(SourceCheck(
            names[path], c.records.height, good.select(EVENTS.column_names).head(rows),
            quarantined, c.skipped, plan.reading.ignored_columns, plan.reading.content_columns,
        ))  # fmt: skip
    return checks


def _quarantine(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, rows: pl.DataFrame, now: datetime
) -> None:
    """Store quarantined rows; `row` (a struct of the row's values) is kept as JSON."""
    con.register("_quarantine", rows)
    con.execute(
        f"insert into {dataset.quarantine_table} by name select * exclude (row), "
        "to_json(row)::varchar as row_json, ?::timestamp as quarantined_at from _quarantine",
        [now],
    )
    con.unregister("_quarantine")


def _copies_in_warehouse(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, load: pl.DataFrame
) -> pl.DataFrame:
    """The warehouse's rows for the keys of this load: one scan of the loaded keys."""
    con.register("_load", load.select(dataset.key))
    columns = ", ".join(f"e.{c}" for c in copy_columns(dataset))
    query = (
        f"select {columns} from {dataset.table} e "
        f"semi join _load l using ({', '.join(dataset.key)})"
    )
    [(loaded,)] = con.execute(f"select count(*) from {dataset.table}").fetchall()
    if not loaded:  # a first load: nothing to look up, and the semi join would hash every key
        query += " limit 0"
    earlier = frame(con, query)
    con.unregister("_load")
    return earlier


def _load_new_rows(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, load: pl.DataFrame, now: datetime
) -> dict[int, tuple[int, int]]:
    """Insert the new rows of `load`, quarantine conflicts.

    Returns file_id -> (duplicates, conflicts).
    """
    earlier = _copies_in_warehouse(con, dataset, load)
    is_new = load.select(is_new_row(dataset, earlier)).to_series()
    con.register("_load", load.with_columns(_is_new=is_new))  # no copy of the rows
    con.execute(f"insert into {dataset.table} by name select * exclude (_is_new) "
                "from _load where _is_new")  # fmt: skip
    con.unregister("_load")
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
    # the days this load changed, in its transaction: what the incremental models re-rate
    record_changed_days(con, days, dataset=dataset.name, kind="load", at=now)
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
    return {int(f): (int(d), int(c)) for f, d, c in per_file.iter_rows()}
