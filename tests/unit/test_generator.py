"""The sample generator must be exact about what it wrote.

Loader tests trust `SampleSummary` (clean events, duplicates, conflicts, bad rows), so every
count is recomputed here from the Parquet files themselves, with the contract rules written out
in Polars, never taken from the summary alone.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from meterhouse.sample import SampleSummary, generate_sample
from meterhouse.sample.catalog import MIN_MODELS, load_models

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DAYS, TENANTS, PER_DAY, SEED = 10, 8, 2_500, 7  # 25k rows: enough for every kind of dirt
MODEL_NAME = r"^[^\s\x00-\x1f]{1,256}$"
TOKENS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cache_write_1h_tokens",
)  # fmt: skip
# Each kind of bad row and the rule it breaks, in the order a row is classified.
KINDS = {
    "negative_input": pl.col("input_tokens") < 0,
    "negative_output": pl.col("output_tokens") < 0,
    "cache_exceeds_input": pl.col("cache_read_tokens") + pl.col("cache_write_tokens")
    > pl.col("input_tokens"),
    "reasoning_exceeds_output": pl.col("reasoning_tokens") > pl.col("output_tokens"),
    "null_tenant_id": pl.col("tenant_id").is_null(),
    "unparseable_model": ~pl.col("model").str.contains(MODEL_NAME),
    "null_request_id": pl.col("request_id").is_null(),
}
EVENT_COLUMNS = (
    "request_id", "event_at", "tenant_id", "model", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "reasoning_tokens",
    "user_id", "provider",
    "region", "service_tier", "status", "latency_ms", "first_token_latency_ms", "gpu_id",
    "trace_id",
)  # fmt: skip


def _events(summary: SampleSummary) -> pl.DataFrame:
    """All rows in file order, with the file's date and a global position."""
    files = sorted((summary.out_dir / "events").glob("date=*/part-0.parquet"))
    frames = [
        pl.read_parquet(f).with_columns(file_date=pl.lit(date.fromisoformat(f.parent.name[5:])))
        for f in files
    ]
    broken = pl.sum_horizontal(rule.cast(pl.Int32) for rule in KINDS.values())
    return pl.concat(frames).with_row_index("pos").with_columns(broken=broken)


def _first_copies(valid: pl.DataFrame) -> pl.DataFrame:
    return valid.sort("pos").unique("request_id", keep="first", maintain_order=True)


def _small(out_dir: Path, shared_data: Path | None) -> SampleSummary:
    return generate_sample(
        out_dir, days=DAYS, tenants=TENANTS, events_per_day=PER_DAY, seed=SEED,
        shared_data=shared_data,
    )  # fmt: skip


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def fallback(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleSummary, pl.DataFrame]:
    summary = _small(tmp_path_factory.mktemp("fallback"), None)
    return summary, _events(summary)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleSummary, pl.DataFrame]:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent; the fallback is tested instead")
    summary = _small(tmp_path_factory.mktemp("real"), SHARED_DATA)
    return summary, _events(summary)


@pytest.fixture(params=["fallback", "real"])
def sample(request: pytest.FixtureRequest) -> tuple[SampleSummary, pl.DataFrame]:
    result: tuple[SampleSummary, pl.DataFrame] = request.getfixturevalue(request.param)
    return result


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_sample(tmp_path / name, days=4, tenants=5, events_per_day=800, seed=seed)
    first, again, other = (_hashes(tmp_path / name) for name in "abc")
    # four daily event and telemetry files, three reference files, three contract files and
    # the GPU inventory
    assert len(first) == 4 + 4 + 3 + 3 + 1
    assert first == again
    daily = [k for k in first if k.startswith(("events", "gpu_hours"))]
    assert all(first[k] != other[k] for k in daily)


def test_rerun_into_same_folder_leaves_no_stale_days(tmp_path: Path) -> None:
    generate_sample(tmp_path, days=5, tenants=3, events_per_day=100)
    summary = generate_sample(tmp_path, days=2, tenants=3, events_per_day=100)
    assert len(list((tmp_path / "events").iterdir())) == summary.files == 2
    assert len(list((tmp_path / "gpu_hours").iterdir())) == 2


