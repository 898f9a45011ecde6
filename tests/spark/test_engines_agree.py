"""`make test-spark`: the same project built on DuckDB and on Spark gives the same marts.

One generated data set (about 320,000 events over 40 days, GPU telemetry, tenant contracts)
goes through the real nightly job on DuckDB, August is issued, late August events arrive (so
the next invoices carry corrections) and the nightly job runs again. Then `meterhouse build
--target spark` builds and tests the same models on PySpark from the same raw tables, and
every mart is compared row by row: same columns and types, same rows, DECIMAL money equal to
the last digit, DOUBLE estimates equal to 1e-9 relative.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.conftest import run

pytest.importorskip("pyspark", reason="the spark extra is not installed (make test installs it)")
pytestmark = [pytest.mark.spark, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[2]
MARTS = sorted(p.stem for p in (PROJECT / "models" / "marts").rglob("*.sql"))


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse file, built on DuckDB, with its Spark build beside it."""
    root = tmp_path_factory.mktemp("engines")
    folder, db = root / "sample", root / "warehouse.duckdb"
    made = run("generate", "--out", folder, "--days", 40, "--tenants", 8,
               "--events-per-day", 8000, "--start", "2026-08-01")  # fmt: skip
    assert made.exit_code == 0, made.output
    nightly = ("nightly", "--events", folder / "events", "--gpu-hours", folder / "gpu_hours",
               "--contracts", folder / "contracts", "--db", db)  # fmt: skip
    assert (first := run(*nightly)).exit_code == 0, first.output
    issued = run("invoice", "issue", "--month", "2026-08", "--db", db)
    assert issued.exit_code == 0, issued.output
    # late August usage, as new requests in a file of a later night
    august = pl.read_parquet(folder / "events" / "date=2026-08-20" / "part-0.parquet").head(300)
    late = august.with_columns(pl.concat_str(pl.lit("late-"), "request_id").alias("request_id"))
    (folder / "events" / "late").mkdir()
    late.write_parquet(folder / "events" / "late" / "part-0.parquet")
    # the second night on Spark (load, build, forecast, projection), then DuckDB catches up
    on_spark = run(*nightly, "--target", "spark")
    assert on_spark.exit_code == 0, on_spark.output
    # the marts Spark published, as the commands read them, pass their contracts' checks
    assert "against their contracts" in on_spark.output
    assert "every row): all pass" in on_spark.output
    on_duckdb = run("build", "--contracts", folder / "contracts", "--db", db)
    assert on_duckdb.exit_code == 0, on_duckdb.output
    return db


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {name: kind for name, kind, *_ in con.sql(f"describe {relation}").fetchall()}


def differences(
    con: duckdb.DuckDBPyConnection, left: str, right: str, limit: int = 10
) -> list[tuple[object, ...]]:
    """Rows of `left` and `right` (same columns) that do not pair up: both sides sorted on
    every column and paired by position; every column must be equal, DOUBLEs to 1e-9
    relative. A row present on one side only shows with nulls for the other."""
    columns = _columns(con, left)
    exact = [c for c, kind in columns.items() if kind not in ("DOUBLE", "FLOAT")]
    approx = [c for c in columns if c not in exact]
    order = ", ".join(f'"{c}" nulls first' for c in exact + approx)
    same = [f'l."{c}" is not distinct from r."{c}"' for c in exact] + [
        f'(l."{c}" is null and r."{c}" is null) or '
        f'abs(l."{c}" - r."{c}") <= 1e-9 * greatest(1, abs(l."{c}"))'
        for c in approx
    ]
    return con.sql(f"""
        with l as (select *, row_number() over (order by {order}) as n from {left}),
             r as (select *, row_number() over (order by {order}) as n from {right})
        select l.*, r.* from l full join r on l.n = r.n
        where l.n is null or r.n is null or not ({" and ".join(f"({s})" for s in same)})
        order by coalesce(l.n, r.n) limit {limit}
    """).fetchall()


