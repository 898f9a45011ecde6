"""Paths and names from the file system never run as SQL (warehouse/sql_text.py,
macros/spark/sql_text.sql).

The Spark target puts paths into SQL: the raw layer's export (DuckDB's COPY), the views over a
Spark build (DuckDB's read_parquet) and the Spark statements of the hooks (external tables'
locations, the marts' directories). A warehouse in a folder whose name holds quotes, a
semicolon, a comment or a backslash must work the same, and a crafted name must run nothing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import polars as pl
import pytest

from meterhouse.errors import MeterhouseError
from meterhouse.warehouse.db import connect
from meterhouse.warehouse.spark import export_raw_layer, spark_dir, spark_marts
from meterhouse.warehouse.sql_text import (
    duckdb_file,
    duckdb_identifier,
    is_plain_identifier,
    sql_string,
)
from tests.conftest import event_rows, query, run

PROJECT = Path(__file__).resolve().parents[2]
# Every character that ends or escapes an SQL string, ends a statement or starts a comment.
HOSTILE = 'it\'s "x"; drop table raw.usage_events; -- \\ end'
# DuckDB cannot open a database file under a backslash (it reads one as a path separator, on
# Linux too): a warehouse file itself can only be in a folder without one.
HOSTILE_WAREHOUSE = HOSTILE.replace(" \\", "")
# dbt-duckdb cannot load seeds from a folder with a single quote (run_dbt refuses it): a dbt
# run gets the rest.
HOSTILE_FOR_DBT = HOSTILE_WAREHOUSE.replace("it's ", "")
VALUES = [HOSTILE, "", "'", "''", '"', "\\", "\\'", "a\nb", "/* x", "--", "é ☃", "`", "``"]


def _loaded(folder: Path, write: Callable[[str, pl.DataFrame], Path], n: int = 5) -> Path:
    """A warehouse file in `folder` with `n` events loaded by the real loader."""
    folder.mkdir(parents=True)
    db = folder / "warehouse.duckdb"
    done = run("ingest", write("day.parquet", event_rows(n)), "--db", db)
    assert done.exit_code == 0, done.output
    return db


def _raw_tables(db: Path) -> list[str]:
    rows = query(db, "select table_name from information_schema.tables "
                     "where table_schema = 'raw' order by 1")  # fmt: skip
    return [name for (name,) in rows]


def _parquet(path: Path, sql: str) -> None:
    """Write the rows of `sql` to the Parquet file `path`, as Spark publishes a mart."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"copy ({sql}) to ? (format parquet)", [str(path)])


def _relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "select table_schema, table_name from information_schema.tables order by all"
    ).fetchall()


# --- DuckDB: one function per escaping, each value read back as it was


@pytest.mark.parametrize("value", VALUES)
def test_sql_string_and_identifier_read_back_as_given(value: str) -> None:
    with duckdb.connect() as con:
        assert con.execute(f"select {sql_string(value)}").fetchall() == [(value,)]
        if value:  # DuckDB has no empty identifier
            described = con.execute(f"select 1 as {duckdb_identifier(value)}").description
            assert described is not None
            assert described[0][0] == value


def test_plain_identifiers() -> None:
    assert all(map(is_plain_identifier, ["usage_events", "fct_invoices", "_x1", "A"]))
    assert not any(map(is_plain_identifier, ["", "1x", "a b", "a-b", "a.b", "a'", 'a"', "é"]))


# --- the raw layer's export and the views over a Spark build, in a hostile folder


@pytest.mark.parametrize("layout", ["beside the warehouse", "under a backslash"])
def test_raw_layer_round_trips_through_a_hostile_folder(
    tmp_path: Path, write: Callable[[str, pl.DataFrame], Path], layout: str
) -> None:
    """The export writes each raw table under the Spark folder and the reader reads them back
    equal, with the folder's name in every statement's path. Under a backslash, the warehouse
    file is elsewhere (DuckDB cannot open one there) and its Spark folder there."""
    if layout == "beside the warehouse":
        db = _loaded(tmp_path / HOSTILE_WAREHOUSE, write)
        build = db
    else:
        db = _loaded(tmp_path / "plain", write)
        build = tmp_path / HOSTILE / "warehouse.duckdb"
    tables = _raw_tables(db)
    assert "usage_events" in tables
    with connect(db) as con:
        export_raw_layer(con, spark_dir(build) / "raw")
    exported = spark_dir(build) / "raw"
    assert sorted(p.name for p in exported.iterdir()) == tables  # nothing staged is left
    assert all((exported / name / "part-0.parquet").is_file() for name in tables)
    # nothing ran: the table the folder's name drops is still there, with its rows
    assert query(db, "select count(*) from raw.usage_events") == [(5,)]
    (spark_dir(build) / "marts").mkdir()
    with spark_marts(build) as con:
        assert _relations(con) == [("raw", name) for name in tables]
        for name in tables:
            sql = f"select * from raw.{name} order by all"
            assert con.execute(sql).fetchall() == query(db, sql), name
    assert all(
        p.name in (HOSTILE, HOSTILE_WAREHOUSE, "plain", "exports") for p in tmp_path.iterdir()
    )


