"""Load nightly Parquet exports into the warehouse: every row loaded, counted or quarantined.

The load is one DuckDB transaction per call: either every new file is in, with its manifest
row, or nothing is. Each file is read with Polars, mapped to the canonical event and checked
against the contract rules; rows that break a rule go to `raw.quarantined_events`. The valid
rows of all files are then deduplicated on request_id in SQL, first against each other (path
order, then row order: the first copy wins) and against everything loaded before, so a night
costs its own size plus one pass over the loaded keys. A repeat whose billing fields differ
is a conflict: the first copy stays, the repeat is quarantined, nothing is summed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from meterhouse.core.events import read_file_columns
from meterhouse.errors import MeterhouseError
from meterhouse.progress import Report
from meterhouse.schemas.events import (
    BILLING_FIELDS,
    COLUMN_NAMES,
    CONFLICT_RULE,
    EVENT_SCHEMA,
    broken_rules,
)

_ROWS_PER_FILE_ID = 2**32  # orders rows across files: file_id * 2^32 + source_row


@dataclass
class FileOutcome:
    path: Path
    skipped: str = ""  # why nothing was loaded from it, when that is the case
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0


@dataclass
class IngestResult:
    files: list[FileOutcome] = field(default_factory=list)

    def total(self, what: str) -> int:
        return sum(int(getattr(f, what)) for f in self.files)


@dataclass(frozen=True)
class _Planned:
    path: Path
    size: int
    sha256: str
    schema: pl.Schema


def find_parquet_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders to the Parquet files under them; return all files in path order."""
    if not paths:
        raise MeterhouseError("give at least one Parquet file or folder to load.")
    found: set[Path] = set()
    for given in paths:
        path = given.resolve()
        if path.is_dir():
            inside = [p for p in path.rglob("*.parquet") if p.is_file()]
            if not inside:
                raise MeterhouseError(f"{given}: no .parquet files in this folder.")
            found.update(inside)
        elif path.is_file():
            found.add(path)
        else:
            raise MeterhouseError(f"{given}: no such file or folder. Check the path.")
    return sorted(found, key=str)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _plan(path: Path) -> _Planned:
    try:
        schema = pl.read_parquet_schema(path)
    except Exception as exc:  # polars raises several types for a bad footer
        raise MeterhouseError(
            f"{path}: not a readable Parquet file ({type(exc).__name__}). It may be truncated "
            "or in another format; re-export it, or move it out of the folder being loaded."
        ) from exc
    read_file_columns(schema, str(path))  # refuses a file missing a column or of a wrong type
    return _Planned(path, path.stat().st_size, _sha256(path), schema)


def _already_loaded(
    con: duckdb.DuckDBPyConnection, planned: list[_Planned], allow_changed: bool
) -> dict[Path, str]:
    """Files to skip (with the reason); refuses files changed since they were loaded."""
    rows = con.execute(
        "select source_path, content_sha256, loaded_at from raw.load_manifest"
    ).fetchall()
    by_hash = {sha: (path, at) for path, sha, at in rows}
    by_path = {path: sha for path, sha, _ in rows}
    skip: dict[Path, str] = {}
    changed: list[str] = []
    for plan in planned:
        if plan.sha256 in by_hash:
            path, at = by_hash[plan.sha256]
            same = "" if path == str(plan.path) else f" as {path}"
            skip[plan.path] = f"already loaded{same} on {at:%Y-%m-%d %H:%M} UTC"
        elif str(plan.path) in by_path and not allow_changed:
            changed.append(str(plan.path))
    if changed:
        raise MeterhouseError(
            "these files were loaded before and their content has changed since: "
            + ", ".join(changed)
            + ". Nothing was loaded. Write new rows to a new file, or pass --allow-changed to "
            "load the new content (rows already loaded count as duplicates or conflicts)."
        )
    return skip


def ingest(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[Path],
    *,
    allow_changed: bool = False,
    report: Report = lambda step, done, total: None,
) -> IngestResult:
    """Load the files; returns what happened to every file and row."""
    files = find_parquet_files(paths)
    planned = []
    for index, path in enumerate(files):
        report(f"checking {path.name}", index, len(files))
        planned.append(_plan(path))
    skip = _already_loaded(con, planned, allow_changed)
    result = IngestResult([FileOutcome(p.path, skipped=skip.get(p.path, "")) for p in planned])
    todo = [(p, o) for p, o in zip(planned, result.files, strict=True) if not o.skipped]
    if not todo:
        return result

    now = datetime.now(UTC).replace(tzinfo=None)
    con.begin()
    try:
        load_id, first_file_id = con.execute(
            "select coalesce(max(load_id), 0) + 1, coalesce(max(file_id), 0) + 1 "
            "from raw.load_manifest"
        ).fetchone() or (1, 1)
        con.execute("create or replace temp table _staging as from raw.usage_events limit 0")
        for index, (plan, outcome) in enumerate(todo):
            report(f"reading {plan.path.name}", index, len(todo))
            _stage_file(con, plan, outcome, first_file_id + index, now)
        report("deduplicating against everything loaded", len(todo), len(todo))
        counts = _deduplicate(con, now)
        for index, (plan, outcome) in enumerate(todo):
            file_id = first_file_id + index
            loaded, duplicate, conflict = counts.get(file_id, (0, 0, 0))
            outcome.rows_loaded = loaded
            outcome.rows_duplicate = duplicate
            outcome.rows_quarantined += conflict
            con.execute(
                "insert into raw.load_manifest values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    file_id, load_id, str(plan.path), plan.size, plan.sha256,
                    outcome.rows_read, outcome.rows_loaded, outcome.rows_duplicate,
                    outcome.rows_quarantined,
                    read_file_columns(plan.schema, str(plan.path)).ignored_columns, now,
                ],
            )  # fmt: skip
        con.execute("drop table _staging")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return result