def test_files_have_the_contract_columns_and_types(
    sample: tuple[SampleSummary, pl.DataFrame],
) -> None:
    summary, events = sample
    files = sorted((summary.out_dir / "events").glob("date=*/part-0.parquet"))
    assert len(files) == summary.files == DAYS
    schema = pl.read_parquet_schema(files[0])
    assert tuple(schema) == EVENT_COLUMNS
    assert schema["event_at"] == pl.Datetime("us", "UTC")
    assert all(schema[c] == pl.Int64 for c in (*TOKENS, "reasoning_tokens", "latency_ms"))
    assert events["request_id"].drop_nulls().str.contains(r"^req_[0-9a-f]{24}$").all()


def test_counts_in_files_match_the_summary(sample: tuple[SampleSummary, pl.DataFrame]) -> None:
    summary, events = sample
    s = summary
    assert events.height == s.rows_written
    assert s.rows_written == s.clean_events + s.duplicate_rows + s.conflict_rows + s.bad_rows
    valid = events.filter(pl.col("broken") == 0)
    assert events.height - valid.height == s.bad_rows
    assert valid["request_id"].n_unique() == s.clean_events
    # Every later copy is compared with the first one, as a "first wins" loader would.
    first = _first_copies(valid)
    copies = valid.join(first.select("request_id", "pos"), on="request_id", suffix="_first")
    copies = copies.filter(pl.col("pos") != pl.col("pos_first")).drop("pos_first")
    paired = copies.join(first, on="request_id", suffix="_first")
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"{c}_first")) for c in EVENT_COLUMNS[1:])
    paired = paired.with_columns(same=same)
    assert paired.filter(pl.col("same")).height == s.duplicate_rows
    conflicts = paired.filter(~pl.col("same"))
    assert conflicts.height == s.conflict_rows
    # A conflict differs only by extra output tokens, so the first copy is the original.
    rest = [c for c in EVENT_COLUMNS[1:] if c != "output_tokens"]
    rest_same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"{c}_first")) for c in rest)
    assert conflicts.select(rest_same.all()).item()
    delta = conflicts["output_tokens"] - conflicts["output_tokens_first"]
    assert delta.is_between(1, 100).all()
    # Some copies repeat rows of the previous file, some rows of their own file.
    cross_day = paired.filter(pl.col("file_date") != pl.col("file_date_first")).height
    assert 0 < cross_day < paired.height
    assert s.duplicate_rows > 0
    assert s.conflict_rows > 0


def test_dirt_is_spread_through_each_file(sample: tuple[SampleSummary, pl.DataFrame]) -> None:
    _, events = sample
    in_file = events.with_columns(
        share=pl.int_range(pl.len()).over("file_date") / pl.len().over("file_date")
    )
    bad_positions = in_file.filter(pl.col("broken") > 0)["share"]
    assert bad_positions.min() < 0.5 < bad_positions.max()  # type: ignore[operator]


