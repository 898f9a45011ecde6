"""Sources benchmark: `meterhouse ingest --source litellm|otel` against loading the same
requests in our own contract, and against a bare read of the same file.

Generates N requests (default 1M; vectorised, seed 1, 30 days of October 2026, 36 tenants of
Zipf-like size, 14 models priced in seeds/reference/price_book_snapshot.csv, cache reads on a
share of long prompts, Anthropic-style cache writes with about 1 in 8 of them to the 1-hour
cache, reasoning on reasoning models, 2% failures) and writes them, kept in bench/out/sources
and reused between runs, as:
  - a LiteLLM `LiteLLM_SpendLogs` dump, CSV (as `\\copy ... csv header` writes it: times
    `2026-10-01 12:00:00.123`, nulls empty, `metadata` jsonb text with `usage_object` and
    `additional_usage_values`) and Parquet (timestamp[ms] columns, metadata a string);
  - the same requests in the event contract (docs/event-contract.md), Parquet and CSV;
  - OTLP JSON Lines as the Collector's file exporter writes it: one TracesData per line,
    100 spans per line (one SDK export batch), one resource (the gateway pod) and one scope;
    each span a `chat` span with typed attributes (int64 as decimal strings), cache and
    reasoning counts only where non-zero, the tenant in the span attribute `tenant.id`.
    (OTel has no 1-hour cache-write attribute: those writes arrive as plain cache writes.)
Then, each step in a fresh process (times and peak RSS via os.wait4), run once:
  (1) litellm CSV / Parquet ingest vs native ingest of the same format: target <= 2x;
      each pair run --rounds times in turn (native, litellm, native, ...), each's median
      compared (one run apart, the machine's drift moved the CSV ratio by 0.4);
  (2) otel ingest vs a bare `pl.scan_ndjson(path).collect()` and a bare DuckDB
      `create table as select * from read_json(path)` of the same file: target <= 2x;
  (3) peak RSS of the otel ingest of N/2 and 2N spans, each under `--memory-limit 1GB`:
      target peak(2N) <= 1.2 x peak(N/2). Under the default budget (75% of the machine)
      DuckDB keeps the blocks it wrote cached up to its limit, so RSS grows with what was
      inserted, as a cache; a set budget bounds that, and what the loader holds is left.
      That holds only if the loader streams a file in batches (warehouse/ingest.py) and holds
      fewer rows than N/2 at a time (memory.flush_rows: at most 512Ki valid rows waiting);
      while it reads a whole file, or keeps a flush's rows after inserting them, this prints
      FAIL, honestly.
Each ingest is checked afterwards: the rows loaded must be all N (else the step says so). A
step compared with a baseline is stopped at 3x the baseline's time (at least 60 s: its target
has failed by then; the ratio prints as `>=`), any step at --limit seconds or past
--mem-cap-gib of RSS (a shared machine).
Run with `.venv/bin/python bench/sources.py [--requests N] [--keep]`.
"""

from __future__ import annotations

