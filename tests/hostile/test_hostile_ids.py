"""Tenant ids are data in every output: file names, terminal text, charts and CSV cells.

Ids that pass the door (no control characters, at most 256 characters) may still hold `/`,
`..`, Rich markup, emoji codes, formula starts or any script. Every tenant's invoice must be
written under the folder asked for, under a name no other id shares, with the real id inside;
nothing may be written elsewhere, and no command may crash or print markup as styling.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from meterhouse.files import safe_name
from tests.conftest import event_rows, query, run

pytestmark = pytest.mark.slow

HOSTILE = [
    "../../escape", "/abs/escape", "a/b", "a%2Fb", "[/bold]", "[link=http://evil.example]x[/link]",
    ":smile:", '=HYPERLINK("http://evil.example")', "名前テナント", "Ωμέγα-Кирилл", "x" * 250,
    "tn_plain", ".hidden", "..",
]  # fmt: skip


@pytest.fixture(scope="module")
def hostile_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    exports = root / "exports"
    exports.mkdir()
    per = 6
    tenants = [t for t in HOSTILE for _ in range(per)]
    event_rows(len(tenants), tenant_id=tenants).write_parquet(exports / "day.parquet")
    db = root / "work" / "warehouse.duckdb"
    db.parent.mkdir()
    done = run("nightly", "--events", exports, "--db", db)
    assert done.exit_code == 0, done.output
    return root, db


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_every_tenant_invoice_is_written_inside_the_folder_under_its_own_name(
    hostile_warehouse: tuple[Path, Path],
) -> None:
    root, db = hostile_warehouse
    before = _files_under(root)
    out = root / "work" / "invoices"
    done = run("invoice", "--month", "2026-10", "--db", db, "--out", out)
    assert done.exit_code == 0, done.output
    written = _files_under(root) - before
    assert all(out in p.parents for p in written), sorted(map(str, written))
    names = {p.name for p in written}
    expected = {
        f"{safe_name(f'INV-202610-{t}')}.{ext}" for t in HOSTILE for ext in ("json", "csv", "pdf")
    }
    assert names == expected
    assert len(names) == 3 * len(HOSTILE)  # no two ids share a name
    documents = [json.loads(p.read_text()) for p in written if p.suffix == ".json"]
    assert sorted(d["tenant_id"] for d in documents) == sorted(HOSTILE)  # the real ids
    assert not (root.parent / "escape.json").exists()


def test_a_formula_tenant_id_is_text_in_the_csv(hostile_warehouse: tuple[Path, Path]) -> None:
    root, db = hostile_warehouse
    out = root / "csv"
    done = run("invoice", "--month", "2026-10", "--db", db, "--out", out, "--format", "csv")
    assert done.exit_code == 0, done.output
    formula = '=HYPERLINK("http://evil.example")'
    text = (out / f"{safe_name('INV-202610-' + formula)}.csv").read_text()
    cells = [line.split(",")[1] for line in text.splitlines()[1:]]
    assert cells
    assert all(cell.startswith("\"'=HYPERLINK") for cell in cells), cells


@pytest.mark.parametrize(
    "command",
    [["status"], ["report", "margin", "--month", "2026-10"], ["forecast"]],
)
def test_commands_print_ids_as_plain_text(
    hostile_warehouse: tuple[Path, Path], command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "2000")  # no cell wrapped: each id whole on its line
    _, db = hostile_warehouse
    done = run(*command, "--db", db)
    assert done.exit_code == 0, done.output
    if command[0] != "status":  # status counts tenants, it does not name them
        assert "[/bold]" in done.output
        assert "[link=http://evil.example]x[/link]" in done.output
        assert ":smile:" in done.output


@pytest.mark.filterwarnings("error::UserWarning")  # matplotlib warns of each missing glyph
def test_forecast_charts_stay_in_the_folder_asked_for(hostile_warehouse: tuple[Path, Path]) -> None:
    root, db = hostile_warehouse
    before = _files_under(root)
    charts = root / "work" / "charts"
    done = run("forecast", "--db", db, "--out", charts)
    assert done.exit_code == 0, done.output
    written = _files_under(root) - before
    assert all(p.parent == charts for p in written), sorted(map(str, written))
    assert {p.name for p in written} == {"forecast.csv"} | {f"{safe_name(t)}.png" for t in HOSTILE}


def test_an_id_loaded_before_the_door_refused_it_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    """A warehouse loaded before ids were checked may hold one with a newline: invoices are
    still written for every tenant, that one under its encoded name."""
    exports = tmp_path / "exports"
    exports.mkdir()
    event_rows(4, tenant_id=["tn_a", "tn_a", "tn_b", "tn_b"]).write_parquet(exports / "d.parquet")
    db = tmp_path / "warehouse.duckdb"
    assert run("ingest", exports, "--db", db).exit_code == 0
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update raw.usage_events set tenant_id = 'tn\nnewline' where tenant_id = 'tn_b'"
        )
    assert run("build", "--db", db).exit_code == 0
    out = tmp_path / "invoices"
    done = run("invoice", "--month", "2026-10", "--db", db, "--out", out, "--format", "json")
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == ["INV-202610-tn%0Anewline.json",
                                                     "INV-202610-tn_a.json"]  # fmt: skip
    assert query(db, "select count(*) from main.fct_invoices")[0][0] == 2