def test_rows_that_pass_the_rules_are_consistent(
    sample: tuple[SampleSummary, pl.DataFrame],
) -> None:
    _, events = sample
    valid = events.filter(pl.col("broken") == 0)
    assert valid.select(pl.min_horizontal(*TOKENS, "reasoning_tokens").min()).item() >= 0
    cache = pl.col("cache_read_tokens") + pl.col("cache_write_tokens")
    assert valid.select((cache <= pl.col("input_tokens")).all()).item()
    assert valid.select((pl.col("reasoning_tokens") <= pl.col("output_tokens")).all()).item()
    assert valid.select((pl.col("first_token_latency_ms") <= pl.col("latency_ms")).all()).item()
    errors = _first_copies(valid).filter(pl.col("status") == "error")  # conflicts add tokens
    assert errors.height > 0
    assert (errors["output_tokens"] == 0).all()
    hosted = valid["provider"] == "self-hosted"
    assert (valid["gpu_id"].is_not_null() == hosted).all()
    assert valid.filter(hosted)["gpu_id"].n_unique() <= 12
    assert set(valid["service_tier"].unique()) <= {"standard", "batch", "flex", "priority"}
    assert set(valid["status"].unique()) == {"success", "error", "timeout", "cancelled"}
    assert (valid["status"] == "success").mean() > 0.95  # type: ignore[operator]
    assert 0.25 < valid["trace_id"].is_null().mean() < 0.75  # type: ignore[operator]
    assert valid.filter(pl.col("cache_read_tokens") > 0).height > 0
    assert valid.filter(pl.col("cache_write_tokens") > 0).height > 0
    # Some cache writes go to the 1-hour cache, only ever a part of the writes, and only on the
    # models that report writes (Anthropic-style caching), a minority of them.
    one_hour_part = pl.col("cache_write_1h_tokens") <= pl.col("cache_write_tokens")
    assert valid.select(one_hour_part.all()).item()
    one_hour = valid.filter(pl.col("cache_write_1h_tokens") > 0)
    writes = valid.filter(pl.col("cache_write_tokens") > 0)
    assert 0.05 < one_hour.height / writes.height < 0.25
    assert one_hour["model"].str.contains("(?i)claude").all()
    assert valid.filter(pl.col("reasoning_tokens") > 0).height > 0


def test_late_rows_are_counted_and_recent(sample: tuple[SampleSummary, pl.DataFrame]) -> None:
    summary, events = sample
    first = _first_copies(events.filter(pl.col("broken") == 0))
    late = first.filter(pl.col("event_at").dt.date() < pl.col("file_date"))
    assert late.height == summary.late_rows > 0
    lag = (pl.col("file_date") - pl.col("event_at").dt.date()).dt.total_days()
    assert late.select(lag.is_between(1, 5).all()).item()
    on_time = first.filter(pl.col("event_at").dt.date() >= pl.col("file_date"))
    assert on_time.select((pl.col("event_at").dt.date() == pl.col("file_date")).all()).item()


def test_every_bad_kind_occurs_and_breaks_one_rule(
    sample: tuple[SampleSummary, pl.DataFrame],
) -> None:
    _, events = sample
    bad = events.filter(pl.col("broken") > 0)
    kind = pl.coalesce(pl.when(rule).then(pl.lit(name)) for name, rule in KINDS.items())
    bad = bad.with_columns(kind=kind)
    assert set(bad["kind"].unique()) == set(KINDS)
    # A negative count also makes a cache or reasoning total "exceed" it: nothing else may.
    assert bad.filter(~pl.col("kind").str.starts_with("negative"))["broken"].eq(1).all()
    assert bad.filter(pl.col("kind").str.starts_with("negative"))["broken"].max() <= 2  # type: ignore[operator]
    models = bad.filter(pl.col("kind") == "unparseable_model")["model"]
    assert set(models.unique()) <= {"", "   ", "gpt 4o", "model\tname"}
    with_id = bad.filter(pl.col("request_id").is_not_null())
    assert with_id["request_id"].n_unique() == with_id.height
    assert not set(with_id["request_id"]) & set(events.filter(pl.col("broken") == 0)["request_id"])