import argparse
import binascii
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "sources"
PRICES = ROOT / "seeds" / "reference" / "price_book_snapshot.csv"
START_US = 1_759_276_800_000_000  # 2026-10-01T00:00:00Z
DAYS, DAY_US = 30, 86_400_000_000
SPANS_PER_LINE = 100
STOP_AT = 3.0  # a step compared with a baseline is stopped at this many times its time
MEMORY_PAIR = "1GB"  # the --memory-limit of the pair of step (3)
GENERATION = "g2"  # in the files' names: a change to the generator makes new files
TENANTS = 36
# (model as the gateway names it, LiteLLM custom_llm_provider, OTel gen_ai.provider.name,
#  share of requests, reads cache, Anthropic-style writes, reasons, API host)
MODELS = (
    ("gpt-4.1", "openai", "openai", 0.14, True, False, False, "api.openai.com"),
    ("gpt-4.1-mini", "openai", "openai", 0.16, True, False, False, "api.openai.com"),
    ("gpt-4o-mini", "openai", "openai", 0.10, True, False, False, "api.openai.com"),
    ("gpt-5", "openai", "openai", 0.06, True, False, True, "api.openai.com"),
    ("gpt-5-mini", "openai", "openai", 0.06, True, False, True, "api.openai.com"),
    ("o4-mini", "openai", "openai", 0.04, True, False, True, "api.openai.com"),
    ("claude-sonnet-4-20250514", "anthropic", "anthropic", 0.12, True, True, False,
     "api.anthropic.com"),
    ("claude-sonnet-4-5-20250929", "anthropic", "anthropic", 0.10, True, True, True,
     "api.anthropic.com"),
    ("claude-haiku-4-5-20251001", "anthropic", "anthropic", 0.06, True, True, False,
     "api.anthropic.com"),
    ("bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", "bedrock", "aws.bedrock", 0.03,
     True, True, False, "bedrock-runtime.us-east-1.amazonaws.com"),
    ("gemini/gemini-2.5-flash", "gemini", "gcp.gemini", 0.05, True, False, True,
     "generativelanguage.googleapis.com"),
    ("deepseek/deepseek-chat", "deepseek", "deepseek", 0.03, True, False, False,
     "api.deepseek.com"),
    ("mistral/mistral-small-latest", "mistral", "mistral_ai", 0.03, False, False, False,
     "api.mistral.ai"),
    ("groq/llama-3.3-70b-versatile", "groq", "groq", 0.02, False, False, False,
     "api.groq.com"),
)  # fmt: skip
POLARS_BARE = "import polars as pl, sys; pl.scan_ndjson(sys.argv[1]).collect()"
LAUNCH = """
import os, sys, time
begin = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(2, 1)
    os.execvp(sys.argv[1], sys.argv[1:])
print(pid, flush=True)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - begin, usage.ru_maxrss, os.waitstatus_to_exitcode(status), flush=True)
"""
DUCKDB_BARE = """
import duckdb, sys
duckdb.connect().execute("create table t as select * from read_json(?)", [sys.argv[1]])
"""


def hex_ids(rng: np.random.Generator, n: int, nbytes: int) -> pl.Series:
    raw = np.frombuffer(binascii.hexlify(rng.bytes(nbytes * n)), dtype=f"S{2 * nbytes}")
    return pl.Series(raw).cast(pl.String)


def price_table() -> np.ndarray:
    """USD per 1M tokens per model: input, output, cache read, cache write, 1-hour write (a
    missing class falls back as docs/pricing.md says: 1h to write, write and read to input)."""
    book = pl.read_csv(PRICES).filter(pl.col("service_tier") == "standard",
                                      pl.col("min_context_tokens") == 0)  # fmt: skip
    rows = []
    for model, *_ in MODELS:
        rows_of = book.filter(pl.col("model_id") == model)
        p = dict(rows_of.select("token_class", "usd_per_1m_tokens").rows())
        if not p:
            sys.exit(f"{model} is not in {PRICES}: pick models the price book prices")
        write = p.get("cache_write", p["input"])
        rows.append([p["input"], p["output"], p.get("cache_read", p["input"]), write,
                     p.get("cache_write_1h", write)])  # fmt: skip
    return np.array(rows)


