"""fct_usage_anomalies finds the generator's injected token storms (its truth file says where)
and raises few false alarms."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import query, run

RECALL_MIN = 0.9
FALSE_STORMS_PER_1000_TENANT_DAYS_MAX = 1.0  # the documented ceiling (docs/forecasting.md)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("anomalies")
    sample, db = root / "sample", root / "warehouse.duckdb"
    assert run("generate", "--out", sample, "--days", 75, "--tenants", 120,
               "--events-per-day", 3000, "--seed", 11).exit_code == 0  # fmt: skip
    assert run("ingest", sample / "events", "--db", db).exit_code == 0
    result = run("build", "--db", db, "--contracts", sample / "contracts")
    assert result.exit_code == 0, result.output
    return db, sample / "reference" / "token_storms.csv"


def test_injected_token_storms_are_found_with_few_false_alarms(
    warehouse: tuple[Path, Path],
) -> None:
    db, truth = warehouse
    # a storm is detectable once the tenant has the 14 days of history a baseline needs
    [(storms, found)] = query(db, f"""
        with firsts as (
            select series_key as tenant_id, min(usage_date) as first_day
            from main.fct_usage_series_daily where series_type = 'tenant' group by 1)
        select count(*), count(a.tenant_id)
        from read_csv('{truth}') s join firsts using (tenant_id)
        left join main.fct_usage_anomalies a
          on a.tenant_id = s.tenant_id and a.usage_date = s.storm_date and a.kind = 'token_storm'
        where s.storm_date >= firsts.first_day + 14""")  # fmt: skip
    assert storms >= 8
    assert found / storms >= RECALL_MIN
    [(false_storms,)] = query(db, f"""
        select count(*) from main.fct_usage_anomalies a
        where kind = 'token_storm' and not exists (
            select 1 from read_csv('{truth}') s
            where s.tenant_id = a.tenant_id and s.storm_date = a.usage_date)""")  # fmt: skip
    [(tenant_days,)] = query(db, "select count(*) from main.fct_usage_series_daily "
                                 "where series_type = 'tenant'")  # fmt: skip
    assert false_storms * 1000 / tenant_days <= FALSE_STORMS_PER_1000_TENANT_DAYS_MAX
    [(severity, observed, expected)] = query(db, f"""
        select a.severity, a.observed_value, a.expected_value from main.fct_usage_anomalies a
        join read_csv('{truth}') s on a.tenant_id = s.tenant_id and a.usage_date = s.storm_date
        where a.kind = 'token_storm' order by s.multiplier desc limit 1""")  # fmt: skip
    assert observed > 4 * expected
    assert severity in ("high", "medium")