def test_volume_seasonality_and_new_tenants(fallback: tuple[SampleSummary, pl.DataFrame]) -> None:
    summary, events = fallback
    per_day = events.group_by("file_date").len()
    assert abs(per_day["len"].mean() / PER_DAY - 1) < 0.15  # type: ignore[operator]
    storms = pl.read_csv(summary.out_dir / "reference" / "token_storms.csv")
    calm = events.filter(~pl.col("tenant_id").is_in(storms["tenant_id"].implode()))
    per_day = calm.group_by("file_date").len()
    weekend = per_day.filter(pl.col("file_date").dt.weekday() >= 6)["len"].median()
    weekday = per_day.filter(pl.col("file_date").dt.weekday() < 6)["len"].median()
    assert weekend < weekday  # type: ignore[operator]
    tenants = pl.read_csv(summary.out_dir / "reference" / "tenants.csv", try_parse_dates=True)
    assert tenants.columns == [
        "tenant_id", "tenant_name", "size_weight", "workload", "first_active_date",
        "growth_per_day",
    ]  # fmt: skip
    assert tenants.height == TENANTS
    assert set(tenants["workload"]) <= {"code", "conv"}
    new = tenants.filter(pl.col("first_active_date") > summary.start)
    assert new.height >= 1
    first_seen = (
        events.filter(pl.col("broken") == 0)
        .group_by("tenant_id")
        .agg(pl.col("file_date").min(), pl.col("event_at").dt.date().min().alias("first_event"))
        .join(new, on="tenant_id")
    )
    assert (first_seen["file_date"] >= first_seen["first_active_date"]).all()
    assert (first_seen["first_event"] >= first_seen["first_active_date"]).all()
    totals = events.group_by("tenant_id").len().drop_nulls().sort("len", descending=True)
    assert totals["len"][0] > 3 * totals["len"][-1]  # sizes are skewed


def test_storm_day_stands_out(sample: tuple[SampleSummary, pl.DataFrame]) -> None:
    summary, events = sample
    storms = pl.read_csv(summary.out_dir / "reference" / "token_storms.csv", try_parse_dates=True)
    assert storms.height >= 1
    assert storms["multiplier"].is_between(5, 20).all()
    for tenant, day in storms.select("tenant_id", "storm_date").iter_rows():
        daily = events.filter(pl.col("tenant_id") == tenant).group_by("file_date").len()
        storm = daily.filter(pl.col("file_date") == day)["len"].item()
        assert storm > 2.5 * daily["len"].median()  # type: ignore[operator]


def test_fallback_says_so(fallback: tuple[SampleSummary, pl.DataFrame], tmp_path: Path) -> None:
    summary, _ = fallback
    assert summary.token_source == "fitted lognormal (../shared/data not found)"
    assert summary.model_source == "built-in model list (../shared/data not found)"
    missing = generate_sample(tmp_path, days=1, tenants=2, events_per_day=50, shared_data=tmp_path)
    assert missing.token_source.startswith("fitted lognormal")
    meta = json.loads((summary.out_dir / "reference" / "generator.json").read_text())
    assert meta["clean_events"] == summary.clean_events
    assert meta["seed"] == SEED
    assert meta["out_dir"] == "."


def test_real_data_gives_real_tokens_and_names(real: tuple[SampleSummary, pl.DataFrame]) -> None:
    summary, events = real
    assert summary.token_source == "azure_llm_2023 traces"
    assert summary.model_source == "litellm catalog"
    traces = pl.concat(
        pl.read_csv(p) for p in sorted((SHARED_DATA / "azure_llm_2023").glob("*.csv"))
    )
    valid = events.filter(pl.col("broken") == 0)
    # Input counts are drawn from the traces as they are; caching only splits them.
    assert valid["input_tokens"].is_in(traces["ContextTokens"].implode()).all()
    catalog = json.loads(
        (SHARED_DATA / "litellm" / "model_prices_and_context_window.json").read_text()
    )
    api = valid.filter(pl.col("provider") != "self-hosted")
    exact = api["model"].is_in(pl.Series(list(catalog)).implode()).mean()
    assert 0.5 < exact < 1.0  # type: ignore[operator]  # mostly catalog keys, some variants


def test_catalog_models_are_real_chat_models() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    catalog = json.loads(
        (SHARED_DATA / "litellm" / "model_prices_and_context_window.json").read_text()
    )
    models, source = load_models(SHARED_DATA)
    api = [m for m in models if m.provider != "self-hosted"]
    assert source == "litellm catalog"
    assert len(api) >= MIN_MODELS
    assert all(catalog[m.key]["mode"] == "chat" for m in api)
    assert len({m.provider for m in api}) >= 6


