"""What run.py and the outside measurements share: waiting, percentiles, a held worker."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from tests.pg.collector import HeldWorker as HeldWorker  # run.py and outside.py use it


async def wait_until(condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll until true or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        await asyncio.sleep(0.002)


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank): of fewer than 100 values, p99 is the maximum."""
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]
