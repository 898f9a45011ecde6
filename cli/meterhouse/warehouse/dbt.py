"""Run the dbt project against the warehouse file.

dbt runs in a child process: dbt-duckdb keeps its DuckDB connection open for the life of the
process, which would lock the warehouse against the next step of the same command, and dbt
keeps global state between invocations. What dbt prints goes to a log file, summarised per
phase (warehouse/dbt_output.py).

Each warehouse has its own dbt folder beside it (`<warehouse stem>.dbt/`, docs/decisions/0012):
a project folder of links to the checkout's project files plus that warehouse's contracts
copy, and dbt's target (manifest, partial parse, run results) and logs. A run writes nothing
in the checkout, so two builds of two warehouses never share a file.
"""

from __future__ import annotations

import csv
import ctypes
import importlib.util
import json
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from meterhouse.errors import MeterhouseError
from meterhouse.paths import project_dir
from meterhouse.schemas.contracts import absent_columns, check_contract_folder
from meterhouse.terminal import printable_line
from meterhouse.warehouse.db import DB_ENV, connect, describe_duckdb_text
from meterhouse.warehouse.dbt_output import node_name, report, run_logged
from meterhouse.warehouse.lock import dbt_dir, warehouse_lock
from meterhouse.warehouse.memory import PROFILE_ENV, duckdb_settings
from meterhouse.warehouse.prices import reprice_if_rating_changed
from meterhouse.warehouse.spark import (
    SOURCE_SCHEMAS,
    SPARK_DIR_ENV,
    TARGET_ENV,
    Target,
    export_raw_layer,
    spark_dir,
)

CONTRACTS_ENV = "METERHOUSE_CONTRACT_SEEDS"  # dbt_project.yml's second seed path
# the change the marts were built through before this build: the tests on what grows with
# history read the days changed after it (macros/tests/rated_days.sql); unset: every row
CHECK_AFTER_ENV = "METERHOUSE_CHECK_AFTER_CHANGE"
# relative to the dbt folder's project, as dbt needs it (dbt_project.yml says why)
CONTRACTS_COPY = "contracts"
# What the dbt folder's project links to in the checkout: everything dbt reads.
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "seeds", "analyses", "tests")
CONTRACT_FILES = ("tenant_contracts", "contract_volume_tiers", "credit_grants")
# Optional in an operator's folder: without it the fleet is empty (no GPU hours can be priced).
OPTIONAL_FILES = ("gpu_inventory",)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# In the dbt folder: the project files the rated days were rated with (warehouse.prices)
RATED_WITH = "rated-with.json"


def child_env(
    db: Path, target: str, own_contracts: bool, check_after: int | None = None
) -> dict[str, str]:
    """The environment of dbt's child process: profiles.yml reads the warehouse file, the
    target, the Spark folder and DuckDB's memory settings (warehouse/memory.py) from it,
    dbt_project.yml the contracts copy when the run has its own contracts, and the tests on
    what grows with history the change after which they read the days changed (None: every
    row)."""
    env = {
        **os.environ,
        DB_ENV: str(db),
        TARGET_ENV: target,
        SPARK_DIR_ENV: str(spark_dir(db)),
        **{PROFILE_ENV[name]: str(value) for name, value in duckdb_settings(db).items()},
    }
    env.pop(CONTRACTS_ENV, None)
    if own_contracts:
        env[CONTRACTS_ENV] = CONTRACTS_COPY
    env.pop(CHECK_AFTER_ENV, None)
    if check_after is not None:
        env[CHECK_AFTER_ENV] = str(check_after)
    return env


def _dbt_executable() -> str:
    beside = Path(sys.executable).with_name("dbt")
    found = str(beside) if beside.exists() else shutil.which("dbt")
    if not found:
        raise MeterhouseError("dbt is not installed in this environment; run 'make demo' first.")
    return found


def check_contracts(folder: Path) -> None:
    """Refuse a contracts folder that dbt would build wrong or fail on, naming file, line,
    column and value (schemas/contracts.py), before anything is loaded or built."""
    check_contract_folder(folder)


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig") as handle:
        return [c.strip() for c in handle.readline().strip().split(",")]