def _read(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as exc:
        raise MeterhouseError(
            f"{path}: the Parquet data cannot be read ({type(exc).__name__}: {exc}). The file "
            "is damaged; re-export it. Nothing was loaded."
        ) from exc


def _stage_file(
    con: duckdb.DuckDBPyConnection,
    plan: _Planned,
    outcome: FileOutcome,
    file_id: int,
    now: datetime,
) -> None:
    """Quarantine the rows of one file that break a rule; stage the others for dedup."""
    reading = read_file_columns(plan.schema, str(plan.path))
    raw = _read(plan.path)
    checked = (
        raw.lazy()
        .select(
            *reading.columns,
            reading.non_integer_tokens.alias("_non_integer"),
            pl.int_range(pl.len(), dtype=pl.Int64).alias("source_row"),
        )
        .with_columns(
            pl.concat_str(
                [pl.when("_non_integer").then(pl.lit("non_integer_tokens")), broken_rules()],
                separator=", ",
                ignore_nulls=True,
            ).alias("_rules")
        )
        .drop("_non_integer")
        .collect()
    )
    is_bad = checked["_rules"] != ""
    bad = checked.filter(is_bad).select("source_row", "request_id", "tenant_id", "_rules")
    bad = bad.with_columns(raw_row=raw.filter(is_bad).select(pl.struct(pl.all())).to_series())
    good = EVENT_SCHEMA.validate(checked.filter(~is_bad).drop("_rules"))
    staged = good.select(
        "request_id",
        pl.col("event_at").dt.replace_time_zone(None),
        pl.col("event_at").dt.date().alias("usage_date"),
        *COLUMN_NAMES[2:],
        pl.lit(file_id, pl.Int64).alias("file_id"),
        "source_row",
    )
    con.register("_bad", bad)
    con.register("_good", staged)
    con.execute(
        "insert into raw.quarantined_events by name select ? as file_id, source_row, "
        "request_id, tenant_id, _rules as rules_broken, null as detail, "
        "to_json(raw_row)::varchar as row_json, ?::timestamp as quarantined_at from _bad",
        [file_id, now],
    )
    con.execute("insert into _staging by name select * from _good")
    con.unregister("_bad")
    con.unregister("_good")
    outcome.rows_read = raw.height
    outcome.rows_quarantined = bad.height


def _seq(alias: str) -> str:
    """Load order of a staged row: path order of its file, then its row in the file."""
    return f"({alias}.file_id * {_ROWS_PER_FILE_ID} + {alias}.source_row)"


def _same(left: str, right: str) -> str:
    return " and ".join(f"{left}.{c} is not distinct from {right}.{c}" for c in BILLING_FIELDS)


def _differences(left: str, right: str) -> str:
    parts = ", ".join(
        f"case when {left}.{c} is distinct from {right}.{c} then '{c}' end" for c in BILLING_FIELDS
    )
    return f"concat_ws(', ', {parts})"


def _deduplicate(
    con: duckdb.DuckDBPyConnection, now: datetime
) -> dict[int, tuple[int, int, int]]:
    """Insert the new requests; quarantine conflicts. Returns file_id -> (loaded, dup, conflict)."""
    seq = _seq("_staging")
    con.execute(f"""
        create or replace temp table _first as
        select request_id, min({seq}) as seq from _staging group by request_id
    """)
    # Earlier loads' copies of the requests in this one; the join builds on the smaller side.
    con.execute("""
        create or replace temp table _earlier as
        select e.* from raw.usage_events e join _first f using (request_id)
    """)
    # Every staged row that does not load, with the copy that counts (an earlier load's, or
    # the first one in this load).
    con.execute(f"""
        create or replace temp table _repeats as
        with first_rows as (
            select s.* from _staging s join _first f
              on f.request_id = s.request_id and f.seq = {_seq("s")}
        ),
        repeats as (
            select s.* from _staging s
            where s.request_id in (select request_id from _earlier)
               or {_seq("s")} not in (select seq from _first)
        ),
        originals as (
            select * from _earlier
            union all by name
            select * from first_rows
            where request_id not in (select request_id from _earlier)
        )
        select r.file_id, r.source_row, r.request_id, r.tenant_id,
               {_same("r", "o")} as is_duplicate,
               {_differences("r", "o")} as differs_in,
               o.file_id as original_file_id, o.source_row as original_row,
               to_json(r)::varchar as row_json
        from repeats r join originals o using (request_id)
    """)
    con.execute(f"""
        insert into raw.usage_events by name
        select s.* from _staging s
        where {_seq("s")} in (select seq from _first)
          and s.request_id not in (select request_id from _earlier)
    """)
    con.execute(
        f"""
        insert into raw.quarantined_events by name
        select file_id, source_row, request_id, tenant_id, '{CONFLICT_RULE}' as rules_broken,
               'differs in ' || differs_in || ' from the copy loaded from file '
                 || original_file_id || ' row ' || original_row as detail,
               row_json, ?::timestamp as quarantined_at
        from _repeats where not is_duplicate
        """,
        [now],
    )
    rows = con.execute(f"""
        with staged as (select file_id, count(*) as n from _staging group by file_id),
        repeats as (
            select file_id, count(*) filter (is_duplicate) as dup,
                   count(*) filter (not is_duplicate) as conflict
            from _repeats group by file_id
        )
        select s.file_id, s.n - coalesce(dup, 0) - coalesce(conflict, 0),
               coalesce(dup, 0), coalesce(conflict, 0)
        from staged s left join repeats r using (file_id)
    """).fetchall()
    for table in ("_first", "_earlier", "_repeats"):
        con.execute(f"drop table {table}")
    return {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}
