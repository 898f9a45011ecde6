"""`meterhouse forecast` on a generated 90-day sample: every tenant forecast by the nightly job,
the chosen method beats naive and seasonal naive in the backtest, and its 80% intervals cover about
80% of what happened."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import polars as pl
import pytest

from meterhouse.charts import HEIGHT_PX, WIDTH_PX
from tests.conftest import query, run


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("forecast")
    sample, db = root / "sample", root / "warehouse.duckdb"
    assert run("generate", "--out", sample, "--days", 90, "--tenants", 20,
               "--events-per-day", 1500, "--seed", 4).exit_code == 0  # fmt: skip
    result = run("nightly", "--events", sample / "events", "--contracts", sample / "contracts",
                 "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    return db


def test_nightly_forecasts_every_tenant_and_model(warehouse: Path) -> None:
    [(through,)] = query(warehouse, "select max(usage_date) from main.fct_usage_daily")
    rows = query(warehouse, "select series_type, series_key, token_direction, count(*), "
                 "min(forecast_date), max(trained_through_date) from main.fct_usage_forecast "
                 "group by all")  # fmt: skip
    tenants = {r[0] for r in query(warehouse, "select distinct tenant_id from raw.usage_events")}
    models = {r[0] for r in query(warehouse, "select distinct model_id from main.fct_usage_daily")}
    assert {(t, d) for kind, t, d, *_ in rows if kind == "tenant"} == {
        (t, d) for t in tenants for d in ("total", "input", "output")
    }
    assert {key for kind, key, *_ in rows if kind == "model"} == models
    assert {(n, trained) for *_, n, _, trained in rows} == {(30, through)}
    methods = query(warehouse, "select distinct method from main.fct_usage_forecast")
    assert ("ets_seasonal_naive",) in methods


def test_the_chosen_method_beats_both_baselines_with_honest_intervals(warehouse: Path) -> None:
    result = run("forecast", "backtest", "--json", "--db", warehouse)
    assert result.exit_code == 0, result.output
    scores = {(r["horizon_days"], r["method"]): r for r in json.loads(result.stdout)}
    assert {h for h, _ in scores} == {7, 30, 0}  # 0: over both horizons
    for horizon in (7, 30, 0):
        chosen = scores[(horizon, "auto")]
        assert chosen["forecasts"] >= 4 * 15  # at least 4 origins of most tenants
        assert chosen["mase"] < scores[(horizon, "seasonal_naive")]["mase"]
        assert chosen["mase"] < scores[(horizon, "naive")]["mase"]
    assert 0.70 <= scores[(0, "auto")]["covered_80"] <= 0.90
    assert scores[(0, "auto")]["covered_95"] >= scores[(0, "auto")]["covered_80"]


def test_one_tenant_forecast_to_csv_and_unknown_tenants_refused(
    warehouse: Path, tmp_path: Path
) -> None:
    result = run("forecast", "--tenant", "tn_0003", "--horizon", 7, "--out", tmp_path,
                 "--db", warehouse)  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = pl.read_csv(tmp_path / "forecast.csv")
    assert set(rows["series_key"]) == {"tn_0003"}
    assert rows.height == 7 * 3
    png = (tmp_path / "tn_0003.png").read_bytes()  # a real PNG of the documented size
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (WIDTH_PX, HEIGHT_PX)
    assert len(png) > 10_000  # lines and bands drawn, not an empty canvas
    assert "tn_0003" in result.output
    refused = run("forecast", "--tenant", "tn_9999", "--db", warehouse)
    assert refused.exit_code == 2
    assert "no usage history for tenant tn_9999" in refused.output
    assert "Traceback" not in refused.output


def test_spend_projection_starts_from_the_month_so_far(warehouse: Path) -> None:
    rows = query(warehouse, """
        select p.tenant_id, p.projected_usage_amount, i.subtotal, p.projected_total_low_80,
               p.projected_total, p.projected_total_high_80
        from main.fct_spend_projection p
        join main.fct_invoices i on i.tenant_id = p.tenant_id
         and i.invoice_month = p.projection_month""")  # fmt: skip
    latest = "(select max(invoice_month) from main.fct_invoices)"
    [(invoiced,)] = query(warehouse, f"select count(*) from main.fct_invoices "
                                     f"where invoice_month = {latest}")  # fmt: skip
    assert len(rows) == invoiced  # every tenant invoiced this month is projected
    for _, projected_usage, so_far, low, expected, high in rows:
        assert projected_usage >= so_far  # the rest of the month adds, never removes
        assert low <= expected <= high
