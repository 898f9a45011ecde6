"""Check an operator's contracts folder before dbt loads it: each cell, then rules across rows.

dbt would load a 150% discount, a negative credit or a contract in an unknown currency and build
wrong invoices from them, or stop on the name of an internal test. Here each is refused with the
file, the line, the column, the value and what to do. The column types are the seeds' in
dbt_project.yml (a DECIMAL's scale is the most decimals a value may have), the rules those of
seeds/reference/_seeds.yml and docs/decisions/0006. Plain Polars expressions, one per rule, as in
schemas/events.py: a Pandera failure case would name neither the line nor the fix.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from meterhouse.errors import MeterhouseError
from meterhouse.paths import project_dir

CONTRACT_FILES = ("tenant_contracts", "contract_volume_tiers", "credit_grants")
# Optional in an operator's folder: without it the fleet is empty (no GPU hours can be priced).
OPTIONAL_FILES = ("gpu_inventory",)
LINE = "_line"  # the file's line number of a row (the header is line 1)
OPEN_END = date(9999, 12, 31)  # an empty effective_to: in force for ever
# What DuckDB reads as a boolean, case-insensitively.
BOOLEANS = ("true", "false", "t", "f", "1", "0", "yes", "no", "y", "n")
NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)$"  # plain decimal notation, as the contracts are written
DATE = r"^\d{4}-\d{2}-\d{2}$"


@dataclass(frozen=True)
class Number:
    sql: str  # the seed column's type, for the message
    scale: int
    integer_digits: int
    minimum: int
    maximum: int | None = None


RATIO = Number("DECIMAL(9, 6)", 6, 3, 0, 1)
AMOUNT = Number("DECIMAL(38, 2)", 2, 36, 0)
RATE = Number("DECIMAL(38, 12)", 12, 26, 0)
TOKENS = Number("BIGINT", 0, 18, 0)
COUNT = Number("INTEGER", 0, 9, 1)

Kind = Number | str  # or "id", "text", "plan", "currency", "bool", "date", "month"


@dataclass(frozen=True)
class Spec:
    kind: Kind
    nullable: bool = False  # an empty cell is allowed (it reads as null: 0, false, open-ended)
    # The file may leave the column out (a column added since: folders written before it load
    # as they did, every cell empty); warehouse/dbt.py adds it to the copy dbt loads.
    may_be_absent: bool = False


COLUMNS: dict[str, dict[str, Spec]] = {
    "tenant_contracts": {
        "contract_id": Spec("id"),
        "tenant_id": Spec("id"),
        "plan_id": Spec("plan"),
        "currency": Spec("currency"),
        "discount_ratio": Spec(RATIO, True),
        "monthly_commitment_amount": Spec(AMOUNT, True),
        "free_tokens_per_month": Spec(TOKENS, True),
        "bills_failed_requests": Spec("bool", True),
        # whether requests a gateway served from its own cache are billed (docs/decisions/0028)
        "bill_gateway_cache_hits": Spec("bool", True, may_be_absent=True),
        "effective_from": Spec("month"),
        "effective_to": Spec("month", True),
    },
    "contract_volume_tiers": {
        "contract_id": Spec("id"),
        "from_tokens": Spec(TOKENS),
        "discount_ratio": Spec(RATIO),
    },
    "credit_grants": {
        "grant_id": Spec("id"),
        "tenant_id": Spec("id"),
        "currency": Spec("currency"),
        "amount": Spec(AMOUNT),
        "granted_on": Spec("date"),
        "expires_on": Spec("date"),
    },
    "gpu_inventory": {
        "gpu_id": Spec("id"),
        "gpu_type": Spec("id"),
        "node_id": Spec("id"),
        "gpus_per_node": Spec(COUNT),
        "region": Spec("text", True),
        "provider": Spec("text", True),
        "contract_usd_per_gpu_hour": Spec(RATE, True),
        "effective_from": Spec("date"),
        "effective_to": Spec("date", True),
    },
}


def _refuse(path: Path, rows: pl.DataFrame, column: str, what: pl.Expr | str, fix: str) -> None:
    """Raise naming the first of `rows` (the rows that break one rule), if any."""
    if rows.is_empty():
        return
    what = pl.lit(what) if isinstance(what, str) else what
    line, value, said = rows.sort(LINE).select(LINE, column, what.alias("_what")).row(0)
    shown = repr("" if value is None else str(value))  # a date as the file writes it
    more = f" ({len(rows) - 1} more line(s) like it)" if len(rows) > 1 else ""
    raise MeterhouseError(f"{path}: line {line}, column {column}: {shown} {said}. {fix}{more}")


def _read(path: Path, name: str) -> pl.DataFrame:
    """The CSV as text columns (empty cells null) with each row's line number."""
    want = list(COLUMNS[name])
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [c.strip() for c in next(reader, [""])]
        absent = absent_columns(name, header)
        if sorted(header + absent) != sorted(want):
            raise MeterhouseError(
                f"{path}: columns {', '.join(header)}; expected {', '.join(want)} "
                "(any order, as in seeds/contracts)."
            )
        rows: list[list[str | int | None]] = []
        for cells in reader:
            if not any(cells):  # a blank line
                continue
            if len(cells) != len(header):
                raise MeterhouseError(
                    f"{path}: line {reader.line_num} has {len(cells)} values for "
                    f"{len(header)} columns. Quote a value that holds a comma."
                )
            rows.append([reader.line_num, *(c or None for c in cells)])
    schema = {LINE: pl.Int64, **dict.fromkeys(header, pl.String)}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in absent).select(LINE, *want)