def test_a_mart_folder_that_is_not_a_model_name_is_not_read(tmp_path: Path) -> None:
    """publish_marts writes one folder per mart, named after it: another folder is skipped,
    whatever its name says, and the folder it is in may be hostile too."""
    marts = spark_dir(tmp_path / HOSTILE / "warehouse.duckdb") / "marts"
    _parquet(marts / "fct_usage_daily" / "part-00000-c000.snappy.parquet", "select 1 as n")
    (marts / "fct_usage_daily" / "_SUCCESS").touch()  # Spark's markers are not data
    (marts / "fct_usage_daily" / ".part-00000-c000.snappy.parquet.crc").touch()
    crafted = [
        "fct_x as select 1; drop view main.fct_usage_daily; create view main.fct_y",
        "fct_it's",
        'fct_"q"',
        "fct_x') ; select 1; --",
        "fct x",
        "1fct",
    ]
    for name in crafted:
        _parquet(marts / name / "part-0.parquet", "select 2 as n")
    with spark_marts(marts.parent.with_name("warehouse.duckdb")) as con:
        assert _relations(con) == [("main", "fct_usage_daily")]
        assert con.execute("select n from main.fct_usage_daily").fetchall() == [(1,)]


def test_glob_characters_in_the_folder_match_only_that_folder(tmp_path: Path) -> None:
    """DuckDB reads `*`, `?` and `[` in a file name as a glob: the Spark build of a warehouse
    in `a*[b]?/` reads its own files, not those of `azbq/` beside it."""
    own, other = tmp_path / "a*[b]?" / "w.duckdb", tmp_path / "azbq" / "w.duckdb"
    for db, n in ((own, 1), (other, 2)):
        _parquet(spark_dir(db) / "marts" / "fct_usage_daily" / "part-0.parquet", f"select {n} n")
    with spark_marts(own) as con:
        assert con.execute("select n from main.fct_usage_daily").fetchall() == [(1,)]


def test_a_backslash_with_glob_characters_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "a\\b*" / "w.duckdb"
    _parquet(spark_dir(db) / "marts" / "fct_usage_daily" / "part-0.parquet", "select 1 n")
    with (
        pytest.raises(MeterhouseError, match=r"both a backslash and one of \* \? \["),
        spark_marts(db),
    ):
        pass
    assert duckdb_file(Path("/a\\b/c.parquet")) == "/a\\b/c.parquet"  # a backslash alone is fine
    assert duckdb_file(Path("/a*/[b]?.parquet")) == "/a[*]/[[]b][?].parquet"


def test_a_raw_table_that_is_not_a_plain_name_is_refused(
    tmp_path: Path, write: Callable[[str, pl.DataFrame], Path]
) -> None:
    db = _loaded(tmp_path / "w", write)
    crafted = "x to '/tmp/x.parquet'; drop table raw.usage_events; --"
    with connect(db) as con:
        con.execute(f"create table raw.{duckdb_identifier(crafted)} (n int)")
        with pytest.raises(MeterhouseError, match="letters, digits and underscores"):
            export_raw_layer(con, spark_dir(db) / "raw")
    assert query(db, "select count(*) from raw.usage_events") == [(5,)]


def test_a_warehouse_folder_with_a_single_quote_is_refused_in_one_line(tmp_path: Path) -> None:
    """dbt-duckdb cannot load seeds from such a folder: run_dbt says so before dbt starts."""
    done = run("build", "--db", tmp_path / "it's" / "warehouse.duckdb")
    assert done.exit_code != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.output
    assert "single quote" in lines[0]
    assert "it's" in lines[0]


# --- Spark: the macros, then one real dbt-spark build in a hostile folder