def test_catalog_is_topped_up_when_preferred_models_are_gone(tmp_path: Path) -> None:
    entries = {
        f"zz-chat-{i:02d}": {"mode": "chat", "litellm_provider": "openai"} for i in range(40)
    }
    entries |= {"gpt-4.1": {"mode": "chat", "litellm_provider": "openai"}}
    entries |= {"o3": {"mode": "embedding", "litellm_provider": "openai"}}
    entries |= {"zz-image": {"mode": "image_generation", "litellm_provider": "openai"}}
    path = tmp_path / "litellm" / "model_prices_and_context_window.json"
    path.parent.mkdir()
    path.write_text(json.dumps(entries))
    models, source = load_models(tmp_path)
    keys = [m.key for m in models if m.provider != "self-hosted"]
    assert source == "litellm catalog"
    assert len(keys) == MIN_MODELS
    assert "gpt-4.1" in keys
    assert "o3" not in keys
    assert "zz-image" not in keys
    assert keys == [m.key for m in load_models(tmp_path)[0] if m.provider != "self-hosted"]


def test_contracts_are_written_for_the_sample_tenants(
    fallback: tuple[SampleSummary, pl.DataFrame],
) -> None:
    from meterhouse.warehouse.dbt import check_contracts

    folder = fallback[0].out_dir / "contracts"
    check_contracts(folder)  # the columns `meterhouse nightly --contracts` expects
    contracts = pl.read_csv(folder / "tenant_contracts.csv", infer_schema=False)
    grants = pl.read_csv(folder / "credit_grants.csv", infer_schema=False)
    tenants = pl.read_csv(fallback[0].out_dir / "reference" / "tenants.csv")["tenant_id"]
    assert 0 < contracts["tenant_id"].n_unique() < TENANTS  # some tenants use the default plan
    assert set(contracts["tenant_id"]) <= set(tenants)
    assert contracts["contract_id"].is_unique().all()
    # a grant pays in its tenant's invoice currency
    joined = grants.join(contracts, on="tenant_id", suffix="_contract")
    assert (joined["currency"] == joined["currency_contract"]).all()
    # enterprise contracts, and only they, bill a gateway's cache hits
    billed = contracts.filter(pl.col("bill_gateway_cache_hits") == "true")["plan_id"]
    assert set(billed) == {"enterprise"}


def test_the_fleet_is_sized_to_the_traffic(tmp_path: Path) -> None:
    """At the demo's traffic, serving GPUs are powered only while they serve, 30-70% busy;
    spares serve nothing and are powered a minute a day: idle cost exists, but small."""
    days, shared = 2, SHARED_DATA if SHARED_DATA.is_dir() else None
    summary = generate_sample(tmp_path, days=days, tenants=25, events_per_day=20_000, seed=SEED,
                              shared_data=shared)  # fmt: skip
    hours = (
        pl.concat(
            pl.read_parquet(f) for f in sorted((summary.out_dir / "gpu_hours").rglob("*.parquet"))
        )
        .unique(["hour", "gpu_id"], keep="first")
        .drop_nulls("gpu_id")
    )
    spare = pl.col("gpu_id").str.contains("spare")
    # powered time is in whole seconds, which skews the hours with a second or two of work
    long = hours.filter(~spare & (pl.col("powered_seconds") >= 10))
    assert long.height
    assert 0.3 <= long["busy_seconds"].sum() / long["powered_seconds"].sum() <= 0.7
    ratio = long["busy_seconds"] / long["powered_seconds"]
    assert ratio.quantile(0.05) >= 0.27
    assert ratio.quantile(0.95) <= 0.73
    idle = hours.filter(~spare & (pl.col("busy_seconds") == 0))
    assert (idle["powered_seconds"] == 0).mean() > 0.9  # off when not serving (dirt aside)
    spares = hours.filter(spare)
    assert spares["busy_seconds"].max() == 0
    assert 0 < spares["powered_seconds"].sum() <= 60 * spares["gpu_id"].n_unique() * days + 3600