def absent_columns(name: str, header: list[str]) -> list[str]:
    """The columns of contract file `name` that a file with this header leaves out and may."""
    return [c for c, spec in COLUMNS[name].items() if spec.may_be_absent and c not in header]


def _reference(name: str) -> pl.DataFrame:
    return pl.read_csv(project_dir() / "seeds" / "reference" / f"{name}.csv", infer_schema=False)


def _decimals(text: pl.Expr) -> pl.Expr:
    """Decimals a plain number needs (trailing zeros are not needed)."""
    fraction = text.str.extract(r"\.(\d*)$", 1).fill_null("").str.strip_chars_end("0")
    return fraction.str.len_chars()


def _integer_digits(text: pl.Expr) -> pl.Expr:
    whole = text.str.extract(r"^[+-]?(\d*)", 1).str.strip_chars_start("0")
    return whole.str.len_chars()


Rule = tuple[pl.Expr, str, str]  # true on a bad cell; what is wrong; what to do


def _number_rules(column: str, number: Number) -> list[Rule]:
    text = pl.col(column)
    value = text.cast(pl.Decimal(38, number.scale), strict=False)
    example = "a whole number such as 5000000" if number.scale == 0 else "a number such as 0.05"
    low = "negative" if number.minimum == 0 else f"below {number.minimum}"
    rules = [
        (
            ~text.str.contains(NUMBER),
            "is not a number",
            f"Give {example} (no exponent, no thousands separator, no spaces).",
        ),
        (
            _decimals(text) > number.scale,
            f"has more than {number.scale} decimals ({column} is {number.sql})",
            "Give the value the contract states, at that precision.",
        ),
        (
            _integer_digits(text) > number.integer_digits,
            f"is too large for {number.sql}",
            "Check the value.",
        ),
        (value < number.minimum, f"is {low}", f"{column} is {number.minimum} or more."),
    ]
    if number.maximum is not None:
        rules.append(
            (
                value > number.maximum,
                f"is above {number.maximum}",
                "A ratio is 0 to 1: 0.05 is 5% off, 1 is 100% off.",
            )
        )
    return rules


def _cell_rules(column: str, kind: Kind, known: dict[str, list[str]]) -> list[Rule]:
    """The rules of a non-empty cell of `column`, in the order they are checked."""
    text = pl.col(column)
    if isinstance(kind, Number):
        return _number_rules(column, kind)
    if kind in known:
        where = "rate_cards.csv" if kind == "plan" else "currencies.csv"
        return [
            (
                ~text.is_in(known[kind]),
                f"is not a {kind} of seeds/reference/{where}",
                f"Use one of {', '.join(known[kind])} (or add it to seeds/reference).",
            )
        ]
    if kind == "bool":
        return [
            (
                ~text.str.to_lowercase().is_in(BOOLEANS),
                "is not true or false",
                "Give true or false.",
            )
        ]
    if kind in ("date", "month"):
        day = text.str.to_date("%Y-%m-%d", strict=False)
        rules = [
            (
                ~text.str.contains(DATE) | day.is_null(),
                "is not a date",
                "Give a date as YYYY-MM-DD, e.g. 2026-10-01.",
            )
        ]
        if kind == "month":
            rules.append(
                (
                    day.dt.day() != 1,
                    "is not the first day of a month",
                    "A contract applies by whole months: give the month's first day.",
                )
            )
        return rules
    return []  # an id or a free text: any non-empty value