def _copy_contract_file(given: Path, copy: Path, name: str) -> None:
    """Copy an operator's contract CSV for dbt, adding the columns it may leave out (a column
    added since, such as bill_gateway_cache_hits) with every cell empty: each seed always has
    all its columns, so the models can read them."""
    with given.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    absent = absent_columns(name, [c.strip() for c in rows[0]]) if rows else []
    if not absent:
        shutil.copyfile(given, copy)
        return
    with copy.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(rows[0] + absent)
        writer.writerows(row + [""] * len(absent) for row in rows[1:] if any(row))


def _prepare_project(db: Path, contracts: Path | None) -> Path:
    """The dbt folder's project: links to the checkout's project files (made or repaired on
    every run, so a moved checkout is followed) and the contracts copy. Returns its folder."""
    source = project_dir()
    folder = dbt_dir(db) / "project"
    if "'" in str(folder):
        raise MeterhouseError(
            f"{db}: the warehouse's folder name holds a single quote, which dbt-duckdb cannot load "
            "seeds from. Move the warehouse file to a folder without quotes."
        )
    folder.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_PARTS:
        link = folder / name
        if link.is_symlink() and link.readlink() == source / name:
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source / name)
    copy = folder / CONTRACTS_COPY
    shutil.rmtree(copy, ignore_errors=True)
    if contracts is not None:
        staged = folder / f".{CONTRACTS_COPY}.staged"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        shipped = source / "seeds" / "contracts"
        for name in CONTRACT_FILES + OPTIONAL_FILES:
            given = contracts / f"{name}.csv"
            if given.is_file():
                _copy_contract_file(given, staged / f"{name}.csv", name)
            else:  # an optional file left out: its header only, so the seed exists and is empty
                header = ",".join(_header(shipped / f"{name}.csv"))
                (staged / f"{name}.csv").write_text(header + "\n")
        staged.rename(copy)
    return folder


def run_dbt(
    command: str,
    db: Path,
    extra: Sequence[str] = (),
    contracts: Path | None = None,
    target: Target = "duckdb",
    check: bool = True,
    check_after: int | None = None,
) -> DbtRun:
    """`dbt <command>` on the DuckDB file `db`, with the tenant contracts in `contracts` (else
    the shipped seeds/contracts); raises when any model or test fails, unless not `check`:
    then returns what failed. With `check_after` (the change the marts were built through),
    the tests on what grows with history read the days changed after it, not every row
    (docs/decisions/0030).

    dbt runs in the warehouse's own dbt folder (dbt_dir). With target "spark", the raw tables
    of `db` are exported first and the models are built on Spark, beside `db`
    (warehouse/spark.py)."""
    if target == "spark" and importlib.util.find_spec("pyspark") is None:
        raise MeterhouseError(
            "--target spark needs PySpark and dbt-spark, which this environment lacks: "
            "pip install -c constraints.txt -e '.[spark]' (Java 17 must be on the PATH)."
        )
    if contracts is not None:
        check_contracts(contracts)
    env = child_env(db, target, contracts is not None, check_after)
    own = dbt_dir(db)
    with warehouse_lock(db, exclusive=True):  # across the child's run: no reader breaks it
        folder = _prepare_project(db, contracts)
        args = [_dbt_executable(), command, "--project-dir", str(folder), "--profiles-dir",
                str(project_dir()), "--target", target, "--target-path", str(own / "target"),
                "--log-path", str(own / "logs"), *extra]  # fmt: skip
        with connect(db) as con:  # creates the raw tables the sources name, on any warehouse
            if command == "build":
                _reprice_if_rating_changed(con, db, target)
            if target == "spark":
                for schema in SOURCE_SCHEMAS:
                    export_raw_layer(con, spark_dir(db) / schema, schema)
        (own / "target" / "run_results.json").unlink(missing_ok=True)
        logged = run_logged(args, command, own / "logs", env=env, cwd=folder,
                            preexec_fn=_die_with_parent)  # fmt: skip
    report(command, own / "target", logged)
    returncode = logged.returncode
    found = failures(own / "target")
    fault = _fault(db, own) if returncode != 0 else None
    if fault is not None:  # the warehouse in use, damaged or its disk full: not a model's fault
        raise MeterhouseError(f"dbt {command} stopped: {fault}")
    if returncode != 0 and check:
        raise MeterhouseError(
            f"dbt {command} failed (exit {returncode}): {node_names(found.failed)}. The "
            "loaded events are kept; fix the cause and run 'meterhouse build' again."
        )
    return DbtRun(returncode, found.failed, found.billing)


