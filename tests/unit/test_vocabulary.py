"""The billing vocabulary (vars.vocabulary in dbt_project.yml) read by Python: well formed,
and the one list every Python module uses (docs/decisions/0015). The built warehouse tables
are compared with it in tests/integration/test_vocabulary.py."""

from __future__ import annotations

import csv

from meterhouse.core import prices, vocabulary
from meterhouse.core.invoices import TOTALS
from meterhouse.paths import project_dir
from meterhouse.schemas import events, invoices, vendor_bills


def test_names_are_unique_and_well_formed() -> None:
    for names in (vocabulary.TOKEN_CLASS_NAMES, vocabulary.SERVICE_TIER_NAMES,
                  vocabulary.LINE_TYPE_NAMES):  # fmt: skip
        assert len(set(names)) == len(names)
        assert all(name.isidentifier() and name.islower() for name in names)


def test_token_classes() -> None:
    names = set(vocabulary.TOKEN_CLASS_NAMES)
    required = {c.name for c in vocabulary.TOKEN_CLASSES if c.price_fallback is None}
    assert required == {"input", "output"}
    for c in vocabulary.TOKEN_CLASSES:
        assert c.direction in {"input", "output"}
        assert c.price_column == f"{c.name}_usd_per_1m_tokens"
        assert c.quantity_column.endswith("_tokens")
        # the fallbacks, followed on, reach a class priced in its own right, of the same
        # direction (cache_write_1h -> cache_write -> input), with no loop
        seen, fallback = [c.name], c.price_fallback
        while fallback is not None:
            assert fallback not in seen
            assert vocabulary.token_class(fallback).direction == c.direction
            seen.append(fallback)
            fallback = vocabulary.token_class(fallback).price_fallback
        assert seen[-1] in required
        assert c.focus_action is None or c.direction == "input"  # caches hold input tokens
    assert names == set(prices.TOKEN_CLASSES.values())


def test_vendor_classes_cover_every_token_once() -> None:
    """Each class a vendor does not bill on its own is billed within one of its direction."""
    vendor = vocabulary.VENDOR_TOKEN_CLASSES
    assert tuple(c.name for c in vendor) == vendor_bills.TOKEN_CLASSES
    assert {c.direction for c in vendor} == {"input", "output"}
    assert len({c.vendor_quantity_column for c in vendor}) == len(vendor)


def test_service_tiers() -> None:
    assert vocabulary.SERVICE_TIER_NAMES[0] == "standard"
    assert vocabulary.SERVICE_TIERS[0].catalog_suffix == ""
    assert events.SERVICE_TIERS == vocabulary.SERVICE_TIER_NAMES
    assert set(prices.SERVICE_TIERS.values()) == set(vocabulary.SERVICE_TIER_NAMES)


def test_line_types() -> None:
    orders = [t.order for t in vocabulary.LINE_TYPES]
    assert orders == list(range(1, len(orders) + 1))
    assert list(vocabulary.LINE_TYPE_NAMES) == invoices.LINE_TYPES
    # every line type adds to one invoice total, and every total but the grand one has types
    totals = {field for field, (_, types) in TOTALS.items() if types is not None}
    assert {t.total for t in vocabulary.LINE_TYPES} == totals
    summed = [name for _, types in TOTALS.values() if types for name in types]
    assert sorted(summed) == sorted(vocabulary.LINE_TYPE_NAMES)
    assert all(
        (t.focus_category is None) == (t.name == "correction") for t in vocabulary.LINE_TYPES
    )


def test_seeds_use_the_vocabulary() -> None:
    """The shipped price and rate seeds name only vocabulary classes and tiers (a rate card's
    '*' is any class)."""
    seeds = project_dir() / "seeds"
    for path in [*seeds.rglob("price_*.csv"), *seeds.rglob("rate_cards.csv")]:
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert {r["token_class"] for r in rows} - {"*"} <= set(vocabulary.TOKEN_CLASS_NAMES), path
        tiers = {r["service_tier"] for r in rows if "service_tier" in r}
        assert tiers <= set(vocabulary.SERVICE_TIER_NAMES), path