def _check_cells(path: Path, frame: pl.DataFrame, name: str, known: dict[str, list[str]]) -> None:
    """Every cell against its column's type and range."""
    for column, spec in COLUMNS[name].items():
        if not spec.nullable:
            _refuse(
                path,
                frame.filter(pl.col(column).is_null()),
                column,
                "is empty",
                f"Every row of {path.name} needs a {column}.",
            )
        given = frame.filter(pl.col(column).is_not_null())
        for bad, what, fix in _cell_rules(column, spec.kind, known):
            _refuse(path, given.filter(bad), column, what, fix)


def _unique(path: Path, frame: pl.DataFrame, key: list[str]) -> None:
    first = frame.with_columns(pl.col(LINE).min().over(key).alias("_first"))
    _refuse(
        path,
        first.filter(pl.col(LINE) != pl.col("_first")),
        key[-1],
        pl.format("repeats line {} ({})", pl.col("_first"), pl.lit(", ".join(key))),
        "Each row needs its own key: remove or rename the repeat.",
    )


def _ends_after_start(path: Path, frame: pl.DataFrame, start: str, end: str) -> None:
    _refuse(
        path,
        frame.filter(pl.col(end) <= pl.col(start)),
        end,
        pl.format("is not after {} {}", pl.lit(start), pl.col(start)),
        f"{end} is the first day that no longer applies, after {start}.",
    )


def _overlapping(frame: pl.DataFrame, key: str, start: str, end: str) -> pl.DataFrame:
    """Rows whose [start, end) overlaps that of an earlier line with the same key; the columns
    of that line get the suffix _other."""
    spans = frame.with_columns(pl.col(end).fill_null(OPEN_END))
    return spans.join(spans, on=key, suffix="_other").filter(
        (pl.col(f"{LINE}_other") < pl.col(LINE))
        & (pl.col(f"{start}_other") < pl.col(end))
        & (pl.col(start) < pl.col(f"{end}_other"))
    )


def _month_start(column: str) -> pl.Expr:
    return pl.col(column).dt.truncate("1mo")


