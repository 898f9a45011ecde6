"""The marts users read, as Pandera schemas made from their dbt contracts.

One definition: a mart's column types, not-null constraints and accepted values are its dbt
contract in the model YAML (models/marts/**/_*.yml). dbt renders that YAML, Jinja included,
into the manifest it writes on every run, and the schemas are made from the manifest's nodes
when the check runs, so a contract edit changes the check with no edit here. What a reader
relies on beyond the contract (a margin is revenue less costs, an interval's bounds are in
order, a cost per 1M tokens is the cost over the tokens) is added here, each as a Polars
expression on the column it is about (docs/decisions/0020).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jinja2
import pandera.polars as pa
import polars as pl
from jinja2.nativetypes import NativeEnvironment
from pandera.engines.polars_engine import DateTime

from meterhouse.core.vocabulary import LINE_TYPES, SERVICE_TIERS, TOKEN_CLASSES
from meterhouse.errors import MeterhouseError

# dbt's data types as the contracts spell them, and what they arrive as through Arrow on
# either target (a timestamp's zone depends on the engine that wrote it).
DTYPES: dict[str, Any] = {
    "string": pl.String,
    "date": pl.Date,
    "timestamp": DateTime(time_zone_agnostic=True, time_unit="us"),
    "bigint": pl.Int64,
    "integer": pl.Int32,
    "boolean": pl.Boolean,
    "double": pl.Float64,
}
_DECIMAL = re.compile(r"\Adecimal\((\d+),\s*(\d+)\)\Z")


@dataclass(frozen=True)
class ColumnContract:
    data_type: str  # as the contract spells it
    not_null: bool
    accepted: tuple[object, ...] | None  # accepted_values, when the contract lists them


@dataclass(frozen=True)
class MartContract:
    name: str
    columns: dict[str, ColumnContract]
    grain: tuple[str, ...]  # the columns a row is named by (its grain test, if it has one)


def mart_contracts(manifest: Mapping[str, Any]) -> dict[str, MartContract]:
    """Every contracted mart of the manifest (models under models/marts/), by name."""
    nodes: dict[str, Any] = manifest["nodes"]
    tests: dict[str, list[Mapping[str, Any]]] = {}
    for node in nodes.values():
        if node["resource_type"] == "test" and node.get("test_metadata"):
            tests.setdefault(node.get("attached_node") or "", []).append(node)
    marts = {}
    for unique_id, node in nodes.items():
        if node["resource_type"] != "model" or not node["contract"]["enforced"]:
            continue
        if not node["original_file_path"].startswith("models/marts/"):
            continue
        not_null = {c for t in tests.get(unique_id, []) if (c := _tested(t, "not_null"))}
        accepted = {
            c: tuple(_rendered(t["test_metadata"]["kwargs"]["values"], node["name"], c))
            for t in tests.get(unique_id, [])
            if (c := _tested(t, "accepted_values"))
        }
        grain = next(
            (
                tuple(t["test_metadata"]["kwargs"]["columns"])
                for t in tests.get(unique_id, [])
                if t["test_metadata"]["name"] == "unique_combination"
            ),
            tuple(c for t in tests.get(unique_id, []) if (c := _tested(t, "unique")))[:1],
        )
        columns = {
            name: ColumnContract(
                data_type=str(column["data_type"]).lower(),
                not_null=name in not_null
                or any(c["type"] == "not_null" for c in column["constraints"]),
                accepted=accepted.get(name),
            )
            for name, column in node["columns"].items()
        }
        # without a grain test, the columns that are never null name a row best
        grain = grain or tuple(name for name, column in columns.items() if column.not_null)
        marts[node["alias"]] = MartContract(node["alias"], columns, grain)
    return marts


def _tested(test: Mapping[str, Any], name: str) -> str | None:
    """The column a generic test `name` is on, or None for another test."""
    return test.get("column_name") if test["test_metadata"]["name"] == name else None


# The macros a test argument in the model YAML may call, as dbt's macros answer them
# (macros/billing/vocabulary.sql): the manifest keeps such an argument as Jinja text.
_MACROS = {
    "vocabulary": lambda part: {
        "token_classes": TOKEN_CLASSES, "service_tiers": SERVICE_TIERS, "line_types": LINE_TYPES,
    }[part],
    "token_classes": lambda: TOKEN_CLASSES,
}  # fmt: skip


def _rendered(values: object, mart: str, column: str) -> list[object]:
    """A test's list argument, rendered as dbt renders it (natively, as a list) when the
    manifest holds it as Jinja."""
    if isinstance(values, str):
        try:
            values = NativeEnvironment().from_string(values).render(**_MACROS)
        except jinja2.TemplateError as exc:
            raise MeterhouseError(
                f"{mart}.{column}: cannot read the accepted values {values!r} of its model "
                f"YAML ({exc}); add the macro it calls to _MACROS in "
                "cli/meterhouse/schemas/marts.py."
            ) from exc
    if not isinstance(values, list):
        raise MeterhouseError(f"{mart}.{column}: its accepted values are not a list: {values!r}")
    return values


def dtype(mart: str, column: str, data_type: str) -> Any:
    """The Pandera data type of a contract's data type."""
    if found := _DECIMAL.match(data_type):
        return pl.Decimal(int(found[1]), int(found[2]))
    if data_type not in DTYPES:
        raise MeterhouseError(
            f"{mart}.{column}: the contract's data type {data_type!r} has no check yet; add "
            "it to DTYPES in cli/meterhouse/schemas/marts.py."
        )
    return DTYPES[data_type]


