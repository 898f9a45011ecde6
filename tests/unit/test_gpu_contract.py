"""The GPU-hour contract as code and as documentation say the same thing, and the shipped GPU
list rates are the public price list's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from meterhouse.schemas.gpu_hours import COLUMNS, RULES
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "gpu-hour-contract.md").read_text()
PRICE_LIST = SHARED_DATA / "gpu_prices" / "runpod_vms_2023-10.csv"


def test_every_column_name_and_rule_is_documented() -> None:
    names = [n for c in COLUMNS for n in (c.name, *c.other_names)] + [r.name for r in RULES]
    assert [n for n in names if f"`{n}`" not in DOC] == []


def test_list_rates_are_the_price_list_per_gpu() -> None:
    if not PRICE_LIST.is_file():
        pytest.skip(f"{PRICE_LIST} is absent: the shipped rates cannot be checked against it")
    listed = pl.read_csv(PRICE_LIST, infer_schema=False).filter(pl.col("Price").is_not_null())
    per_gpu: dict[str, set[Decimal]] = {}
    for name, price, count in listed.select("AcceleratorName", "Price", "AcceleratorCount").rows():
        per_gpu.setdefault(name, set()).add(Decimal(price) / Decimal(count))
    seed = pl.read_csv(ROOT / "seeds" / "reference" / "gpu_list_rates.csv", infer_schema=False)
    shipped = {
        name: Decimal(rate) for name, rate in seed.select("gpu_type", "usd_per_gpu_hour").rows()
    }
    assert set(shipped) == set(per_gpu)
    for name, rates in per_gpu.items():
        assert rates == {shipped[name]}, name  # one rate per GPU, whatever the instance size