def requests(n: int, seed: int) -> pl.DataFrame:
    """n requests in time order, in neutral columns that every file below is written from."""
    rng = np.random.default_rng(seed)
    share = np.array([m[3] for m in MODELS])
    m = rng.choice(len(MODELS), n, p=share / share.sum())
    weight = 1 / np.arange(1, TENANTS + 1) ** 1.1
    t = rng.choice(TENANTS, n, p=weight / weight.sum())
    caches, writes, reasons = (np.array([x[i] for x in MODELS]) for i in (4, 5, 6))
    ok = rng.random(n) >= 0.02
    inp = np.rint(rng.lognormal(np.log(1800), 1.2, n)).clip(3, 190_000).astype(np.int64)
    out = np.rint(rng.lognormal(np.log(280), 1.0, n)).clip(1, 16_000).astype(np.int64)
    thinks = reasons[m] & (rng.random(n) < 0.6)
    out = np.where(thinks, out * 3, out)
    reason = np.where(thinks, np.floor(out * rng.beta(3.0, 2.0, n)), 0).astype(np.int64)
    hit = caches[m] & (inp >= 1024) & (rng.random(n) < 0.35)
    cread = np.where(hit, np.floor(inp * rng.beta(4.0, 2.0, n)), 0).astype(np.int64)
    wrote = writes[m] & (rng.random(n) < 0.10)
    cwrite = np.where(wrote, np.floor((inp - cread) * rng.beta(2.0, 2.0, n)), 0).astype(np.int64)
    cwrite1h = np.where(wrote & (rng.random(n) < 1 / 8), cwrite, 0)
    counts = (inp, out, reason, cread, cwrite, cwrite1h)
    inp, out, reason, cread, cwrite, cwrite1h = (np.where(ok, x, 0) for x in counts)
    ttft = rng.lognormal(np.log(450.0), 0.5, n) * (1 + 3 * thinks)
    latency = np.where(ok, ttft + out * 1000.0 / (90.0 * rng.lognormal(0.0, 0.25, n)), ttft)
    p = price_table()[m]
    uncached = inp - cread - cwrite
    spend = (uncached * p[:, 0] + out * p[:, 1] + cread * p[:, 2] + (cwrite - cwrite1h) * p[:, 3]
             + cwrite1h * p[:, 4]) / 1e6  # fmt: skip
    # ids: LiteLLM keeps the provider's response id; teams are UUIDs, 36 teams in 9 orgs
    ids = np.random.default_rng(seed + 1000)
    team = [str(uuid.UUID(bytes=ids.bytes(16), version=4)) for _ in range(TENANTS)]
    org = [str(uuid.UUID(bytes=ids.bytes(16), version=4)) for _ in range(9)]
    keys = [binascii.hexlify(ids.bytes(32)).decode() for _ in range(TENANTS * 3)]
    prefix = np.array(["msg_" if x[1] in ("anthropic", "bedrock") else "chatcmpl-"
                       for x in MODELS])[m]  # fmt: skip
    customer = (rng.random(n) ** 2 * 400).astype(np.int64)
    return pl.DataFrame({
        "request_id": pl.Series(prefix) + hex_ids(rng, n, 12),
        "start_us": np.sort(START_US + rng.integers(0, DAYS * DAY_US, n)),
        "m": m, "t": t, "ok": ok,
        "inp": inp, "out": out, "cread": cread, "cwrite": cwrite, "cwrite1h": cwrite1h,
        "reason": reason,
        "ttft_us": np.rint(ttft * 1000).astype(np.int64),
        "latency_us": np.rint(latency * 1000).astype(np.int64),
        "spend": spend,
        "team": np.array(team)[t], "org": np.array(org)[t % 9],
        "api_key": np.array(keys)[t * 3 + rng.integers(0, 3, n)],
        "owner": pl.Series([f"svc-{i:02d}@example.com" for i in range(TENANTS)])[t],
        "customer": customer,
        "has_end_user": rng.random(n) >= 0.15,
        "trace_id": hex_ids(rng, n, 16), "span_id": hex_ids(rng, n, 8),
        "parent_id": hex_ids(rng, n, 8),
        **{name: np.array([x[i] for x in MODELS])[m] for name, i in
           (("model", 0), ("provider", 1), ("otel_provider", 2), ("host", 7))},
    }).with_columns(end_user=pl.when("has_end_user").then(pl.format("cust-{}", "customer"))
    )  # fmt: skip


def fmt(template: str, *values: pl.Expr | str) -> pl.Expr:
    """pl.format with `@` as the placeholder, so JSON braces need no escaping."""
    escaped = template.replace("{", "{{").replace("}", "}}").replace("@", "{}")
    return pl.format(escaped, *(pl.col(v) if isinstance(v, str) else v for v in values))


def times(micros: pl.Expr, zone: str | None) -> pl.Expr:
    return pl.from_epoch(micros, time_unit="us").cast(pl.Datetime("ms")).dt.replace_time_zone(zone)


