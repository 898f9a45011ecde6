"""What dbt says, and where: its own output to a file in the warehouse's dbt folder, a line
per phase on stdout.

dbt prints two lines per node (~480 for a nightly build) and colours them on any stream, so a log
of the nightly was mostly dbt, with raw escape codes. Here every run's output goes, without
escape codes, to `<stem>.dbt/logs/output-<UTC time>-<command>.log` (the newest LOGS_KEPT
kept); stdout gets one line per phase (seeds, models, data tests...: how many passed, warned,
failed, skipped, and their time) and the file's path; stderr gets each node that failed or
warned, with dbt's message. On a terminal, or with --verbose, dbt's lines are shown too, as
they come (in colour on a terminal only). docs/decisions/0021.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meterhouse.terminal import is_verbose, plain, printable, printable_line

LOGS_KEPT = 20
# the unique id's first part, as a phase of the run
PHASES = {"seed": "seeds", "snapshot": "snapshots", "model": "models", "test": "data tests",
          "unit_test": "unit tests"}  # fmt: skip
# dbt's statuses, as counted (in this order)
STATUSES = {"success": "pass", "pass": "pass", "warn": "warn", "error": "error", "fail": "fail",
            "skipped": "skip"}  # fmt: skip
PROBLEMS = ("error", "fail", "warn")
TAIL_LINES = 40  # of the output shown when dbt stopped before running any node


def node_name(unique_id: str) -> str:
    """'model fct_x' or 'test not_null_fct_x_y' (a generic test's id ends with a hash)."""
    parts = unique_id.split(".")
    return f"{parts[0]} {parts[2] if parts[0] == 'test' and len(parts) > 2 else parts[-1]}"


def _new_log(logs: Path, command: str) -> Path:
    logs.mkdir(parents=True, exist_ok=True)
    for old in sorted(logs.glob("output-*.log"))[: -(LOGS_KEPT - 1) or None]:
        old.unlink(missing_ok=True)
    return logs / f"output-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{command}.log"


def run_logged(args: list[str], command: str, logs: Path, env: dict[str, str], cwd: Path,
               preexec_fn: Callable[[], None]) -> Logged:  # fmt: skip
    """Run dbt (`args`), its output to a new log file under `logs`, shown as it comes on a
    terminal or with --verbose."""
    colour = sys.stdout.isatty()
    stream = colour or is_verbose()
    if not colour:  # dbt colours its lines on any stream
        env = {**env, "DBT_USE_COLORS": "false"}
    log = _new_log(logs, command)
    sys.stdout.flush()
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as file:
        # preexec_fn: meterhouse starts dbt from its one thread
        child = subprocess.Popen(args, env=env, cwd=cwd, preexec_fn=preexec_fn,  # noqa: PLW1509
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 encoding="utf-8", errors="replace")  # fmt: skip
        with child:
            assert child.stdout is not None
            try:
                for line in child.stdout:
                    file.write(printable(plain(line)))
                    if stream:
                        sys.stdout.write(line if colour else printable(plain(line)))
                        sys.stdout.flush()
                return Logged(child.wait(), log, time.monotonic() - start)
            except BaseException:  # interrupted: no dbt is left behind holding the warehouse
                child.kill()
                raise


@dataclass(frozen=True)
class Logged:
    returncode: int
    log: Path  # dbt's output
    seconds: float  # from start to end, parsing included


def report(command: str, target: Path, run: Logged) -> None:
    """The run in a few lines: a line per phase and the log's path on stdout; what failed or
    warned on stderr (unless dbt's own lines were shown), or the end of dbt's output when it
    stopped before running anything."""
    path = target / "run_results.json"
    results: list[dict[str, Any]] = (
        json.loads(path.read_text())["results"] if path.is_file() else []
    )
    shown = sys.stdout.isatty() or is_verbose()
    for line in phase_lines(command, results):
        print(line, flush=True)
    print(printable_line(f"dbt {command}: {run.seconds:.1f} s in all; dbt's output: {run.log}"),
          flush=True)  # fmt: skip
    if shown:
        return
    for r in results:
        if STATUSES.get(r["status"], r["status"]) in PROBLEMS:
            first, *more = (str(r.get("message") or "").strip() or "no message").splitlines()
            _say(printable_line(f"dbt {r['status']}: {node_name(r['unique_id'])}: {first}"))
            for text in more:
                _say(f"    {printable_line(text.strip())}")
    if run.returncode != 0 and not results:
        _say(f"dbt {command} stopped before running anything; the end of its output ({run.log}):")
        for text in run.log.read_text(encoding="utf-8").splitlines()[-TAIL_LINES:]:
            _say(f"    {text}")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def phase_lines(command: str, results: list[dict[str, Any]]) -> list[str]:
    """'dbt build, models: 95 pass, 1 error, 3 skip (31.0 s)' for each phase the run had; the
    time is the sum of its nodes' (threads overlap)."""
    lines = []
    order = list(dict.fromkeys(STATUSES.values()))
    for kind, label in PHASES.items():
        nodes = [r for r in results if r["unique_id"].split(".")[0] == kind]
        if not nodes:
            continue
        counts = Counter(STATUSES.get(r["status"], r["status"]) for r in nodes)
        ranked = sorted(counts, key=lambda s: order.index(s) if s in order else len(order))
        spent = sum(float(r.get("execution_time") or 0) for r in nodes)
        words = ", ".join(f"{counts[s]:,} {s}" for s in ranked)
        lines.append(f"dbt {command}, {label}: {words} ({spent:.1f} s)")
    return lines