def _reprice_if_rating_changed(con: duckdb.DuckDBPyConnection, db: Path, target: Target) -> None:
    """The loaded days of the open months re-rated by this build when the project files that
    rate a day changed since they were rated (warehouse.prices.reprice_if_rating_changed),
    and it says so."""
    rated = spark_dir(db).exists() if target == "spark" else bool(con.execute(
        "select 1 from duckdb_tables() where schema_name = 'main' "
        "and table_name = 'int_usage_days_rated'").fetchall())  # fmt: skip
    changed, since = reprice_if_rating_changed(con, dbt_dir(db) / RATED_WITH, project_dir(), rated)
    if changed:
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        days = "every loaded day" if since is None else (
            f"the loaded days from {since:%Y-%m-%d} on (the months issued for every tenant keep "
            "the rating they were issued with)")  # fmt: skip
        print(printable_line(f"the rating inputs changed since the loaded days were rated "
                             f"({', '.join(changed[:5])}{more}): this build re-rates {days}"),
              file=sys.stderr, flush=True)  # fmt: skip


@dataclass(frozen=True)
class DbtRun:
    returncode: int
    failed: list[str]  # unique ids of the nodes that errored or failed
    billing: list[str]  # those of them the invoices depend on (BILLING_MARTS and upstream)


# The marts an invoice is made of: a failure in them or upstream of them stops billing.
BILLING_MARTS = ("fct_invoices", "fct_invoice_lines", "fct_usage_daily")


def failures(target: Path) -> DbtRun:
    """The nodes of the last run that errored or failed (run_results.json), and which of them
    billing depends on (manifest.json's parent map)."""
    path = target / "run_results.json"
    if not path.is_file():
        return DbtRun(0, [], [])
    results = json.loads(path.read_text())["results"]
    failed = [r["unique_id"] for r in results if r["status"] in ("error", "fail")]
    parents: dict[str, list[str]] = json.loads((target / "manifest.json").read_text())["parent_map"]
    upstream = billing_nodes(parents)
    # a failed model upstream of the invoices, or a failed test of one (dbt skips what follows)
    billing = [
        n
        for n in failed
        if n in upstream or (n.startswith("test.") and set(parents.get(n, [])) & upstream)
    ]
    return DbtRun(0, failed, billing)


def billing_nodes(parents: dict[str, list[str]]) -> set[str]:
    """The unique ids of BILLING_MARTS and of every node upstream of them (a manifest's
    parent map)."""
    upstream: set[str] = set()
    todo = [f"model.meterhouse.{name}" for name in BILLING_MARTS]
    while todo:
        node = todo.pop()
        if node not in upstream:
            upstream.add(node)
            todo.extend(parents.get(node, []))
    return upstream


def _fault(db: Path, own: Path) -> str | None:
    """What stopped a failed dbt run, when it is the warehouse file and not a model: DuckDB's
    words in the run results or at the end of dbt's log."""
    texts = []
    results = own / "target" / "run_results.json"
    if results.is_file():
        texts += [str(r.get("message") or "") for r in json.loads(results.read_text())["results"]]
    log = own / "logs" / "dbt.log"
    if log.is_file():
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 20_000))
            texts.append(handle.read().decode("utf-8", "replace"))
    for text in texts:
        message = describe_duckdb_text(db, text)
        if message is not None:
            return message
    return None


def node_names(nodes: list[str]) -> str:
    """'model fct_x, test not_null_fct_x_y' for unique ids, the first five."""
    if not nodes:
        return "the lines above say why"
    names = [node_name(n) for n in nodes]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _die_with_parent() -> None:
    """In the dbt child: be killed when meterhouse dies (even by kill -9), so no dbt is left
    holding the warehouse's DuckDB lock. Linux only; elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