def litellm(r: pl.DataFrame) -> pl.DataFrame:
    """The LiteLLM_SpendLogs columns of the requests (plus the content columns, empty)."""
    anthropic = pl.col("provider").is_in(["anthropic", "bedrock"])
    details = fmt(
        '"completion_tokens_details": {"accepted_prediction_tokens": null, "audio_tokens": '
        'null, "reasoning_tokens": @, "rejected_prediction_tokens": null, "text_tokens": null}, '
        '"prompt_tokens_details": {"audio_tokens": null, "cached_tokens": @, "text_tokens": '
        "null, \"image_tokens\": null@}@",
        "reason", "cread",
        pl.when(anthropic).then(fmt(
            ', "cache_creation_tokens": @, "cache_creation_token_details": '
            '{"ephemeral_5m_input_tokens": @, "ephemeral_1h_input_tokens": @}',
            "cwrite", pl.col("cwrite") - pl.col("cwrite1h"), "cwrite1h",
        )).otherwise(pl.lit("")),
        pl.when(anthropic).then(fmt(', "cache_creation_input_tokens": @, '
                                    '"cache_read_input_tokens": @', "cwrite", "cread"))
        .otherwise(pl.lit("")),
    )  # fmt: skip
    error = fmt('{"error_code": "429", "error_class": "RateLimitError", "llm_provider": "@", '
                '"error_message": "rate limit exceeded, retry after 20s"}', "provider")  # fmt: skip
    metadata = fmt(
        '{"batch_models": null, "usage_object": {"completion_tokens": @, "prompt_tokens": @, '
        '"total_tokens": @, @}, "user_api_key": "@", "applied_guardrails": [], '
        '"user_api_key_alias": null, "user_api_key_org_id": "@", "user_api_key_team_id": "@", '
        '"user_api_key_user_id": "@", "user_api_key_team_alias": "team-@", '
        '"spend_logs_metadata": null, "requester_ip_address": "", "mcp_tool_call_metadata": '
        'null, "vector_store_request_metadata": null, "additional_usage_values": {@}, '
        '"status": "@", "error_information": @}',
        "out", "inp", pl.col("inp") + pl.col("out"), details, "api_key", "org", "team",
        "owner", "t", details, pl.when("ok").then(pl.lit("success")).otherwise(pl.lit("failure")),
        pl.when("ok").then(pl.lit("null")).otherwise(error),
    )  # fmt: skip
    return r.select(
        "request_id",
        pl.lit("acompletion").alias("call_type"),
        "api_key",
        pl.col("spend").alias("spend"),
        (pl.col("inp") + pl.col("out")).cast(pl.Int32).alias("total_tokens"),
        pl.col("inp").cast(pl.Int32).alias("prompt_tokens"),
        pl.col("out").cast(pl.Int32).alias("completion_tokens"),
        times(pl.col("start_us"), None).alias("startTime"),
        times(pl.col("start_us") + pl.col("latency_us"), None).alias("endTime"),
        times(pl.col("start_us") + pl.col("ttft_us"), None).alias("completionStartTime"),
        (pl.col("latency_us") // 1000).alias("request_duration_ms"),
        "model",
        pl.col("model").alias("model_group"),
        pl.col("provider").alias("custom_llm_provider"),
        fmt("https://@/v1", "host").alias("api_base"),
        pl.col("owner").alias("user"),
        metadata.alias("metadata"),
        pl.lit("False").alias("cache_hit"),
        pl.lit("[]").alias("request_tags"),
        pl.col("team").alias("team_id"),
        pl.col("org").alias("organization_id"),
        "end_user",
        pl.lit("{}").alias("messages"),
        pl.lit("{}").alias("response"),
        pl.when("ok").then(pl.lit("success")).otherwise(pl.lit("failure")).alias("status"),
    )


def native(r: pl.DataFrame) -> pl.DataFrame:
    """The same requests in the event contract's columns."""
    return r.select(
        "request_id",
        times(pl.col("start_us"), "UTC").alias("event_at"),
        pl.col("team").alias("tenant_id"),
        "model",
        pl.col("inp").alias("input_tokens"),
        pl.col("out").alias("output_tokens"),
        pl.col("cread").alias("cache_read_tokens"),
        pl.col("cwrite").alias("cache_write_tokens"),
        pl.col("cwrite1h").alias("cache_write_1h_tokens"),
        pl.col("reason").alias("reasoning_tokens"),
        pl.col("end_user").alias("user_id"),
        "provider",
        pl.when("ok").then(pl.lit("success")).otherwise(pl.lit("error")).alias("status"),
        (pl.col("latency_us") / 1000).alias("latency_ms"),
        (pl.col("ttft_us") / 1000).alias("first_token_latency_ms"),
    )


def otlp_lines(r: pl.DataFrame, first_line: int) -> pl.DataFrame:
    """One TracesData per SPANS_PER_LINE spans, compact JSON as the Collector's file exporter
    (protojson) writes it."""

    def attr(key: str, kind: str, value: pl.Expr | str) -> pl.Expr:
        return fmt(f'{{"key":"{key}","value":{{"{kind}":@}}}}', value)

    def text(key: str, value: pl.Expr | str) -> pl.Expr:
        return attr(key, "stringValue", fmt('"@"', value))

    def count(key: str, column: str) -> pl.Expr:  # an optional count: only when there is one
        given = pl.lit(",") + attr(key, "intValue", fmt('"@"', column))
        return pl.when(pl.col(column) > 0).then(given).otherwise(pl.lit(""))

    start_ns = pl.col("start_us") * 1000
    span = fmt(
        '{"traceId":"@","spanId":"@","parentSpanId":"@","name":"chat @","kind":3,'
        '"startTimeUnixNano":"@","endTimeUnixNano":"@","attributes":[@,@,@,@,@,@,@@@@,@,@@],'
        '"status":{@}}',
        "trace_id", "span_id", "parent_id", "model", start_ns,
        start_ns + pl.col("latency_us") * 1000,
        text("gen_ai.operation.name", pl.lit("chat")),
        text("gen_ai.provider.name", "otel_provider"),
        text("gen_ai.request.model", "model"),
        text("gen_ai.response.model", "model"),
        text("gen_ai.response.id", "request_id"),
        attr("gen_ai.usage.input_tokens", "intValue", fmt('"@"', "inp")),
        attr("gen_ai.usage.output_tokens", "intValue", fmt('"@"', "out")),
        count("gen_ai.usage.cache_read.input_tokens", "cread"),
        count("gen_ai.usage.cache_creation.input_tokens", "cwrite"),
        count("gen_ai.usage.reasoning.output_tokens", "reason"),
        text("server.address", "host"),
        text("tenant.id", "team"),
        pl.when(pl.col("end_user").is_not_null())
        .then(pl.lit(",") + text("user.id", "end_user")).otherwise(pl.lit("")),
        pl.when("ok").then(pl.lit('"code":1'))
        .otherwise(pl.lit('"code":2,"message":"429 rate limit exceeded"')),
    )  # fmt: skip
    line = pl.int_range(pl.len()) // SPANS_PER_LINE + first_line
    return (
        r.select(span.alias("span"), line.alias("line"))
        .group_by("line", maintain_order=True)
        .agg(pl.col("span").str.join(","))
        .select(fmt(
            '{"resourceSpans":[{"resource":{"attributes":[@,@,@]},"scopeSpans":[{"scope":'
            '{"name":"opentelemetry.instrumentation.openai_v2","version":"2.1b0"},"spans":[@]}]'
            "}]}",
            text("service.name", pl.lit("llm-gateway")),
            text("service.instance.id", fmt("gateway-@", pl.col("line") % 4)),
            text("deployment.environment.name", pl.lit("production")), "span",
        ).alias("line"))
    )  # fmt: skip


def write_once(path: Path, write: Callable[[Path], object]) -> Path:
    """Write a file through a temporary name, so a broken run leaves nothing to reuse."""
    if not path.exists():
        tmp = path.with_name(path.name + ".tmp")
        begin = time.perf_counter()
        write(tmp)
        tmp.rename(path)
        size = path.stat().st_size / 2**20
        print(f"  wrote {path.name} ({size:,.0f} MiB) in {time.perf_counter() - begin:.1f} s")
    return path


def write_otlp(r: pl.DataFrame, path: Path) -> None:
    with path.open("wb") as handle:
        for first in range(0, r.height, 200_000):  # 200k spans at a time: bounded memory
            part = otlp_lines(r.slice(first, 200_000), first // SPANS_PER_LINE)
            part.write_csv(handle, include_header=False, quote_style="never")


@dataclass
class Step:
    name: str
    seconds: float
    peak_gib: float
    ok: bool
    note: str = ""
    rounds: str = ""  # every run's seconds, for a step run more than once


def timed(name: str, cmd: list[str], cap_gib: float, limit_s: float) -> Step:
    """Wall seconds and peak RSS of one fresh process, stopped past cap_gib or limit_s.

    The process is started by a bare `python -S` launcher: a child's ru_maxrss keeps the
    high-water mark of the memory it was forked from, so forking from this process (which
    holds the generated data) would count that memory in every figure."""
    log = OUT / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    stopped: list[str] = []
    with log.open("wb") as err:
        launcher = subprocess.Popen([sys.executable, "-S", "-c", LAUNCH, *cmd], text=True,
                                    stdout=subprocess.PIPE, stderr=err)  # fmt: skip
        assert launcher.stdout is not None
        pid = int(launcher.stdout.readline())
        begin = time.perf_counter()

        def watch() -> None:
            status = Path(f"/proc/{pid}/status")
            while True:
                try:
                    rss = next(int(x.split()[1]) for x in status.read_text().splitlines()
                               if x.startswith("VmRSS:")) / 2**20  # fmt: skip
                except (OSError, StopIteration, ValueError):
                    return
                over = rss > cap_gib or time.perf_counter() - begin > limit_s
                if over:
                    stopped.append(f"stopped past {cap_gib:g} GiB" if rss > cap_gib
                                   else f"stopped at {limit_s:.0f} s")  # fmt: skip
                    os.kill(pid, signal.SIGKILL)
                    return
                time.sleep(0.25)

        threading.Thread(target=watch, daemon=True).start()
        seconds, maxrss_kib, code = launcher.stdout.readline().split()
        launcher.wait()
    step = Step(name, float(seconds), int(maxrss_kib) / 2**20, not stopped and code == "0")
    if stopped:
        step.note = stopped[0]
    elif code != "0":
        lines = log.read_text(errors="replace").strip().splitlines() or ["(no output)"]
        step.note = f"exit {code}: {lines[-1][:100]}"
    return step


def median(runs: list[Step]) -> Step:
    """The median run by time (a failed run, if any: it is the news), with the highest peak
    and every run's seconds."""
    failed = [r for r in runs if not r.ok or r.note]
    if failed:
        return failed[0]
    middle = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
    times = ", ".join(f"{r.seconds:.2f}" for r in runs)
    return Step(middle.name, middle.seconds, max(r.peak_gib for r in runs), True,
                rounds=f"median of {times}" if len(runs) > 1 else "")  # fmt: skip


def loaded(db: Path, step: Step, expected: int) -> Step:
    """Check what an ingest loaded: every request, none quarantined."""
    if step.ok:
        with duckdb.connect(str(db), read_only=True) as con:
            [(rows,)] = con.execute("select count(*) from raw.usage_events").fetchall()
            [(bad,)] = con.execute("select count(*) from raw.quarantined_events").fetchall()
        if rows != expected:
            step.note = f"loaded {rows:,} of {expected:,}, {bad:,} quarantined"
    return step


def fresh(path: Path) -> Path:
    """No warehouse at `path`: its file, WAL and the `<name>.dbt` folder (its lock) removed."""
    for p in (path, path.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(path.with_suffix(".dbt"), ignore_errors=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000, help="requests per file")
    parser.add_argument("--keep", action="store_true", help="keep the warehouses written")
    parser.add_argument(
        "--mem-cap-gib",
        type=float,
        default=14.0,
        help="stop a step whose RSS passes this (a shared machine)",
    )
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each LiteLLM ingest and its native one, in turn")  # fmt: skip
    parser.add_argument("--limit", type=float, default=600.0,
                        help="stop a step after this many seconds")  # fmt: skip
    args = parser.parse_args()
    n, cap = args.requests, args.mem_cap_gib
    small, large = n // 2, 2 * n
    OUT.mkdir(parents=True, exist_ok=True)
    bench_begin = time.perf_counter()
    meterhouse = str(Path(sys.executable).with_name("meterhouse"))

    names = {
        "litellm_csv": f"litellm-{n}.csv", "litellm_parquet": f"litellm-{n}.parquet",
        "native_parquet": f"events-{n}.parquet", "native_csv": f"events-{n}.csv",
        "otel": f"otel-{n}.jsonl", "otel_small": f"otel-{small}.jsonl",
        "otel_large": f"otel-{large}.jsonl",
    }  # fmt: skip
    files = {key: OUT / f"{GENERATION}-{name}" for key, name in names.items()}
    if not all(p.exists() for p in files.values()):
        print(f"generating into {OUT.relative_to(ROOT)} (reused by later runs)")
        r = requests(n, seed=1)
        log = litellm(r)
        write_once(files["litellm_parquet"], log.write_parquet)
        write_once(files["litellm_csv"], lambda p: log.write_csv(
            p, datetime_format="%Y-%m-%d %H:%M:%S%.3f", null_value=""))  # fmt: skip
        del log
        events = native(r)
        write_once(files["native_parquet"], events.write_parquet)
        write_once(files["native_csv"], lambda p: events.write_csv(
            p, datetime_format="%Y-%m-%dT%H:%M:%S%.3fZ", null_value=""))  # fmt: skip
        del events
        write_once(files["otel"], lambda p: write_otlp(r, p))
        del r
        if not files["otel_small"].exists():
            write_once(files["otel_small"], lambda p: write_otlp(requests(small, 2), p))
        if not files["otel_large"].exists():
            write_once(files["otel_large"], lambda p: write_otlp(requests(large, 3), p))

    def ingest(
        name: str, path: Path, *source: str, rows: int = n, limit: float, memory: str | None = None
    ) -> Step:
        db = fresh(OUT / f"{name}.duckdb")
        budget = [] if memory is None else ["--memory-limit", memory]
        cmd = [meterhouse, *budget, "ingest", str(path), "--db", str(db), *source]
        step = loaded(db, timed(name, cmd, cap, limit), rows)
        if not args.keep:
            fresh(db)
        return step

    def against(base: Step) -> float:  # past STOP_AT x its baseline a target has failed anyway
        return max(60.0, STOP_AT * base.seconds)

    otel = ("--source", "otel", "--tenant-from", "tenant.id")
    print(
        f"\n{n:,} requests; each step in a fresh process, once (a LiteLLM ingest and its "
        f"native one {args.rounds} times); measuring {code_state()}"
    )
    s: dict[str, Step] = {}

    def paired(native: str, other: str) -> Step:
        """`other` against `native`, each run args.rounds times in turn (A B A B ...): each
        one's median run, so a ratio holds when the machine's speed drifts."""
        runs: dict[str, list[Step]] = {native: [], other: []}
        for _ in range(args.rounds):
            runs[native].append(ingest(native, files[native], limit=args.limit))
            runs[other].append(ingest(other, files[other], "--source", "litellm",
                                      limit=against(runs[native][-1])))  # fmt: skip
        s[native] = median(runs[native])
        print(f"  {native:<20} {s[native].seconds:8.2f} s  {s[native].note or s[native].rounds}",
              flush=True)  # fmt: skip
        return median(runs[other])

    steps: tuple[Callable[[], Step], ...] = (
        lambda: timed("cli_start", [meterhouse, "--help"], cap, args.limit),
        lambda: paired("native_parquet", "litellm_parquet"),
        lambda: paired("native_csv", "litellm_csv"),
        lambda: timed("bare_polars_ndjson", [sys.executable, "-c", POLARS_BARE,
                                             str(files["otel"])], cap, args.limit),
        lambda: timed("bare_duckdb_json", [sys.executable, "-c", DUCKDB_BARE,
                                           str(files["otel"])], cap, args.limit),
        lambda: ingest("otel", files["otel"], *otel, limit=against(
            min(s["bare_polars_ndjson"], s["bare_duckdb_json"], key=lambda x: x.seconds))),
        lambda: ingest("otel_small", files["otel_small"], *otel, rows=small, limit=args.limit,
                       memory=MEMORY_PAIR),
        lambda: ingest("otel_large", files["otel_large"], *otel, rows=large, limit=args.limit,
                       memory=MEMORY_PAIR),
    )  # fmt: skip
    for run in steps:
        done = run()
        s[done.name] = done
        print(f"  {done.name:<20} {done.seconds:8.2f} s  {done.note or done.rounds}", flush=True)
    labels = {
        "cli_start": "`meterhouse --help` (start-up, inside each)",
        "native_parquet": "native ingest, Parquet",
        "litellm_parquet": "--source litellm ingest, Parquet",
        "native_csv": "native ingest, CSV",
        "litellm_csv": "--source litellm ingest, CSV",
        "bare_polars_ndjson": "bare pl.scan_ndjson(otel).collect()",
        "bare_duckdb_json": "bare DuckDB CTAS read_json(otel)",
        "otel": "--source otel ingest",
        "otel_small": f"--source otel ingest, {small:,} spans, {MEMORY_PAIR}",
        "otel_large": f"--source otel ingest, {large:,} spans, {MEMORY_PAIR}",
    }
    print()
    read = {**files, "bare_polars_ndjson": files["otel"], "bare_duckdb_json": files["otel"]}
    for name, step in s.items():
        path = read.get(name)
        mib = f"{path.stat().st_size / 2**20:7,.0f} MiB" if path else " " * 11
        print(f"{labels[name]:<44} {mib} {step.seconds:8.2f} s  peak {step.peak_gib:5.2f} GiB"
              + (f"  !! {step.note}" if step.note else f"  ({step.rounds})" if step.rounds
                 else ""))  # fmt: skip

    def ratio(text: str, a: Step, b: Step, target: float, of: str = "seconds") -> None:
        value = getattr(a, of) / getattr(b, of)
        good = a.ok and b.ok and not a.note and not b.note and value <= target
        at_least = ">=" if a.note.startswith("stopped at") else "  "
        print(
            f"{text:<46} {at_least}{value:6.2f}   target <= {target:g}  "
            f"{'PASS' if good else 'FAIL'}"
        )

    print()
    ratio("litellm / native, Parquet", s["litellm_parquet"], s["native_parquet"], 2)
    ratio("litellm / native, CSV", s["litellm_csv"], s["native_csv"], 2)
    ratio("otel ingest / bare Polars read of the file", s["otel"], s["bare_polars_ndjson"], 2)
    ratio("otel ingest / bare DuckDB read of the file", s["otel"], s["bare_duckdb_json"], 2)
    ratio(f"otel peak RSS, {large:,} / {small:,} spans", s["otel_large"], s["otel_small"], 1.2,
          of="peak_gib")  # fmt: skip
    print(f"\nbench run time {time.perf_counter() - bench_begin:.0f} s (generation included); "
          f"step logs in {(OUT / 'logs').relative_to(ROOT)}")  # fmt: skip


def code_state() -> str:
    """The commit measured, and whether the package had uncommitted changes (others' work in
    progress is measured as it stands)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=False,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    status = subprocess.run([*git, "status", "--porcelain", "--", "cli"], check=False,
                            capture_output=True, text=True).stdout  # fmt: skip
    dirty = [line[3:] for line in status.splitlines()]
    return f"{head}" + (f" + uncommitted {', '.join(dirty)}" if dirty else "")


if __name__ == "__main__":
    main()