def _check_rows(folder: Path, frames: dict[str, pl.DataFrame], minor: dict[str, int]) -> None:
    """The rules between rows and files, on rows whose cells are all well-formed."""
    dates = {
        name: frame.with_columns(
            pl.col(c).str.to_date("%Y-%m-%d")
            for c, spec in COLUMNS[name].items()
            if spec.kind in ("date", "month")
        )
        for name, frame in frames.items()
    }
    contracts, tiers, grants = (dates[n] for n in CONTRACT_FILES)
    at = {name: folder / f"{name}.csv" for name in frames}

    _unique(at["tenant_contracts"], contracts, ["contract_id"])
    _ends_after_start(at["tenant_contracts"], contracts, "effective_from", "effective_to")
    _refuse(
        at["tenant_contracts"],
        _overlapping(contracts, "tenant_id", "effective_from", "effective_to"),
        "effective_from",
        pl.format(
            "starts while contract {} (line {}) of tenant {} is in force",
            pl.col("contract_id_other"),
            pl.col(f"{LINE}_other"),
            pl.col("tenant_id"),
        ),
        "A tenant has one contract a month: end the earlier one (effective_to) on or before "
        "this one's effective_from.",
    )
    digits = pl.col("currency").replace_strict(minor, default=None)
    for name, column in (
        ("tenant_contracts", "monthly_commitment_amount"),
        ("credit_grants", "amount"),
    ):
        _refuse(
            at[name],
            dates[name].filter(_decimals(pl.col(column)) > digits),
            column,
            pl.format("has more decimals than {} has ({})", pl.col("currency"), digits),
            "Give the amount in the currency's minor unit at most.",
        )

    _unique(at["contract_volume_tiers"], tiers, ["contract_id", "from_tokens"])
    _refuse(
        at["contract_volume_tiers"],
        tiers.filter(~pl.col("contract_id").is_in(contracts["contract_id"].implode())),
        "contract_id",
        "is not a contract_id of tenant_contracts.csv",
        "Give tiers only for contracts in tenant_contracts.csv.",
    )

    _unique(at["credit_grants"], grants, ["grant_id"])
    _refuse(
        at["credit_grants"],
        grants.filter(pl.col("amount").cast(pl.Decimal(38, AMOUNT.scale)) == 0),
        "amount",
        "is zero",
        "A grant is of a positive amount: remove the row.",
    )
    _ends_after_start(at["credit_grants"], grants, "granted_on", "expires_on")
    # The months a grant pays: from its grant's month to the month of its expiry, exclusive.
    months = grants.with_columns(
        _month_start("granted_on").alias("first_month"),
        _month_start("expires_on").alias("end_month"),
    )
    _refuse(
        at["credit_grants"],
        _overlapping(
            months.filter(pl.col("first_month") < pl.col("end_month")),
            "tenant_id",
            "first_month",
            "end_month",
        ),
        "granted_on",
        pl.format(
            "pays a month that grant {} (line {}) also pays",
            pl.col("grant_id_other"),
            pl.col(f"{LINE}_other"),
        ),
        "A tenant's grants may not cover the same month: let one expire first.",
    )
    paid = months.join(
        contracts.select(
            "tenant_id",
            "contract_id",
            "effective_from",
            "effective_to",
            pl.col(LINE).alias("_contract_line"),
            pl.col("currency").alias("_contract_currency"),
        ),
        on="tenant_id",
    )
    _refuse(
        at["credit_grants"],
        paid.filter(
            (pl.col("first_month") < pl.col("effective_to").fill_null(OPEN_END))
            & (pl.col("effective_from") < pl.col("end_month"))
            & (pl.col("currency") != pl.col("_contract_currency"))
        ),
        "currency",
        pl.format(
            "is not the currency of contract {} (line {}, {}) of tenant {} in a month "
            "the grant pays",
            pl.col("contract_id"),
            pl.col("_contract_line"),
            pl.col("_contract_currency"),
            pl.col("tenant_id"),
        ),
        "Grant credit in the tenant's invoice currency.",
    )

    if "gpu_inventory" in dates:
        gpus = dates["gpu_inventory"]
        _ends_after_start(at["gpu_inventory"], gpus, "effective_from", "effective_to")
        _refuse(
            at["gpu_inventory"],
            _overlapping(gpus, "gpu_id", "effective_from", "effective_to"),
            "effective_from",
            pl.format("starts while line {} of the same GPU is in force", pl.col(f"{LINE}_other")),
            "End the earlier row of the GPU (effective_to) on or before this one.",
        )


def check_contract_folder(folder: Path) -> None:
    """Refuse a contracts folder that dbt should not load: a missing folder or file, columns
    other than the shipped seeds/contracts ones (in any order), a cell that its seed column
    cannot hold or that breaks its range, or rows that contradict each other."""
    if not folder.is_dir():
        raise MeterhouseError(f"{folder}: no such folder of contract CSVs.")
    frames: dict[str, pl.DataFrame] = {}
    for name in CONTRACT_FILES + OPTIONAL_FILES:
        path = folder / f"{name}.csv"
        if name in OPTIONAL_FILES and not path.is_file():
            continue
        if not path.is_file():
            raise MeterhouseError(
                f"{path}: missing. A contracts folder holds {', '.join(CONTRACT_FILES)} as CSV "
                f"(a header line only when empty); seeds/contracts shows the columns."
            )
        frames[name] = _read(path, name)
    currencies = _reference("currencies")
    known = {
        "plan": sorted(set(_reference("rate_cards")["plan_id"])),
        "currency": currencies["currency"].to_list(),
    }
    for name, frame in frames.items():
        _check_cells(folder / f"{name}.csv", frame, name, known)
    minor = {c: int(m) for c, m in currencies.select("currency", "minor_unit").iter_rows()}
    _check_rows(folder, frames, minor)