def _render(macro: str, run_query: Callable[[str], Any], **values: str) -> str:
    """A macro of macros/spark/sql_text.sql, rendered as dbt renders it (Jinja, `do`)."""
    source = (PROJECT / "macros" / "spark" / "sql_text.sql").read_text()
    env = jinja2.Environment(extensions=["jinja2.ext.do"])

    class Exceptions:
        @staticmethod
        def raise_compiler_error(message: str) -> None:
            raise RuntimeError(message)

    arguments = ", ".join(values)
    template = env.from_string(source + f"{{{{ {macro}({arguments}) }}}}")
    text = template.render(execute=True, run_query=run_query, exceptions=Exceptions, **values)
    return text.strip()


class _Setting:
    def __init__(self, value: str) -> None:
        self.rows = [("spark.sql.parser.escapedStringLiterals", value)]


def test_spark_string_asks_the_session_only_for_escapes_and_refuses_them_when_off() -> None:
    asked: list[str] = []

    def setting(value: str) -> Callable[[str], _Setting]:
        def run_query(sql: str) -> _Setting:
            asked.append(sql)
            return _Setting(value)

        return run_query

    assert _render("spark_string", setting("true"), value="/plain/path") == "'/plain/path'"
    assert asked == []
    assert _render("spark_string", setting("false"), value="a'b\\c") == "'a\\'b\\\\c'"
    assert asked == ["set spark.sql.parser.escapedStringLiterals"]
    with pytest.raises(RuntimeError, match="escapedStringLiterals is true"):
        _render("spark_string", setting("true"), value="a'b")
    assert _render("spark_identifier", setting("false"), name="we`ird") == "`we``ird`"


def _need_spark() -> None:
    """Skip without PySpark or Java, except in CI, where both are installed: there, fail."""
    missing = [
        what
        for what, found in (
            ("PySpark (the spark extra)", importlib.util.find_spec("pyspark") is not None),
            ("Java 17", shutil.which("java") is not None),
        )
        if not found
    ]
    if missing:
        message = f"{' and '.join(missing)} not installed"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{message}, and CI must run the Spark tests")
        pytest.skip(message)


@pytest.fixture
def spark_session(tmp_path: Path) -> Iterator[Any]:
    _need_spark()
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", str(tmp_path / "spark-warehouse"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


@pytest.mark.spark
@pytest.mark.slow
def test_spark_reads_spark_string_and_spark_identifier_back_as_given(spark_session: Any) -> None:
    def run_query(sql: str) -> _Setting:
        [(_key, value)] = spark_session.sql(sql).collect()
        return _Setting(value)

    for value in VALUES:
        literal = _render("spark_string", run_query, value=value)
        assert spark_session.sql(f"select {literal} as v").collect()[0][0] == value, literal
        if value:
            identifier = _render("spark_identifier", run_query, name=value)
            assert spark_session.sql(f"select 1 as {identifier}").columns == [value]


@pytest.mark.spark
@pytest.mark.slow
def test_a_spark_build_in_a_hostile_folder(
    tmp_path: Path, write: Callable[[str, pl.DataFrame], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw layer is exported there, Spark reads it as external tables, builds in it and
    publishes the marts there, and `status --target spark` reads them. Nothing else runs:
    the folder's name drops no table. Only fct_usage_daily and what it needs are built, to
    keep it short (every model goes through the same statements), with the tests of those
    models only (a relationship test to a model left out would fail)."""
    _need_spark()
    monkeypatch.setenv("DBT_INDIRECT_SELECTION", "cautious")
    db = _loaded(tmp_path / HOSTILE_FOR_DBT, write, n=20)
    built = run("build", "--target", "spark", "--select", "+fct_usage_daily", "--db", db)
    assert built.exit_code == 0, built.output
    assert sorted(p.name for p in (spark_dir(db) / "marts").iterdir()) == ["fct_usage_daily"]
    status = run("status", "--target", "spark", "--db", db)
    assert status.exit_code == 0, status.output
    assert "20 events, 1 tenants" in status.output
    assert "vendor cost at list price" in status.output  # read from the published mart
    assert query(db, "select count(*) from raw.usage_events") == [(20,)]
    # everything the build wrote is beside the warehouse file (the metastore, Derby's log)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([HOSTILE_FOR_DBT, "exports"])
    beside = sorted(p.name for p in db.parent.iterdir())
    assert beside == ["warehouse.dbt", "warehouse.duckdb", "warehouse.spark"]
