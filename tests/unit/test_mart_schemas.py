"""The marts' Pandera schemas (schemas/marts.py): made from a dbt manifest's contracts, with
the checks a reader relies on. A manifest here is the few fields dbt writes that the schemas
read; tests/integration/test_mart_checks.py reads the real one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandera.polars as pa
import polars as pl
import pytest

from meterhouse.core.vocabulary import LINE_TYPE_NAMES
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.marts import mart_contracts, mart_schema

MONEY = pl.Decimal(38, 12)


def _manifest(mart: str, columns: dict[str, str], tests: list[dict[str, Any]]) -> dict[str, Any]:
    unique_id = f"model.meterhouse.{mart}"
    nodes: dict[str, Any] = {
        unique_id: {
            "resource_type": "model",
            "name": mart,
            "alias": mart,
            "original_file_path": f"models/marts/area/{mart}.sql",
            "contract": {"enforced": True},
            "depends_on": {"nodes": []},
            "columns": {
                name: {"data_type": kind, "constraints": []} for name, kind in columns.items()
            },
        }
    }
    for n, (name, kwargs) in enumerate((t["name"], t["kwargs"]) for t in tests):
        nodes[f"test.meterhouse.t{n}"] = {
            "resource_type": "test",
            "attached_node": unique_id,
            "column_name": kwargs.get("column_name"),
            "test_metadata": {"name": name, "kwargs": kwargs},
        }
    return {"nodes": nodes}


def _failing(mart: str, columns: dict[str, str], rows: pl.DataFrame,
             tests: list[dict[str, Any]] | None = None) -> set[tuple[str, str, int]]:  # fmt: skip
    """(column, check, row) of every failure of `rows` against the mart's schema."""
    contract = mart_contracts(_manifest(mart, columns, tests or []))[mart]
    try:
        mart_schema(contract).validate(rows, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return {(c, k, -1 if i is None else i) for c, k, i in
                exc.failure_cases.select("column", "check", "index").iter_rows()}  # fmt: skip
    return set()


MARGIN = {"tenant_id": "string"} | dict.fromkeys(
    ["revenue_usd", "api_cost_usd", "gpu_cost_usd", "total_cost_usd", "gross_margin_usd"],
    "decimal(38, 12)",
)


def test_a_margin_that_is_not_revenue_less_costs_fails_on_its_row() -> None:
    rows = pl.DataFrame(
        {"tenant_id": ["a", "b"], "revenue_usd": [Decimal("10"), Decimal("10")],
         "api_cost_usd": [Decimal("3"), Decimal("3")], "gpu_cost_usd": [Decimal("1")] * 2,
         "total_cost_usd": [Decimal("4"), Decimal("4")],
         "gross_margin_usd": [Decimal("6"), Decimal("6.000000000001")]},
        schema_overrides=dict.fromkeys(list(MARGIN)[1:], MONEY),
    )  # fmt: skip
    assert _failing("fct_tenant_margin", MARGIN, rows) == {
        ("gross_margin_usd", "gross_margin_usd = revenue_usd - total_cost_usd", 1)
    }


COSTS = {"input_tokens": "bigint", "output_tokens": "bigint", "cost_usd": "decimal(38, 12)",
         "cost_usd_per_1m_tokens": "decimal(38, 12)"}  # fmt: skip


def test_a_cost_per_1m_tokens_is_the_cost_over_the_tokens_truncated_at_1e_12() -> None:
    # 1 USD over 3M tokens: 0.333333333333 per 1M (truncated); one 1e-12 more or less is
    # not the cost; without tokens there is no cost per 1M
    per_1m = ["0.333333333333", "0.333333333334", "0.333333333332", None, "0"]
    rows = pl.DataFrame(
        {"input_tokens": [2_000_000] * 3 + [0, 0], "output_tokens": [1_000_000] * 3 + [0, 0],
         "cost_usd": [Decimal(1)] * 3 + [Decimal(0)] * 2,
         "cost_usd_per_1m_tokens": [None if v is None else Decimal(v) for v in per_1m]},
        schema_overrides={"cost_usd": MONEY, "cost_usd_per_1m_tokens": MONEY},
    )  # fmt: skip
    rule = "cost_usd_per_1m_tokens = cost_usd x 1M / (input_tokens + output_tokens)"
    assert _failing("fct_cost_per_1m_tokens", COSTS, rows) == {
        ("cost_usd_per_1m_tokens", rule, 1),
        ("cost_usd_per_1m_tokens", rule, 2),
        ("cost_usd_per_1m_tokens", rule, 4),
    }


def test_forecast_bounds_out_of_order_fail_on_the_bound_that_is_out() -> None:
    bounds = ["lower_95_tokens", "lower_80_tokens", "predicted_tokens", "upper_80_tokens",
              "upper_95_tokens"]  # fmt: skip
    rows = pl.DataFrame(
        [(1, 2, 3, 4, 5), (1, 4, 3, 4, 5), (1, 2, 3, 6, 5)], schema=bounds, orient="row"
    )
    assert _failing("fct_usage_forecast", dict.fromkeys(bounds, "bigint"), rows) == {
        ("lower_80_tokens", "lower_80_tokens <= predicted_tokens", 1),
        ("upper_95_tokens", "upper_80_tokens <= upper_95_tokens", 2),
    }


def test_accepted_values_written_as_jinja_are_rendered_from_the_vocabulary() -> None:
    contract = mart_contracts(_manifest("fct_x", {"line_type": "string"}, [{
        "name": "accepted_values",
        "kwargs": {"column_name": "line_type",
                   "values": "{{ vocabulary('line_types') | map(attribute='name') | list }}"},
    }]))["fct_x"]  # fmt: skip
    assert contract.columns["line_type"].accepted == LINE_TYPE_NAMES
    rows = pl.DataFrame({"line_type": [LINE_TYPE_NAMES[0], "refund"]})
    assert {(c, i) for c, _, i in _failing("fct_x", {"line_type": "string"}, rows, [{
        "name": "accepted_values",
        "kwargs": {"column_name": "line_type", "values": list(LINE_TYPE_NAMES)},
    }])} == {("line_type", 1)}  # fmt: skip


def test_the_column_types_and_not_null_come_from_the_contract() -> None:
    columns = {"tenant_id": "string", "margin_ratio": "decimal(18, 4)", "n": "integer"}
    rows = pl.DataFrame(
        {"tenant_id": ["a", None], "margin_ratio": [Decimal("0.5"), None], "n": [1, 2]},
        schema_overrides={"margin_ratio": pl.Decimal(18, 6)},
    )
    tests = [{"name": "not_null", "kwargs": {"column_name": "tenant_id"}}]
    assert {(c, i) for c, _, i in _failing("fct_x", columns, rows, tests)} == {
        ("tenant_id", 1),  # null
        ("margin_ratio", -1),  # decimal(18, 6), not (18, 4)
        ("n", -1),  # Int64, not integer
    }


def test_a_contract_type_without_a_check_is_named() -> None:
    contract = mart_contracts(_manifest("fct_x", {"ratio": "float"}, []))["fct_x"]
    with pytest.raises(MeterhouseError, match=r"fct_x\.ratio: .*'float'"):
        mart_schema(contract)
