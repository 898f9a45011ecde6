"""`meterhouse prices import` and rating with the price in force at the event's time."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import SHARED_DATA, copy_project, event_rows, query, run

CATALOG: dict[str, Any] = {
    "sample_spec": {"mode": "one of: chat, embedding", "input_cost_per_token": 0.0},
    "gpt-4.1": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 2e-06,
        "output_cost_per_token": 8e-06,
        "cache_read_input_token_cost": 5e-07,
        "input_cost_per_token_batches": 1e-06,
        "output_cost_per_token_batches": 4e-06,
    },
    "claude-sonnet-4-20250514": {
        "litellm_provider": "anthropic",
        "mode": "chat",
        "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.5e-05,
        "cache_read_input_token_cost": 3e-07,
        "cache_creation_input_token_cost": 3.75e-06,
        "cache_creation_input_token_cost_above_1hr": 6e-06,
        "input_cost_per_token_above_200k_tokens": 6e-06,
        "output_cost_per_token_above_200k_tokens": 2.25e-05,
    },
    "text-embedding-3-small": {"mode": "embedding", "input_cost_per_token": 2e-08},
}


def write_catalog(path: Path, catalog: dict[str, Any]) -> Path:
    path.write_text(json.dumps(catalog))
    return path


def gpt_input_at(path: Path, usd_per_token: float) -> Path:
    """CATALOG with another gpt-4.1 input price, written to `path`."""
    changed = json.loads(json.dumps(CATALOG))
    changed["gpt-4.1"]["input_cost_per_token"] = usd_per_token
    return write_catalog(path, changed)


def price_rows(db: Path) -> list[tuple[Any, ...]]:
    return query(
        db,
        "select model_id, service_tier, min_context_tokens, token_class, usd_per_1m_tokens, "
        "effective_from, effective_to from raw.price_book order by all",
    )


def test_import_reads_token_classes_tiers_and_context_tiers(tmp_path: Path, db: Path) -> None:
    result = run("prices", "import", "--litellm", write_catalog(tmp_path / "c.json", CATALOG),
                 "--effective-from", "2026-07-24", "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {(r[0], r[1], r[2], r[3]): r[4] for r in price_rows(db)}
    assert rows[("gpt-4.1", "standard", 0, "input")] == Decimal("2.000000000000")
    assert rows[("gpt-4.1", "batch", 0, "output")] == Decimal("4.000000000000")
    assert rows[("gpt-4.1", "standard", 0, "cache_read")] == Decimal("0.500000000000")
    assert rows[("claude-sonnet-4-20250514", "standard", 200000, "output")] == Decimal("22.5")
    assert rows[("claude-sonnet-4-20250514", "standard", 0, "cache_write")] == Decimal("3.75")
    # the 1-hour cache write is a class of its own, not a context tier of the 5-minute one
    assert rows[("claude-sonnet-4-20250514", "standard", 0, "cache_write_1h")] == Decimal("6")
    assert not any(key[0] == "text-embedding-3-small" for key in rows)  # not a chat model
    assert "2 models" in result.output


def test_reimport_closes_changed_prices_and_keeps_history(tmp_path: Path, db: Path) -> None:
    first = write_catalog(tmp_path / "july.json", CATALOG)
    run("prices", "import", "--litellm", first, "--effective-from", "2026-07-24", "--db", db)
    second = gpt_input_at(tmp_path / "sept.json", 1.5e-06)
    result = run("prices", "import", "--litellm", second, "--effective-from", "2026-09-15",
                 "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 changed" in result.output

    history = [r for r in price_rows(db) if r[:4] == ("gpt-4.1", "standard", 0, "input")]
    assert history == [
        ("gpt-4.1", "standard", 0, "input", Decimal("1.5"), datetime(2026, 9, 15), None),
        ("gpt-4.1", "standard", 0, "input", Decimal("2"), datetime(2026, 7, 24),
         datetime(2026, 9, 15)),
    ]  # fmt: skip
    unchanged = run("prices", "import", "--litellm", second, "--effective-from", "2026-10-01",
                    "--db", db)  # fmt: skip
    assert "0 changed" in unchanged.output
    assert len(price_rows(db)) == 13  # 12 prices + 1 closed row: an unchanged import adds none

    back = run("prices", "import", "--litellm", first, "--effective-from", "2026-08-01", "--db", db)
    assert back.exit_code == 2
    assert "history is never rewritten" in back.output


def test_bad_catalog_is_a_clear_error(tmp_path: Path, db: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"gpt-4.1": {"input_cost_per_token": 2e-06,')
    result = run("prices", "import", "--litellm", broken, "--effective-from", "2026-07-24",
                 "--db", db)  # fmt: skip
    assert result.exit_code == 2
    assert "not valid JSON" in result.output
    assert "Traceback" not in result.output
    binary = tmp_path / "catalog.parquet"
    binary.write_bytes(b"PAR1\xff\xfe\x00\x9c")
    result = run("prices", "import", "--litellm", binary, "--effective-from", "2026-07-24",
                 "--db", db)  # fmt: skip
    assert result.exit_code == 2
    assert "not valid JSON" in result.output


@pytest.mark.slow
def test_usage_is_rated_at_the_price_in_force_and_later_imports_change_nothing(
    tmp_path: Path, db: Path, write: Any
) -> None:
    """Rated at the price in force at event_at; a later import never re-prices history."""
    july = write_catalog(tmp_path / "july.json", CATALOG)
    sept = gpt_input_at(tmp_path / "sept.json", 1.5e-06)
    run("prices", "import", "--litellm", july, "--effective-from", "2026-07-24", "--db", db)
    run("prices", "import", "--litellm", sept, "--effective-from", "2026-09-15T12:00:00",
        "--db", db)  # fmt: skip
    at = [datetime(2026, 9, 15, 11, 59, 59, 999_999, tzinfo=UTC),  # just before the change
          datetime(2026, 9, 15, 12, 0, 0, tzinfo=UTC)]  # fmt: skip
    events = event_rows(2, event_at=at, input_tokens=[1_000_000, 1_000_000],
                        output_tokens=[0, 0], cache_read_tokens=[0, 0],
                        reasoning_tokens=[0, 0])  # fmt: skip
    assert run("ingest", write("sept.parquet", events), "--db", db).exit_code == 0
    assert run("build", "--db", db).exit_code == 0
    costs = "select request_id, api_cost_usd from main.int_usage_events_priced order by 1"
    rated = query(db, costs)
    assert rated == [("r0", Decimal(2)), ("r1", Decimal("1.5"))]

    october = gpt_input_at(tmp_path / "oct.json", 9e-06)
    retro = run("prices", "import", "--litellm", october, "--effective-from", "2026-09-15",
                "--db", db)  # fmt: skip
    assert retro.exit_code == 2  # a price already starts after it: type-2 history stays
    assert "history is never rewritten" in retro.output
    again = run("prices", "import", "--litellm", sept, "--effective-from", "2026-09-15T12:00:00",
                "--db", db)  # fmt: skip
    assert again.exit_code == 0, again.output  # the same catalog again changes nothing: a no-op
    assert "0 prices new, 0 changed" in again.output
    later = run("prices", "import", "--litellm", october, "--effective-from", "2026-10-01",
                "--db", db)  # fmt: skip
    assert later.exit_code == 0, later.output
    assert run("build", "--db", db, "--full-refresh").exit_code == 0
    assert query(db, costs) == rated  # September re-run after the price change: same money


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the checkout")
def test_real_catalog_imports(db: Path) -> None:
    catalog = SHARED_DATA / "litellm" / "model_prices_and_context_window.json"
    result = run("prices", "import", "--litellm", catalog, "--effective-from", "2026-07-24",
                 "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    [(models, floats)] = query(
        db,
        "select count(distinct model_id), count(*) filter (typeof(usd_per_1m_tokens) "
        "not like 'DECIMAL%') from raw.price_book",
    )
    assert models > 1000
    assert floats == 0
    frame = pl.DataFrame(price_rows(db), orient="row")
    assert frame.height > 5000


# requests large enough that a price change moves an invoice by more than a cent
SIZES = {"input_tokens": [2_000_000] * 3, "cache_read_tokens": [500_000] * 3,
         "output_tokens": [100_000] * 3, "reasoning_tokens": [0] * 3}  # fmt: skip


def _month_cost(db: Path, month: str) -> Decimal:
    [(cost,)] = query(db, "select sum(api_cost_usd) from main.fct_usage_daily "
                          f"where date_trunc('month', usage_date) = date '{month}-01'")  # fmt: skip
    return Decimal(cost)


@pytest.mark.slow
def test_prices_imported_back_over_past_exports_reprice_the_drafts_only(
    tmp_path: Path, db: Path, write: Any
) -> None:
    """Three months of past exports, July issued; a catalog effective from August re-rates
    August and September at the next plain build; one reaching into July is refused."""
    days = {"2026-07": datetime(2026, 7, 26, 12, tzinfo=UTC),
            "2026-08": datetime(2026, 8, 10, 12, tzinfo=UTC),
            "2026-09": datetime(2026, 9, 10, 12, tzinfo=UTC)}  # fmt: skip
    for month, at in days.items():
        events = event_rows(3, prefix=f"{month}-", event_at=[at] * 3, **SIZES)
        assert run("ingest", write(f"{month}.parquet", events), "--db", db).exit_code == 0
    assert run("build", "--db", db).exit_code == 0  # priced by the shipped snapshot
    issued = run("invoice", "issue", "--month", "2026-07", "--db", db)
    assert issued.exit_code == 0, issued.output
    before = {m: _month_cost(db, m) for m in days}
    drafts = "select invoice_month, total_amount from main.fct_invoices where status = 'draft'"
    drafts_before = dict(query(db, drafts))
    assert len(drafts_before) == 2  # August and September

    catalog = gpt_input_at(tmp_path / "catalog.json", 3e-06)
    done = run("prices", "import", "--litellm", catalog, "--effective-from", "2026-08-01",
               "--db", db)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "loaded usage of 2026-08, 2026-09 is re-priced" in " ".join(done.output.split())
    assert run("build", "--db", db).exit_code == 0  # no --full-refresh

    # independent: each event's uncached input at 3, cache reads at 0.5, output (reasoning
    # included, no price of its own) at 8 USD per 1M tokens
    for month in ("2026-08", "2026-09"):
        tokens = event_rows(3, **SIZES).select("input_tokens", "cache_read_tokens", "output_tokens")
        expected = sum(
            (Decimal(i - c) * 3 + Decimal(c) * Decimal("0.5") + Decimal(o) * 8) / 1_000_000
            for i, c, o in tokens.rows()
        )
        assert _month_cost(db, month) == expected != before[month]
    assert _month_cost(db, "2026-07") == before["2026-07"]  # the issued month is not re-rated
    drafts_after = dict(query(db, drafts))
    assert drafts_after.keys() == drafts_before.keys()
    assert all(drafts_after[m] > drafts_before[m] for m in drafts_before)  # dearer input
    corrections = "select count(*) from main.fct_invoice_lines where line_type = 'correction'"
    assert query(db, corrections) == [(0,)]  # nothing of July moved

    agreed = gpt_input_at(tmp_path / "agreed.json", 4e-06)
    into_july = run("prices", "import", "--litellm", agreed, "--effective-from", "2026-07-15",
                    "--db", db)  # fmt: skip
    output = " ".join(into_july.output.split())
    assert into_july.exit_code == 2, output
    assert "issued invoices: 2026-07" in output
    assert "--effective-from 2026-08-01 or later" in output


def test_an_edited_price_override_re_rates_the_loaded_days_at_the_next_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator edits a self-hosted price back in time in their project's
    seeds/reference/price_overrides.csv: the next plain build says so and re-rates every loaded
    day, so drafts sell at the new list price (not the old one on days already rated)."""
    project = copy_project(tmp_path / "project")
    monkeypatch.setenv("METERHOUSE_PROJECT_DIR", str(project))
    sample, db = tmp_path / "sample", tmp_path / "warehouse.duckdb"
    assert run("generate", "--out", sample, "--days", 35, "--tenants", 3,
               "--events-per-day", 300).exit_code == 0  # fmt: skip
    first = run("nightly", "--events", sample / "events", "--contracts", sample / "contracts",
                "--db", db)  # fmt: skip
    assert first.exit_code == 0, first.output
    assert "rating inputs changed" not in first.output
    overrides = project / "seeds" / "reference" / "price_overrides.csv"
    rows = list(csv.DictReader(overrides.open(newline="")))
    used = {m for (m,) in query(db, "select distinct model_id from main.fct_sell_prices")}
    row = next(r for r in rows if r["model_id"] in used and r["token_class"] == "input")
    listed = ("select distinct list_usd_per_1m_tokens from main.fct_sell_prices "
              f"where model_id = '{row['model_id']}' and token_class = 'input'")  # fmt: skip
    old_price = Decimal(row["usd_per_1m_tokens"])
    assert query(db, listed) == [(old_price,)]

    row["usd_per_1m_tokens"] = str(old_price + Decimal("0.02"))  # from the same past date
    with overrides.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    again = run("nightly", "--events", sample / "events", "--contracts", sample / "contracts",
                "--db", db)  # fmt: skip
    assert again.exit_code == 0, again.output
    assert ("the rating inputs changed since the loaded days were rated "
            "(seeds/reference/price_overrides.csv): this build re-rates every loaded day"
            ) in again.stderr  # fmt: skip
    assert query(db, listed) == [(old_price + Decimal("0.02"),)]
    quiet = run("build", "--contracts", sample / "contracts", "--db", db)
    assert quiet.exit_code == 0, quiet.output
    assert "rating inputs changed" not in quiet.output
