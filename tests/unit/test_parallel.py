"""Work spread over the cores: every item once, results in the items' order, progress as the
chunks come back, and enough items really reach other processes."""

from __future__ import annotations

import os
import time

from meterhouse.core.parallel import in_parallel


def _squares_and_pids(chunk: list[int]) -> list[tuple[int, int]]:
    time.sleep(0.05)  # long enough that one worker cannot take every chunk
    return [(n * n, os.getpid()) for n in chunk]


def test_every_item_once_in_order_on_other_processes() -> None:
    told: list[int] = []
    made = in_parallel(_squares_and_pids, list(range(100)), per_worker=10, done=told.append)
    assert [square for square, _ in made] == [n * n for n in range(100)]
    assert told == sorted(told)
    assert told[-1] == 100
    if (os.cpu_count() or 1) > 1:
        assert os.getpid() not in {pid for _, pid in made}
        assert len({pid for _, pid in made}) > 1  # more than one worker did some


def test_too_few_items_for_a_worker_stay_in_this_process() -> None:
    told: list[int] = []
    made = in_parallel(_squares_and_pids, [1, 2, 3], per_worker=10, done=told.append)
    assert made == [(1, os.getpid()), (4, os.getpid()), (9, os.getpid())]
    assert told == [3]