# What a reader relies on beyond the contract, per mart and column: the rule as a reader
# would say it, and an expression true on a row that keeps it.
def _per_1m(per_1m: str, cost: str, tokens: pl.Expr) -> pl.Expr:
    """`per_1m` is `cost` x 1,000,000 / `tokens`, truncated at 1e-12; null without tokens."""
    short = pl.col(cost) * 1_000_000 - pl.col(per_1m) * tokens
    step = tokens.cast(pl.Decimal(38, 12)) * Decimal("0.000000000001")
    return (
        pl.when(tokens > 0).then((short >= 0) & (short < step)).otherwise(pl.col(per_1m).is_null())
    )


_TOKENS = pl.col("input_tokens") + pl.col("output_tokens")
READER_CHECKS: dict[str, dict[str, tuple[str, pl.Expr]]] = {
    "fct_tenant_margin": {
        "gross_margin_usd": (
            "gross_margin_usd = revenue_usd - total_cost_usd",
            pl.col("gross_margin_usd") == pl.col("revenue_usd") - pl.col("total_cost_usd"),
        ),
        "total_cost_usd": (
            "total_cost_usd = api_cost_usd + gpu_cost_usd",
            pl.col("total_cost_usd") == pl.col("api_cost_usd") + pl.col("gpu_cost_usd"),
        ),
    },
    "fct_cost_per_1m_tokens": {
        "cost_usd_per_1m_tokens": (
            "cost_usd_per_1m_tokens = cost_usd x 1M / (input_tokens + output_tokens)",
            _per_1m("cost_usd_per_1m_tokens", "cost_usd", _TOKENS),
        ),
        "input_cost_usd_per_1m_tokens": (
            "input_cost_usd_per_1m_tokens = input_cost_usd x 1M / input_tokens",
            _per_1m("input_cost_usd_per_1m_tokens", "input_cost_usd", pl.col("input_tokens")),
        ),
        "output_cost_usd_per_1m_tokens": (
            "output_cost_usd_per_1m_tokens = output_cost_usd x 1M / output_tokens",
            _per_1m("output_cost_usd_per_1m_tokens", "output_cost_usd", pl.col("output_tokens")),
        ),
    },
    "fct_usage_forecast": {
        "lower_95_tokens": (
            "lower_95_tokens <= lower_80_tokens",
            pl.col("lower_95_tokens") <= pl.col("lower_80_tokens"),
        ),
        "lower_80_tokens": (
            "lower_80_tokens <= predicted_tokens",
            pl.col("lower_80_tokens") <= pl.col("predicted_tokens"),
        ),
        "upper_80_tokens": (
            "predicted_tokens <= upper_80_tokens",
            pl.col("predicted_tokens") <= pl.col("upper_80_tokens"),
        ),
        "upper_95_tokens": (
            "upper_80_tokens <= upper_95_tokens",
            pl.col("upper_80_tokens") <= pl.col("upper_95_tokens"),
        ),
    },
    "fct_spend_projection": {
        "projected_total_low_80": (
            "projected_total_low_80 <= projected_total",
            pl.col("projected_total_low_80") <= pl.col("projected_total"),
        ),
        "projected_total_high_80": (
            "projected_total <= projected_total_high_80",
            pl.col("projected_total") <= pl.col("projected_total_high_80"),
        ),
    },
}


def _reader_check(rule: str, keeps: pl.Expr) -> pa.Check:
    # a row whose rule cannot be evaluated (a null in it) does not keep it, as in dbt's
    # expression_is_true_not_null
    return pa.Check(lambda data: data.lazyframe.select(keeps.fill_null(False)), error=rule)


def mart_schema(contract: MartContract) -> pa.DataFrameSchema:
    """The Pandera schema of one mart: its contract, and the reader's checks on it."""
    reader = READER_CHECKS.get(contract.name, {})
    columns = {}
    for name, column in contract.columns.items():
        checks = []
        if column.accepted is not None:
            listed = ", ".join(str(v) for v in column.accepted)
            checks.append(pa.Check.isin(list(column.accepted), error=f"accepted values ({listed})"))
        if name in reader:
            checks.append(_reader_check(*reader[name]))
        columns[name] = pa.Column(
            dtype(contract.name, name, column.data_type), checks, nullable=not column.not_null
        )
    return pa.DataFrameSchema(columns, name=contract.name)