@pytest.fixture(scope="module")
def engines(both_engines: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB's marts as duck.main.<mart>, Spark's published marts as spark_<mart>."""
    con = duckdb.connect()
    con.execute(f"attach '{both_engines}' as duck (read_only)")
    published = both_engines.with_name(f"{both_engines.stem}.spark") / "marts"
    for mart in MARTS:
        files = published / mart / "*.parquet"
        con.execute(f"create view spark_{mart} as select * from read_parquet('{files}')")
    return con


def test_spark_publishes_every_mart(both_engines: Path) -> None:
    published = both_engines.with_name(f"{both_engines.stem}.spark") / "marts"
    assert sorted(p.name for p in published.iterdir()) == MARTS


@pytest.mark.parametrize("mart", MARTS)
def test_mart_is_the_same_on_both_engines(engines: duckdb.DuckDBPyConnection, mart: str) -> None:
    duck, spark = f"duck.main.{mart}", f"spark_{mart}"
    assert _columns(engines, spark) == _columns(engines, duck)
    [(rows,)] = engines.sql(f"select count(*) from {duck}").fetchall()
    [(spark_rows,)] = engines.sql(f"select count(*) from {spark}").fetchall()
    assert spark_rows == rows
    assert differences(engines, duck, spark) == []


def test_the_comparison_is_not_vacuous(engines: duckdb.DuckDBPyConnection) -> None:
    """The data exercise the money paths: invoices issued and drafted, corrections, GPU cost."""
    counts = dict(
        engines.sql("""
        select 'issued', count(*) from duck.main.fct_invoices where status = 'issued'
        union all select 'draft', count(*) from duck.main.fct_invoices where status = 'draft'
        union all select 'corrections', count(*) from duck.main.fct_invoice_lines
            where line_type = 'correction'
        union all select 'usage lines', count(*) from duck.main.fct_invoice_lines
            where line_type = 'usage'
        union all select 'requests', count(*) from duck.main.fct_invoice_line_requests
        union all select 'margin rows', count(*) from duck.main.fct_tenant_margin
        union all select 'gpu cost rows', count(*) from duck.main.fct_cost_per_1m_tokens
            where hardware not like 'api:%'
    """).fetchall()
    )
    assert all(n > 0 for n in counts.values()), counts
    assert counts["requests"] > 300_000


def test_one_cent_on_one_line_is_a_difference(
    engines: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The comparison catches a single line that differs by one cent."""
    changed = tmp_path / "lines.parquet"
    engines.execute(f"""
        copy (select * replace (
                  case when row_number() over (order by invoice_id, line_number) = 7
                       then amount + 0.01 else amount end as amount)
              from spark_fct_invoice_lines) to '{changed}' (format parquet)
    """)
    found = differences(engines, "duck.main.fct_invoice_lines", f"read_parquet('{changed}')")
    assert len(found) >= 1
    assert differences(engines, "duck.main.fct_invoice_lines", "spark_fct_invoice_lines") == []


def test_commands_read_the_spark_build(both_engines: Path, tmp_path: Path) -> None:
    """Reports and invoices read from the Spark build are those of the DuckDB build."""
    for target in ("duckdb", "spark"):
        done = run("invoice", "--month", "2026-09", "--format", "json,csv", "--db", both_engines,
                   "--out", tmp_path / target, "--target", target)  # fmt: skip
        assert done.exit_code == 0, done.output
    duck_files = sorted(p.name for p in (tmp_path / "duckdb").iterdir())
    assert duck_files == sorted(p.name for p in (tmp_path / "spark").iterdir())
    assert len(duck_files) == 16  # 8 tenants, JSON and CSV
    for name in duck_files:
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "duckdb" / name).read_bytes()
    for report in ("margin", "cost"):
        duck = run("report", report, "--month", "2026-08", "--format", "json", "--db", both_engines)
        spark = run("report", report, "--month", "2026-08", "--format", "json", "--db",
                    both_engines, "--target", "spark")  # fmt: skip
        assert duck.exit_code == spark.exit_code == 0, spark.output
        assert spark.output == duck.output
    spark_status = run("status", "--db", both_engines, "--target", "spark")
    assert spark_status.exit_code == 0, spark_status.output
    assert spark_status.output == run("status", "--db", both_engines).output


def test_spark_target_without_a_spark_build_says_so(tmp_path: Path) -> None:
    done = run("report", "margin", "--month", "2026-08", "--db", tmp_path / "none.duckdb",
               "--target", "spark")  # fmt: skip
    assert done.exit_code == 2
    assert "run 'meterhouse build --target spark' first" in done.output
