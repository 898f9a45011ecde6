"""Months as the CLI and the bills name them: 'YYYY-MM', meaning the month's first day."""

from __future__ import annotations

from datetime import date

from meterhouse.errors import MeterhouseError


def parse_month(text: str) -> date:
    """'YYYY-MM' as the month's first day."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        return date(year, month, 1)
    except ValueError:
        raise MeterhouseError(
            f"--month {text!r}: give the month as YYYY-MM, e.g. 2026-09."
        ) from None
