"""The marts users read are checked after every build (docs/decisions/0020): against their
dbt contracts as the model YAML states them, and the checks a reader relies on. A failure
names the mart, the column and the rows. The broken marts are copies of the costed sample's
warehouse, changed by hand after its build; each test costs one `build` of one small model."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from meterhouse import jobs
from meterhouse.paths import PROJECT_ENV, project_dir
from meterhouse.warehouse.lock import dbt_dir
from tests.conftest import copy_project, query, run


@pytest.fixture
def copied(costed_sample: tuple[Path, Path], tmp_path: Path) -> Path:
    """A copy of the costed sample's warehouse, to break, and of the dbt manifest of its build."""
    _, db = costed_sample
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(db, copy)
    (dbt_dir(copy) / "target").mkdir(parents=True)
    shutil.copyfile(dbt_dir(db) / "target" / "manifest.json",
                    dbt_dir(copy) / "target" / "manifest.json")  # fmt: skip
    return copy


def _change(db: Path, *statements: str) -> None:
    with duckdb.connect(str(db)) as con:
        for sql in statements:
            con.execute(sql)


# a build that rebuilds one small model: the marts it does not select stay as they were left
CHEAP_BUILD = ("build", "--select", "fct_file_loads")


def test_every_mart_of_a_clean_build_passes(costed_sample: tuple[Path, Path]) -> None:
    _, db = costed_sample
    checked = jobs.check_marts(db, "duckdb", None)
    assert [str(f) for f in checked.failures] == []
    marts = list((project_dir() / "models" / "marts").rglob("*.sql"))
    assert checked.marts == len(marts) - 1  # all but the request trace, a view of every request
    assert checked.rows > 1000


def test_a_full_check_names_mart_column_and_rows_by_the_contract_in_the_model_yaml(
    copied: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the project's YAML says margin_ratio is now decimal(18, 4): no Python changes
    project = copy_project(tmp_path / "project")
    costs = project / "models" / "marts" / "costs" / "_costs__models.yml"
    yaml = costs.read_text()
    assert yaml.count("data_type: decimal(18, 6)") == 1
    costs.write_text(yaml.replace("data_type: decimal(18, 6)", "data_type: decimal(18, 4)"))
    monkeypatch.setenv(PROJECT_ENV, str(project))
    # and one tenant's margin is no longer its revenue less its costs
    [(tenant,)] = query(copied, "select min(tenant_id) from main.fct_tenant_margin")
    _change(copied, "update main.fct_tenant_margin set gross_margin_usd = gross_margin_usd + 1 "
                    f"where tenant_id = '{tenant}'")  # fmt: skip
    months = [m for (m,) in query(copied, "select billing_month from main.fct_tenant_margin "
                                          f"where tenant_id = '{tenant}' order by 1")]  # fmt: skip

    done = run(*CHEAP_BUILD, "--full-check", "--db", copied)

    assert done.exit_code == 1, done.output  # needs attention: the invoices are not touched
    errors = [line for line in done.output.splitlines() if line.startswith("error:")]
    assert (
        "error: fct_tenant_margin.margin_ratio is Decimal(precision=18, scale=6), its contract "
        "says decimal(18, 4)"
    ) in errors
    rows = "; ".join(f"tenant_id={tenant}, billing_month={m}" for m in months)
    assert (
        "error: fct_tenant_margin.gross_margin_usd fails gross_margin_usd = revenue_usd - "
        "total_cost_usd (found " in done.output
    )
    assert f"on {len(months)} row(s): {rows}" in done.output
    assert len(errors) == 2, errors  # nothing else, and nothing of the invoices
    assert "every row): 2 failed" in done.output


def test_a_check_after_a_change_reads_the_days_it_changed(copied: Path) -> None:
    # every margin is broken, in September and October; then one event of 2026-10-02 is held
    _change(copied, "update main.fct_tenant_margin set gross_margin_usd = gross_margin_usd + 1")
    [(request, last)] = query(copied, "select min(request_id), (select max(change_id) from "
                              "raw.changed_days) from raw.usage_events "
                              "where usage_date = '2026-10-02'")  # fmt: skip
    held = run("quarantine", "--request-id", request, "--reason", "test", "--db", copied)
    assert held.exit_code == 0, held.output
    by_month = dict(query(copied, "select billing_month::varchar, count(*) "
                                  "from main.fct_tenant_margin group by all"))  # fmt: skip

    after_hold = jobs.check_marts(copied, "duckdb", last)
    in_full = jobs.check_marts(copied, "duckdb", None)

    assert after_hold.days == 1
    [margin] = [f for f in after_hold.failures if f.mart == "fct_tenant_margin"]
    assert margin.rows == by_month["2026-10-01"]  # the changed day's month only
    assert all("billing_month=2026-10-01" in row for row in margin.examples)
    [margin] = [f for f in in_full.failures if f.mart == "fct_tenant_margin"]
    assert margin.rows == sum(by_month.values())


def test_a_mart_the_invoices_are_made_from_failing_its_contract_exits_2(copied: Path) -> None:
    _change(copied, "alter table main.fct_usage_daily alter column request_count type integer")

    done = run(*CHEAP_BUILD, "--db", copied)

    assert done.exit_code == 2, done.output
    errors = [line for line in done.output.splitlines() if line.startswith("error:")]
    assert errors[0] == "error: fct_usage_daily.request_count is Int32, its contract says bigint"
    assert "do not write or issue invoices" in errors[-1]
    assert len(errors) == 2, errors
    assert "changed day(s)): 1 failed" in done.output  # not a full check
