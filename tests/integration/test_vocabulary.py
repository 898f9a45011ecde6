"""The vocabulary tables dbt builds from vars.vocabulary equal what core/vocabulary.py reads
from the same block (docs/decisions/0015): one definition, two readers."""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

from meterhouse.core import vocabulary
from tests.conftest import query


def test_built_vocabulary_equals_the_python_module(costed_sample: tuple[Path, Path]) -> None:
    _, db = costed_sample
    classes = query(
        db, "select * exclude (class_order) from vocabulary_token_classes order by class_order"
    )
    assert classes == [astuple(c) for c in vocabulary.TOKEN_CLASSES]
    tiers = query(
        db, "select * exclude (tier_order) from vocabulary_service_tiers order by tier_order"
    )
    assert tiers == [astuple(t) for t in vocabulary.SERVICE_TIERS]
    types = query(db, "select * from vocabulary_line_types order by line_type_order")
    assert types == [astuple(t) for t in vocabulary.LINE_TYPES]
