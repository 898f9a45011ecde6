"""The billing vocabulary: token classes, service tiers and invoice line types, in Python.

The one definition is the `vocabulary` var in dbt_project.yml, which the dbt macros read at
compile time to generate their per-class columns (docs/decisions/0015). This module reads the
same block, so that the loader, the renderers and the vendor-bill code iterate the very list
the SQL loops over, and adding a token class is one edit there. tests/unit/test_vocabulary.py
and the built vocabulary_* tables hold the two readings equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import yaml  # type: ignore[import-untyped]  # PyYAML, installed with dbt-core

from meterhouse.errors import MeterhouseError
from meterhouse.paths import project_dir


@dataclass(frozen=True)
class TokenClass:
    """A billed class of tokens (dbt_project.yml explains each field)."""

    name: str
    direction: str  # input or output
    quantity_column: str
    price_column: str
    price_fallback: str | None
    vendor_quantity_column: str | None
    catalog_key: str
    focus_action: str | None
    focus_unit: str
    focus_description: str
    label: str


@dataclass(frozen=True)
class ServiceTier:
    name: str
    catalog_suffix: str
    label: str


@dataclass(frozen=True)
class LineType:
    name: str
    order: int
    total: str
    focus_category: str | None
    focus_frequency: str | None
    label: str


def _load() -> dict[str, list[dict[str, Any]]]:
    path = project_dir() / "dbt_project.yml"
    try:
        block = yaml.safe_load(path.read_text(encoding="utf-8"))["vars"]["vocabulary"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise MeterhouseError(
            f"cannot read the billing vocabulary (vars.vocabulary) from {path}: {error}"
        ) from error
    return cast(dict[str, list[dict[str, Any]]], block)


_VOCABULARY = _load()

TOKEN_CLASSES: tuple[TokenClass, ...] = tuple(
    TokenClass(**item) for item in _VOCABULARY["token_classes"]
)
SERVICE_TIERS: tuple[ServiceTier, ...] = tuple(
    ServiceTier(**item) for item in _VOCABULARY["service_tiers"]
)
LINE_TYPES: tuple[LineType, ...] = tuple(LineType(**item) for item in _VOCABULARY["line_types"])

TOKEN_CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in TOKEN_CLASSES)
SERVICE_TIER_NAMES: tuple[str, ...] = tuple(t.name for t in SERVICE_TIERS)
LINE_TYPE_NAMES: tuple[str, ...] = tuple(t.name for t in LINE_TYPES)
# The classes a vendor's FOCUS bill carries (the others are billed within one of them).
VENDOR_TOKEN_CLASSES: tuple[TokenClass, ...] = tuple(
    c for c in TOKEN_CLASSES if c.vendor_quantity_column is not None
)


def token_class(name: str) -> TokenClass:
    """The token class called `name`."""
    for item in TOKEN_CLASSES:
        if item.name == name:
            return item
    raise KeyError(name)


def line_types_of_total(total: str) -> list[str]:
    """The line types that add to one invoice total (subtotal, discounts, ...), in order."""
    return [t.name for t in LINE_TYPES if t.total == total]
