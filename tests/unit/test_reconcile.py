"""The reconciliation core on hand-built bills and metered usage: each class, the tolerance
edge, price normalisation per PricingUnit, exact Decimal money, and refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from meterhouse.core.months import parse_month
from meterhouse.core.reconcile import reconcile
from meterhouse.core.vendor_bills import normalise_bill, parse_tolerance
from meterhouse.errors import MeterhouseError
from meterhouse.schemas.vendor_bills import BILL_ROWS
from tests.conftest import SHARED_DATA

MONTH = date(2026, 9, 1)
DETAILS = '{{"ModelId":"{m}","TokenDirection":"{d}","TokenCacheAction":"{a}"}}'


def bill_row(
    day: int,
    model: str,
    tokens: int,
    price: str,
    unit: str = "1000000 Tokens",
    direction: str = "Input",
    action: str = "Uncached",
    **extra: str,
) -> dict[str, str]:
    return {
        "BilledCost": "1.00",
        "ChargeCategory": "Usage",
        "ChargePeriodStart": f"2026-09-{day:02d}T00:00:00Z",
        "ChargePeriodEnd": f"2026-09-{day + 1:02d}T00:00:00Z",
        "ConsumedQuantity": str(tokens),
        "ConsumedUnit": "Tokens",
        "ListUnitPrice": price,
        "ContractedUnitPrice": price,
        "PricingQuantity": "",
        "PricingUnit": unit,
        "ServiceProviderName": "OpenAI",
        "SkuMeter": "",
        "SkuPriceDetails": DETAILS.format(m=model, d=direction, a=action),
        **extra,
    }


def bill(*rows: dict[str, str]) -> pl.DataFrame:
    return BILL_ROWS.validate(normalise_bill(pl.DataFrame(list(rows)), "bill.csv"))


def metered(*rows: tuple[int, str, str, str | None, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            (
                date(2026, 9, d),
                m,
                c,
                None if p is None else Decimal(p),
                t,
                None if p is None else Decimal(t) * Decimal(p) / 1_000_000,
            )
            for d, m, c, p, t in rows
        ],
        schema={
            "usage_date": pl.Date,
            "model_id": pl.String,
            "token_class": pl.String,
            "usd_per_1m_tokens": pl.Decimal(38, 12),
            "tokens": pl.Int64,
            "list_cost_usd": pl.Decimal(38, 18),
        },
        orient="row",
    )


NO_NAMES = pl.DataFrame(schema={"model_name": pl.String, "model_id": pl.String})


def classes(
    b: pl.DataFrame, m: pl.DataFrame, tolerance: str = "0.5%", names: pl.DataFrame = NO_NAMES
) -> dict[tuple[object, ...], str]:
    result = reconcile(b, m, names, MONTH, parse_tolerance(tolerance))
    return {
        (r["charge_period_start"].day, r["model_id"], r["token_class"]): r["variance_class"]
        for r in result.rows.iter_rows(named=True)
    }


def test_each_usage_class() -> None:
    b = bill(
        bill_row(1, "gpt-4.1", 1_000_000, "2"),  # matched
        bill_row(2, "gpt-4.1", 1_004_000, "2"),  # +0.4%
        bill_row(3, "gpt-4.1", 1_006_000, "2"),  # +0.6%
        bill_row(4, "gpt-4.1", 1_000_000, "2.2"),  # price
        bill_row(6, "gpt-9", 10, "2"),  # never metered
        bill_row(7, "gpt-4.1", 1_000_000, "2", PricingCategory="Committed"),
    )
    m = metered(*((d, "gpt-4.1", "input", "2", 1_000_000) for d in (1, 2, 3, 4, 5, 7)))
    assert classes(b, m) == {
        (1, "gpt-4.1", "input"): "matched",
        (2, "gpt-4.1", "input"): "quantity_within_tolerance",
        (3, "gpt-4.1", "input"): "quantity_beyond_tolerance",
        (4, "gpt-4.1", "input"): "unit_price_difference",
        (5, "gpt-4.1", "input"): "metered_not_billed",
        (6, "gpt-9", "input"): "billed_not_metered",
        (7, "gpt-4.1", "input"): "commitment_drawdown",
    }


def test_one_hour_cache_writes_are_told_apart_by_their_meter() -> None:
    """A Write row is a 1-hour cache write when its SkuMeter says so (as our FOCUS export and
    vendors spell it), else a 5-minute one; each reconciles with its own metered class."""
    model = "claude-sonnet-4-5"
    write = {"direction": "Input", "action": "Write"}
    b = bill(
        bill_row(1, model, 666_667, "3.75", **write, SkuMeter="Cache Write Input Tokens"),
        bill_row(1, model, 333_333, "6", **write, SkuMeter="Cache Write (1h) Input Tokens"),
        bill_row(2, model, 100, "6", **write, SkuMeter="1-hour cache write tokens"),
        bill_row(3, model, 100, "6", **write, SkuMeter="Cache write 1 hour"),
        bill_row(4, model, 100, "3.75", **write, SkuMeter="Cache write 5m (1M tokens)"),
    )
    assert b.sort("bill_row")["token_class"].to_list() == [
        "cache_write", "cache_write_1h", "cache_write_1h", "cache_write_1h", "cache_write",
    ]  # fmt: skip
    m = metered(
        (1, model, "cache_write", "3.75", 666_667),
        (1, model, "cache_write_1h", "6", 333_333),
        (2, model, "cache_write_1h", "6", 100),
        (3, model, "cache_write_1h", "6", 100),
        (4, model, "cache_write", "3.75", 100),
    )
    assert set(classes(b, m).values()) == {"matched"}
    # a 1-hour write billed as a 5-minute one is a price (and quantity) difference, not a match
    wrong = bill(bill_row(1, model, 333_333, "6", **write, SkuMeter="Cache Write Input Tokens"))
    assert classes(wrong, m)[(1, model, "cache_write")] != "matched"


def test_exactly_at_tolerance_is_within_and_one_token_more_is_not() -> None:
    m = metered((1, "gpt-4.1", "input", "2", 1_000_000))
    assert classes(bill(bill_row(1, "gpt-4.1", 1_005_000, "2")), m)[(1, "gpt-4.1", "input")] == (
        "quantity_within_tolerance"
    )
    assert classes(bill(bill_row(1, "gpt-4.1", 1_005_001, "2")), m)[(1, "gpt-4.1", "input")] == (
        "quantity_beyond_tolerance"
    )
    assert (
        classes(bill(bill_row(1, "gpt-4.1", 995_000, "2")), m, "0.005")[(1, "gpt-4.1", "input")]
        == "quantity_within_tolerance"
    )


@pytest.mark.parametrize(
    ("unit", "price", "per_1m"),
    [
        ("Tokens", "0.000002", "2"),
        ("1000 Tokens", "0.002", "2"),
        ("1000000 Tokens", "2", "2"),
        ("1M Tokens", "2.5", "2.5"),
        ("1K Tokens", "0.0025", "2.5"),
    ],
)
def test_unit_prices_are_normalised_to_usd_per_1m_tokens(
    unit: str, price: str, per_1m: str
) -> None:
    row = bill(bill_row(1, "gpt-4.1", 1000, price, unit=unit)).row(0, named=True)
    assert row["list_usd_per_1m_tokens"] == Decimal(per_1m)
    assert row["contracted_usd_per_1m_tokens"] == Decimal(per_1m)


def test_unknown_pricing_unit_is_refused_naming_the_row() -> None:
    with pytest.raises(MeterhouseError, match=r"row\(s\) 2: PricingUnit is not a token unit"):
        bill(bill_row(1, "gpt-4.1", 10, "2"), bill_row(2, "gpt-4.1", 10, "2", unit="Characters"))


def test_missing_focus_column_is_refused() -> None:
    row = bill_row(1, "gpt-4.1", 10, "2")
    del row["ChargePeriodEnd"]
    with pytest.raises(MeterhouseError, match=r"FOCUS column\(s\) ChargePeriodEnd missing"):
        bill(row)


def test_a_focus_1_2_bill_names_its_provider_in_provider_name() -> None:
    row = bill_row(1, "gpt-4.1", 10, "2")
    row["ProviderName"] = row.pop("ServiceProviderName")
    assert bill(row)["provider_name"].to_list() == ["OpenAI"]


def test_money_is_exact_decimal_end_to_end() -> None:
    # 0.1 + 0.2 in floats is 0.30000000000000004; in DECIMAL it is 0.3
    b = bill(
        bill_row(1, "gpt-4.1", 3, "0.1", BilledCost="0.1", EffectiveCost="0.1"),
        bill_row(
            1,
            "gpt-4.1",
            3,
            "0.1",
            BilledCost="0.2",
            EffectiveCost="0.2",
            SkuPriceDetails=DETAILS.format(m="gpt-4.1", d="Input", a="Uncached"),
        ),
    )
    assert b.schema["billed_cost_usd"] == pl.Decimal(38, 12)
    result = reconcile(b, metered((1, "gpt-4.1", "input", "0.1", 6)), NO_NAMES, MONTH, Decimal("0"))
    row = result.rows.row(0, named=True)
    assert row["billed_usd"] == Decimal("0.3")
    assert row["expected_usd"] == Decimal("0.0000006")
    assert row["difference_usd"] == Decimal("0.2999994")
    assert isinstance(row["difference_usd"], Decimal)


def test_model_names_match_through_resolution_then_case() -> None:
    m = metered((1, "gpt-4.1", "input", "2", 100), (1, "claude-x", "output", "2", 100))
    b = bill(
        bill_row(1, "openai/gpt-4.1", 100, "2"),
        bill_row(1, "CLAUDE-X", 100, "2", direction="Output"),
    )
    names = pl.DataFrame({"model_name": ["openai/gpt-4.1"], "model_id": ["gpt-4.1"]})
    assert set(classes(b, m, names=names).values()) == {"matched"}


def test_purchase_and_credit_are_informational() -> None:
    other = {"PricingUnit": "USD", "SkuPriceDetails": "", "ChargePeriodEnd": "2026-10-01T00:00:00Z"}
    b = bill(
        bill_row(1, "gpt-4.1", 100, "2"),
        {**bill_row(1, "", 0, ""), **other, "ChargeCategory": "Purchase", "BilledCost": "1000"},
        {**bill_row(1, "", 0, ""), **other, "ChargeCategory": "Credit", "BilledCost": "-5"},
    )
    result = reconcile(b, metered((1, "gpt-4.1", "input", "2", 100)), NO_NAMES, MONTH, Decimal(0))
    assert sorted(result.rows["variance_class"]) == ["commitment_purchase", "credit", "matched"]
    assert result.passed


@pytest.mark.parametrize("text", ["abc", "-1%", "150%", ""])
def test_bad_tolerance_is_refused(text: str) -> None:
    with pytest.raises(MeterhouseError, match="--tolerance"):
        parse_tolerance(text)


def test_bad_month_is_refused() -> None:
    with pytest.raises(MeterhouseError, match="YYYY-MM"):
        parse_month("2026-13")


@pytest.mark.skipif(
    not (SHARED_DATA / "focus_ai_billing").is_dir(),
    reason="../shared/data/focus_ai_billing is not beside the checkout",
)
def test_the_real_focus_examples_parse() -> None:
    from meterhouse.warehouse.reconcile import load_bill

    rows = pl.concat(
        [load_bill(p) for p in sorted((SHARED_DATA / "focus_ai_billing").glob("*.csv"))]
    )
    prices = {
        r["token_class"]: r["list_usd_per_1m_tokens"]
        for r in rows.filter(pl.col("token_class").is_not_null()).iter_rows(named=True)
    }
    assert prices == {
        "input": Decimal("5"),
        "output": Decimal("25"),
        "cache_read": Decimal("0.2"),
        "cache_write": Decimal("2.5"),
    }
    kinds = rows.group_by("line_kind").len().sort("line_kind").rows()
    assert kinds == [("commitment_drawdown", 2), ("commitment_purchase", 1), ("usage", 4)]
    assert rows.filter(pl.col("token_class") == "input")["billed_tokens"].to_list() == [
        5_000_000,
        8_400_000,
    ] or sorted(rows.filter(pl.col("token_class") == "input")["billed_tokens"]) == [
        5_000_000,
        8_400_000,
    ]
