"""GPU cost mapping, cost per 1M tokens and tenant margin on a generated sample through the real
nightly job, checked against an independent recomputation in Python Decimal from the raw
tables, the inventory CSV and the list-rate seed."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from meterhouse.warehouse.dbt import run_dbt
from tests.conftest import query, run

ROOT = Path(__file__).resolve().parents[2]
CLOSE = Decimal("1e-9")  # the marts truncate each share at 1e-12; rows are few thousand


def _rates(folder: Path) -> tuple[list[dict[str, str]], dict[str, list[tuple[date, Decimal]]]]:
    with (folder / "contracts" / "gpu_inventory.csv").open() as handle:
        inventory = list(csv.DictReader(handle))
    lists: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    with (ROOT / "seeds" / "reference" / "gpu_list_rates.csv").open() as handle:
        for row in csv.DictReader(handle):
            lists[row["gpu_type"]].append(
                (date.fromisoformat(row["effective_from"]), Decimal(row["usd_per_gpu_hour"]))
            )
    return inventory, lists


def _rate(
    gpu: str,
    hour: datetime,
    inventory: list[dict[str, str]],
    lists: dict[str, list[tuple[date, Decimal]]],
) -> Decimal:
    [row] = [
        r
        for r in inventory
        if r["gpu_id"] == gpu
        and date.fromisoformat(r["effective_from"]) <= hour.date()
        and (not r["effective_to"] or hour.date() < date.fromisoformat(r["effective_to"]))
    ]
    if row["contract_usd_per_gpu_hour"]:
        return Decimal(row["contract_usd_per_gpu_hour"])
    return max(r for r in lists[row["gpu_type"]] if r[0] <= hour.date())[1]


@pytest.fixture(scope="module")
def expected(costed_sample: tuple[Path, Path]) -> dict[str, dict[object, Decimal]]:
    """GPU cost per tenant and month, idle cost per month and hour cost per month, recomputed."""
    folder, db = costed_sample
    inventory, lists = _rates(folder)
    cost = {
        (gpu, hour): _rate(gpu, hour, inventory, lists) * Decimal(round(powered * 1000)) / 3_600_000
        for gpu, hour, powered in query(
            db, "select gpu_id, hour_at, powered_seconds from raw.gpu_hours"
        )
    }
    weights: dict[tuple[str, datetime], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for gpu, hour, tenant, weight in query(
        db,
        "select gpu_id, date_trunc('hour', event_at), tenant_id, "
        "sum(input_tokens + 4 * output_tokens) from raw.usage_events "
        "where gpu_id is not null group by all",
    ):
        weights[(gpu, hour)][tenant] += int(weight)
    tenant_cost: dict[object, Decimal] = defaultdict(Decimal)
    idle: dict[object, Decimal] = defaultdict(Decimal)
    total: dict[object, Decimal] = defaultdict(Decimal)
    for key, amount in cost.items():
        month = key[1].date().replace(day=1)
        total[month] += amount
        served = weights.get(key, {})
        whole = sum(served.values())
        if whole == 0:
            idle[month] += amount
        for tenant, weight in served.items():
            if whole:
                tenant_cost[(tenant, month)] += amount * weight / whole
    return {"tenant": tenant_cost, "idle": idle, "total": total}


def test_gpu_hours_are_loaded_like_events(costed_sample: tuple[Path, Path]) -> None:
    folder, db = costed_sample
    made = json.loads((folder / "reference" / "generator.json").read_text())["gpu_hours"]
    [(read, loaded, duplicates, quarantined)] = query(
        db,
        "select sum(rows_read), sum(rows_loaded), sum(rows_duplicate), sum(rows_quarantined) "
        "from raw.load_manifest where dataset = 'gpu_hours'",
    )
    assert read == made["rows_written"] == loaded + duplicates + quarantined
    assert loaded == made["clean_rows"]
    assert duplicates == made["duplicate_rows"]
    assert quarantined == made["bad_rows"] + made["conflict_rows"]
    rules = dict(
        query(db, "select rules_broken, count(*) from raw.quarantined_gpu_hours group by 1")
    )
    assert rules["conflicting_duplicate"] == made["conflict_rows"]
    assert set(rules) == {
        "conflicting_duplicate", "busy_out_of_range", "powered_out_of_range", "missing_gpu_id",
        "hour_not_whole",
    }  # fmt: skip
    status = " ".join(run("status", "--db", db).output.split())
    assert (
        f"GPU telemetry file(s): rows read {read:,} = GPU-hours loaded {loaded:,} + "
        f"duplicates {duplicates:,} + quarantined {quarantined:,}"
    ) in status
    [(events,)] = query(db, "select count(*) from raw.usage_events")
    assert f"loaded {events:,} + duplicates" in status  # event totals stay events only
    again = run("ingest", "--gpu-hours", folder / "gpu_hours", "--db", db)
    assert again.exit_code == 0, again.output
    assert "0 new file(s)" in again.output
    assert query(db, "select count(*) from raw.gpu_hours") == [(loaded,)]


def test_gpu_cost_per_tenant_matches_an_independent_recomputation(
    costed_sample: tuple[Path, Path], expected: dict[str, dict[object, Decimal]]
) -> None:
    _, db = costed_sample
    marts = {
        (tenant, month): amount
        for tenant, month, amount in query(
            db, "select tenant_id, billing_month, gpu_cost_usd from main.fct_tenant_margin"
        )
    }
    served = {k: v for k, v in expected["tenant"].items() if v}
    assert served, "the sample has self-hosted usage"
    assert {k for k, v in marts.items() if v} == set(served)
    for key, amount in served.items():
        assert abs(marts[key] - amount) < CLOSE, key


def test_gpu_cost_is_conserved_to_the_cent_with_idle_cost_reported(
    costed_sample: tuple[Path, Path], expected: dict[str, dict[object, Decimal]]
) -> None:
    _, db = costed_sample
    rows = query(
        db,
        "select date_trunc('month', usage_date)::date, sum(cost_usd), "
        "sum(case when model_id = '(idle)' then cost_usd else 0 end) "
        "from main.fct_cost_per_1m_tokens where is_self_hosted group by 1",
    )
    assert len(rows) == len(expected["total"]) == 2
    for month, total, idle in rows:
        assert round(total, 2) == round(expected["total"][month], 2)
        assert abs(total - expected["total"][month]) < CLOSE
        assert abs(idle - expected["idle"][month]) < CLOSE
        assert idle > 0  # the spare GPUs serve nothing


def test_spread_policy_moves_idle_cost_onto_tenants_and_keeps_the_total(
    costed_sample: tuple[Path, Path], tmp_path: Path
) -> None:
    _, db = costed_sample
    spread_db = tmp_path / "spread.duckdb"
    shutil.copyfile(db, spread_db)
    run_dbt("build", spread_db, ["--select", "int_gpu_cost_allocated+", "--exclude",
            "test_type:unit", "--vars", "{gpu_idle_cost: spread}"])  # fmt: skip
    sql = (
        "select sum(cost_usd), sum(case when model_id = '(idle)' then cost_usd else 0 end) "
        "from main.fct_cost_per_1m_tokens where is_self_hosted"
    )
    [(total_report, idle_report)] = query(db, sql)
    [(total_spread, idle_spread)] = query(spread_db, sql)
    assert total_spread == total_report  # exact: the spread moves cost, it makes none
    assert idle_spread < idle_report  # days with usage on a type keep no idle cost
    margin = "select sum(gpu_cost_usd) from main.fct_tenant_margin"
    [(tenants_report,)] = query(db, margin)
    [(tenants_spread,)] = query(spread_db, margin)
    assert tenants_spread - tenants_report == idle_report - idle_spread


def test_margin_is_invoice_revenue_in_usd_minus_cost(costed_sample: tuple[Path, Path]) -> None:
    _, db = costed_sample
    rows = query(
        db,
        "select m.revenue_usd, i.total_amount - coalesce(c.credit, 0), f.units_per_usd, "
        "m.gross_margin_usd, "
        "m.total_cost_usd, m.is_loss, m.api_cost_usd, u.api_cost "
        "from main.fct_tenant_margin m join main.fct_invoices i using (invoice_id) "
        # the prepaid credit drawn is revenue earned: credit lines and their corrections
        "left join (select invoice_id, sum(amount) as credit from main.fct_invoice_lines "
        "  where coalesce(corrected_line_type, line_type) = 'credit' group by all) c "
        "  using (invoice_id) "
        "join main.fx_rates f on f.currency = i.currency and f.rate_month = ("
        "  select max(rate_month) from main.fx_rates r "
        "  where r.currency = i.currency and r.rate_month <= i.invoice_month) "
        "join (select tenant_id, date_trunc('month', usage_date)::date as month, "
        "  sum(api_cost_usd) as api_cost from main.int_usage_priced_daily "
        "  where not is_self_hosted group by all) u "
        "  on u.tenant_id = m.tenant_id and u.month = m.billing_month",
    )
    assert rows
    for revenue, total, units, margin, cost, is_loss, api, api_expected in rows:
        assert abs(revenue * units - total) < CLOSE
        assert margin == revenue - cost
        assert is_loss == (margin < 0)
        assert api == api_expected


def test_report_commands_print_write_and_refuse(
    costed_sample: tuple[Path, Path], tmp_path: Path
) -> None:
    _, db = costed_sample
    out = tmp_path / "margin.csv"
    shown = run("report", "margin", "--month", "2026-09", "--db", db, "--out", out)
    assert shown.exit_code == 0, shown.output
    assert "LOSS" in shown.output
    written = pl.read_csv(out, infer_schema=False)
    [(tenants,)] = query(
        db, "select count(*) from main.fct_tenant_margin where billing_month = '2026-09-01'"
    )
    assert written.height == tenants
    as_json = run("report", "cost", "--month", "2026-09", "--format", "json", "--db", db)
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)
    [(month_cost,)] = query(
        db,
        "select sum(cost_usd) from main.fct_cost_per_1m_tokens "
        "where usage_date between '2026-09-01' and '2026-09-30'",
    )
    assert sum(Decimal(r["cost_usd"]) for r in rows) == month_cost  # money as exact text
    assert any(r["hardware"].startswith("api:") for r in rows)
    assert any(r["model_id"] == "(idle)" for r in rows)
    empty = run("report", "cost", "--month", "2025-01", "--db", db)
    assert empty.exit_code == 2
    assert "Months with rows: 2026-09, 2026-10" in " ".join(empty.output.split())
    assert "Traceback" not in empty.output


def test_a_gpu_missing_from_the_inventory_fails_the_build(tmp_path: Path) -> None:
    hours = tmp_path / "gpu_hours" / "h.parquet"
    hours.parent.mkdir()
    pl.DataFrame(
        {"gpu_id": ["gpu-mystery-01"], "hour": [datetime(2026, 9, 1, 3)], "powered_seconds": [3600]}
    ).write_parquet(hours)
    db = tmp_path / "w.duckdb"
    assert run("ingest", "--gpu-hours", hours, "--db", db).exit_code == 0
    built = run("build", "--db", db)
    assert built.exit_code == 2
    assert "dbt build failed" in built.output
    assert "dbt fail: test not_null_int_gpu_hour_costs_gpu_type" in built.output
    log = tmp_path / "w.dbt" / "logs"  # dbt's own words, in the warehouse's dbt folder
    assert "Failure in test not_null_int_gpu_hour_costs_gpu_type" in "".join(
        f.read_text() for f in log.glob("output-*-build.log")
    )


def test_most_tenants_are_profitable_and_every_loss_names_its_cause(
    costed_sample: tuple[Path, Path], tmp_path: Path
) -> None:
    """The sample looks like a business: its fleet is sized to its traffic and the default
    plan carries a markup, so most tenant-months make money, and `report margin` says why
    each one that does not is a loss."""
    _, db = costed_sample
    rows = query(db, "select is_loss, loss_cause from main.fct_tenant_margin")
    assert len(rows) >= 10
    assert any(is_loss for is_loss, _ in rows)  # a loss to explain (the sample has some)
    assert all((cause is not None) == is_loss for is_loss, cause in rows)
    assert sum(not is_loss for is_loss, _ in rows) >= 0.7 * len(rows)
    out = tmp_path / "margin.csv"
    result = run("report", "margin", "--month", "2026-09", "--db", db, "--out", out)
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        for row in csv.DictReader(handle):
            assert bool(row["loss_cause"]) == (row["is_loss"] == "true"), row
