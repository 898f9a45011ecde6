"""Work spread over every core: chunks of items to worker processes, results in order.

Workers start from a fork server, not a fork of the calling process, which may hold DuckDB's
threads and locks. Each worker runs one BLAS thread: the pool is the parallelism (with a BLAS
thread pool in each worker as well, the small matrices of ETS fitting made the pool 4x slower
than one core). Too few items for a worker each stay in this process: starting a worker costs
more than they do.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def in_parallel(
    work: Callable[..., list[T]],
    items: Sequence[Any],
    *args: object,
    per_worker: int = 8,
    done: Callable[[int], None] = lambda n: None,
) -> list[T]:
    """`work(chunk, *args)` over chunks of `items` on every core (a worker for each
    `per_worker` items at least, at most one a core); the results in the items' order.
    `done(n)` is told how many items are done as each chunk comes back."""
    workers = max(1, min(os.cpu_count() or 1, len(items) // per_worker or 1))
    if workers == 1:
        alone = list(work(list(items), *args))
        done(len(items))
        return alone
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    size = math.ceil(len(items) / (workers * 4))
    chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
    results: list[T] = []
    finished = 0
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        made = pool.map(work, chunks, *([a] * len(chunks) for a in args))
        for chunk, rows in zip(chunks, made, strict=True):
            results += rows
            finished += len(chunk)
            done(finished)
    return results
