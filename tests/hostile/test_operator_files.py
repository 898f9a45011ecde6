"""Operator files that used to pass when they should not: a LiteLLM catalog with bad prices, a
contracts folder with impossible terms, a vendor bill in another currency. Each is refused
before anything is loaded, naming the file, the row, the column and the value."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from meterhouse.errors import MeterhouseError
from meterhouse.schemas.contracts import check_contract_folder
from meterhouse.warehouse.reconcile import load_bill
from tests.conftest import SHARED_DATA, query, run

SHIPPED_CONTRACTS = Path(__file__).resolve().parents[2] / "seeds" / "contracts"

# ---------------------------------------------------------------- the LiteLLM catalog


def catalog_text(value: str, field: str) -> str:
    """A catalog with one good model and `field` of gpt-4.1 written as the JSON text `value`,
    beside entries whose text is not a price: the documentation entry (its mode made "chat"
    here, so that only its key keeps it out), a date, and a model of a mode not imported."""
    return (
        '{"sample_spec": {"mode": "chat", "input_cost_per_token": "USD per input token",'
        ' "litellm_provider": "one of https://docs.litellm.ai/docs/providers"},'
        ' "last_updated": "2026-07-24T18:23:43+00:00",'
        ' "embed": {"mode": "embedding", "input_cost_per_token": "free"},'
        ' "o3": {"mode": "chat", "litellm_provider": "openai", "input_cost_per_token": 2e-06,'
        ' "output_cost_per_token": 8e-06},'
        ' "gpt-4.1": {"mode": "chat", "litellm_provider": "openai",'
        ' "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06,'
        f' "{field}": {value}}}}}'
    )


@pytest.mark.parametrize(
    ("field", "value", "shown", "what"),
    [
        ("output_cost_per_token_batches", "-4e-06", "-0.000004", "is negative"),
        ("cache_read_input_token_cost", "NaN", "NaN", "is not a finite number"),
        ("input_cost_per_token_priority", "Infinity", "Infinity", "is not a finite number"),
        ("input_cost_per_token_flex", "-Infinity", "-Infinity", "is not a finite number"),
        ("cache_creation_input_token_cost", '"0.00000375"', '"0.00000375"', "is not a number"),
        ("output_cost_per_reasoning_token", "true", "true", "is not a number"),
        ("input_cost_per_token_above_200k_tokens", "1e-19", "1E-19", "has more decimals"),
        ("input_cost_per_token_batches", "1.2345678901234567e-06", "0.0000012345678901234567",
         "has more decimals"),
        ("output_cost_per_token_flex", "1e21", "1E+21", "is above"),
    ],
)  # fmt: skip
def test_a_bad_catalog_price_refuses_the_import(
    tmp_path: Path, field: str, value: str, shown: str, what: str
) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(catalog_text(value, field))
    db = tmp_path / "warehouse.duckdb"
    result = run("prices", "import", "--litellm", path, "--effective-from", "2026-07-24",
                 "--db", db)  # fmt: skip
    assert result.exit_code != 0
    message = result.output
    assert f'{path}: model "gpt-4.1", field {field}: {shown} {what}' in message, message
    assert "nothing was imported" in message
    assert "Traceback" not in message
    assert not db.exists()  # refused before the warehouse is opened


def test_a_good_catalog_imports_and_documentation_entries_are_not_prices(tmp_path: Path) -> None:
    """The same catalog with a price at the stored precision, and a JSON null (no price)."""
    path = tmp_path / "catalog.json"
    path.write_text(catalog_text("0.000000000000000001", "input_cost_per_token_batches"))
    null = tmp_path / "null.json"
    null.write_text(catalog_text("null", "input_cost_per_token_batches"))
    db = tmp_path / "warehouse.duckdb"
    result = run("prices", "import", "--litellm", path, "--effective-from", "2026-07-24",
                 "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 models" in result.output  # o3 and gpt-4.1 only
    rows = query(db, "select model_id, service_tier, usd_per_1m_tokens from raw.price_book "
                     "where token_class = 'input' order by all")  # fmt: skip
    assert rows == [
        ("gpt-4.1", "batch", Decimal("0.000000000001")),
        ("gpt-4.1", "standard", Decimal(2)),
        ("o3", "standard", Decimal(2)),
    ]
    other = tmp_path / "other.duckdb"
    result = run("prices", "import", "--litellm", null, "--effective-from", "2026-07-24",
                 "--db", other)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert query(other, "select count(*) from raw.price_book where service_tier = 'batch'") == [
        (0,)
    ]


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the checkout")
def test_the_real_catalog_imports_as_before_the_checks(db: Path) -> None:
    """Its 30 Databricks prices with a double's noise (3.0001999999999996e-07) import rounded to
    15 significant digits, the result the import gave before prices were checked."""
    catalog = SHARED_DATA / "litellm" / "model_prices_and_context_window.json"
    result = run("prices", "import", "--litellm", catalog, "--effective-from", "2026-07-24",
                 "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.output
    [(rows, models, total)] = query(
        db, "select count(*), count(distinct model_id), sum(usd_per_1m_tokens) from raw.price_book"
    )
    # 6,506 prices before the 1-hour cache writes were read, plus 134 of those (124 base, 10 above
    # 200k tokens), each checked like every other price
    assert (rows, models, total) == (6640, 2264, Decimal("2301692.537465000000"))
    [(noisy,)] = query(
        db,
        "select usd_per_1m_tokens from raw.price_book where token_class = 'input' and "
        "service_tier = 'standard' and model_id = 'databricks/databricks-gemini-2-5-flash'",
    )
    assert noisy == Decimal("0.30002")


# ---------------------------------------------------------------- the contracts folder


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    folder = tmp_path / "contracts"
    shutil.copytree(SHIPPED_CONTRACTS, folder)
    return folder


def set_cell(folder: Path, name: str, line: int, column: str, value: str) -> Path:
    """Write `value` into `column` at file line `line` (the header is line 1), as a real CSV."""
    path = folder / f"{name}.csv"
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def refusal(folder: Path) -> str:
    with pytest.raises(MeterhouseError) as caught:
        check_contract_folder(folder)
    message = str(caught.value)
    assert "\n" not in message
    return message


def assert_names(message: str, path: Path, line: int, column: str, value: str) -> None:
    assert message.startswith(f"{path}: line {line}, column {column}: {value!r} "), message


def test_the_shipped_and_a_generated_contracts_folder_pass(tmp_path: Path) -> None:
    check_contract_folder(SHIPPED_CONTRACTS)
    generated = tmp_path / "sample"
    result = run("generate", "--out", generated, "--days", "62", "--tenants", "40",
                 "--events-per-day", "20", "--seed", "7")  # fmt: skip
    assert result.exit_code == 0, result.output
    check_contract_folder(generated / "contracts")


@pytest.mark.parametrize(
    ("name", "line", "column", "value", "what"),
    [
        ("tenant_contracts", 2, "discount_ratio", "1.5", "is above 1"),
        ("tenant_contracts", 2, "discount_ratio", "-0.05", "is negative"),
        ("contract_volume_tiers", 3, "discount_ratio", "1.01", "is above 1"),
        ("tenant_contracts", 3, "free_tokens_per_month", "-5000000", "is negative"),
        ("tenant_contracts", 4, "monthly_commitment_amount", "-50000.00", "is negative"),
        ("contract_volume_tiers", 3, "from_tokens", "-1", "is negative"),
        ("credit_grants", 2, "amount", "-60000.00", "is negative"),
        ("credit_grants", 3, "amount", "0.00", "is zero"),
        ("gpu_inventory", 2, "gpus_per_node", "0", "is below 1"),
        ("gpu_inventory", 15, "contract_usd_per_gpu_hour", "-0.99", "is negative"),
    ],
)
def test_a_term_out_of_its_range_is_refused(
    contracts: Path, name: str, line: int, column: str, value: str, what: str
) -> None:
    path = set_cell(contracts, name, line, column, value)
    message = refusal(contracts)
    assert_names(message, path, line, column, value)
    assert what in message


@pytest.mark.parametrize(
    ("name", "line", "column", "value", "what"),
    [
        ("tenant_contracts", 2, "discount_ratio", "5%", "is not a number"),
        ("tenant_contracts", 2, "monthly_commitment_amount", "25,000.00", "is not a number"),
        ("tenant_contracts", 3, "free_tokens_per_month", "5e6", "is not a number"),
        ("tenant_contracts", 3, "free_tokens_per_month", "NaN", "is not a number"),
        ("credit_grants", 2, "amount", "sixty thousand", "is not a number"),
        ("tenant_contracts", 2, "bills_failed_requests", "sometimes", "is not true or false"),
        ("tenant_contracts", 2, "bill_gateway_cache_hits", "maybe", "is not true or false"),
        ("tenant_contracts", 2, "discount_ratio", "0.0500001", "more than 6 decimals"),
        ("tenant_contracts", 2, "monthly_commitment_amount", "25000.005", "more than 2 decimals"),
        ("credit_grants", 3, "amount", "150.001", "more than 2 decimals"),
        ("tenant_contracts", 3, "free_tokens_per_month", "5000000.5", "more than 0 decimals"),
        ("gpu_inventory", 15, "contract_usd_per_gpu_hour", "0.9900000000001",
         "more than 12 decimals"),
        ("tenant_contracts", 2, "monthly_commitment_amount", "1" + "0" * 36, "too large"),
        ("tenant_contracts", 2, "plan_id", "", "is empty"),
    ],
)  # fmt: skip
def test_a_value_its_column_cannot_hold_is_refused(
    contracts: Path, name: str, line: int, column: str, value: str, what: str
) -> None:
    path = set_cell(contracts, name, line, column, value)
    message = refusal(contracts)
    assert_names(message, path, line, column, value)
    assert what in message


@pytest.mark.parametrize(
    ("name", "line", "column", "value", "what"),
    [
        ("tenant_contracts", 2, "effective_from", "2026-13-01", "is not a date"),
        ("tenant_contracts", 2, "effective_from", "01/01/2026", "is not a date"),
        ("credit_grants", 2, "granted_on", "2026-02-30", "is not a date"),
        ("gpu_inventory", 2, "effective_to", "soon", "is not a date"),
        ("tenant_contracts", 2, "effective_from", "2026-01-15", "not the first day of a month"),
        ("tenant_contracts", 5, "effective_to", "2025-12-01",
         "is not after effective_from 2026-01-01"),
        ("tenant_contracts", 5, "effective_to", "2026-01-01", "is not after effective_from"),
        ("credit_grants", 2, "expires_on", "2026-08-01", "is not after granted_on 2026-08-20"),
        ("gpu_inventory", 15, "effective_to", "2019-01-01", "is not after effective_from"),
    ],
)  # fmt: skip
def test_a_bad_date_is_refused(
    contracts: Path, name: str, line: int, column: str, value: str, what: str
) -> None:
    path = set_cell(contracts, name, line, column, value)
    message = refusal(contracts)
    assert_names(message, path, line, column, value)
    assert what in message


@pytest.mark.parametrize(
    ("name", "line", "column", "value", "what"),
    [
        ("tenant_contracts", 2, "currency", "EURO", "is not a currency"),
        ("tenant_contracts", 2, "currency", "eur", "is not a currency"),
        ("credit_grants", 2, "currency", "CHF", "is not a currency"),
        ("tenant_contracts", 2, "plan_id", "gold", "is not a plan"),
        ("contract_volume_tiers", 6, "contract_id", "ct_9999", "is not a contract_id"),
    ],
)
def test_an_unknown_currency_plan_or_contract_is_refused(
    contracts: Path, name: str, line: int, column: str, value: str, what: str
) -> None:
    path = set_cell(contracts, name, line, column, value)
    message = refusal(contracts)
    assert_names(message, path, line, column, value)
    assert what in message


@pytest.mark.parametrize(
    ("edits", "name", "line", "column", "value", "what"),
    [
        # ct_0005 of tn_0004 starting while ct_0004 (to 2026-10-01) is in force
        ([("tenant_contracts", 6, "effective_from", "2026-09-01")], "tenant_contracts", 6,
         "effective_from", "2026-09-01",
         "starts while contract ct_0004 (line 5) of tenant tn_0004 is in force"),
        # an open-ended contract of tn_0003 beside its own
        ([("tenant_contracts", 6, "tenant_id", "tn_0003"),
          ("tenant_contracts", 6, "currency", "USD")], "tenant_contracts", 6,
         "effective_from", "2026-10-01", "starts while contract ct_0003 (line 4)"),
        ([("tenant_contracts", 3, "contract_id", "ct_0001")], "tenant_contracts", 3,
         "contract_id", "ct_0001", "repeats line 2"),
        ([("contract_volume_tiers", 3, "from_tokens", "0")], "contract_volume_tiers", 3,
         "from_tokens", "0", "repeats line 2"),
        ([("credit_grants", 3, "grant_id", "cg_0001")], "credit_grants", 3,
         "grant_id", "cg_0001", "repeats line 2"),
        # tn_0002's contract is in GBP
        ([("credit_grants", 3, "currency", "EUR")], "credit_grants", 3, "currency", "EUR",
         "is not the currency of contract ct_0002 (line 3, GBP) of tenant tn_0002"),
        # a second grant of tn_0003 paying October, which cg_0001 pays too
        ([("credit_grants", 3, "tenant_id", "tn_0003"), ("credit_grants", 3, "currency", "USD")],
         "credit_grants", 3, "granted_on", "2026-09-01", "grant cg_0001 (line 2) also pays"),
        ([("tenant_contracts", 4, "currency", "JPY"),
          ("tenant_contracts", 4, "monthly_commitment_amount", "50000.50")], "tenant_contracts",
         4, "monthly_commitment_amount", "50000.50", "more decimals than JPY has (0)"),
        ([("gpu_inventory", 15, "effective_from", "2026-09-01")], "gpu_inventory", 15,
         "effective_from", "2026-09-01", "starts while line 14 of the same GPU is in force"),
    ],
)  # fmt: skip
def test_rows_that_contradict_each_other_are_refused(
    contracts: Path,
    edits: list[tuple[str, int, str, str]],
    name: str,
    line: int,
    column: str,
    value: str,
    what: str,
) -> None:
    for edit in edits:
        set_cell(contracts, *edit)
    message = refusal(contracts)
    assert_names(message, contracts / f"{name}.csv", line, column, value)
    assert what in message


def test_a_missing_folder_file_or_column_is_refused(tmp_path: Path, contracts: Path) -> None:
    """What check_contracts in warehouse/dbt.py refused, with its messages."""
    nowhere = tmp_path / "nowhere"
    assert refusal(nowhere) == f"{nowhere}: no such folder of contract CSVs."
    (contracts / "gpu_inventory.csv").unlink()
    check_contract_folder(contracts)  # optional
    path = contracts / "tenant_contracts.csv"
    lines = path.read_text().splitlines()
    reordered = ",".join(reversed(lines[0].split(",")))
    path.write_text("\n".join([reordered] + [",".join(reversed(r.split(","))) for r in lines[1:]]))
    check_contract_folder(contracts)  # columns in any order
    path.write_text("\n".join([reordered.replace("discount_ratio", "discount"), *lines[1:]]))
    message = refusal(contracts)
    assert message.startswith(f"{path}: columns ")
    assert "expected" in message
    assert "discount_ratio" in message
    path.write_text("\n".join([*lines, "ct_0009,tn_0009,standard,USD,0,0"]) + "\n")
    columns = len(lines[0].split(","))
    assert refusal(contracts).startswith(f"{path}: line 7 has 6 values for {columns} columns")
    path.write_text("\n".join(lines) + "\n")
    (contracts / "credit_grants.csv").unlink()
    assert refusal(contracts).startswith(f"{contracts / 'credit_grants.csv'}: missing")


# ---------------------------------------------------------------- the vendor bill

BILL_HEADER = (
    "BilledCost,BillingCurrency,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,"
    "ConsumedQuantity,ConsumedUnit,ListUnitPrice,PricingQuantity,PricingUnit,"
    "ServiceProviderName,SkuPriceDetails"
)
BILL_ROW = (
    "{cost},{currency},Usage,2026-09-0{day}T00:00:00Z,2026-09-0{next}T00:00:00Z,1000000,Tokens,"
    '2.00,1,1000000 Tokens,OpenAI,"{{""ModelId"":""gpt-4.1"",""TokenDirection"":""Input""}}"'
)


def write_bill(path: Path, currencies: list[str], with_column: bool = True) -> Path:
    rows = [BILL_ROW.format(cost="2.00", currency=c, day=i + 1, next=i + 2)
            for i, c in enumerate(currencies)]  # fmt: skip
    lines = [BILL_HEADER, *rows]
    if not with_column:
        lines = [",".join(f for i, f in enumerate(line.split(",", 2)) if i != 1) for line in lines]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("currencies", "row", "value"),
    [
        (["EUR", "EUR"], 1, "EUR"),
        (["USD", "GBP"], 2, "GBP"),
        (["USD", ""], 2, ""),
    ],
)
def test_a_bill_in_another_currency_is_refused(
    tmp_path: Path, currencies: list[str], row: int, value: str
) -> None:
    path = write_bill(tmp_path / "bill.csv", currencies)
    with pytest.raises(MeterhouseError) as caught:
        load_bill(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: row {row}, column BillingCurrency: {value!r} is not USD")
    assert "ask the vendor for the bill in USD" in message


def test_a_usd_bill_and_one_without_the_column_are_read(tmp_path: Path) -> None:
    """The positive side of the test above: the same bill in USD reads, and so does one without
    BillingCurrency (meterhouse's demo bill writer leaves it out), as USD."""
    usd = load_bill(write_bill(tmp_path / "usd.csv", ["USD", "usd"]))
    assert usd["billed_cost_usd"].to_list() == [Decimal(2), Decimal(2)]
    bare = write_bill(tmp_path / "bare.csv", ["EUR"], with_column=False)
    assert "BillingCurrency" not in bare.read_text()
    assert load_bill(bare).height == 1
