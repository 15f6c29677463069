"""What run.py and the outside measurements share: waiting, percentiles, a held worker."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from pgcluster_tui.pg.reader import Reader
from pgcluster_tui.pg.worker import ChannelWorker, WorkerConfig


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


class HeldWorker(ChannelWorker):
    """A worker that reads no notification until released, so a backlog builds."""

    def __init__(self, config: WorkerConfig) -> None:
        super().__init__(config)
        self.release = asyncio.Event()

    async def _read(self, reader: Reader) -> None:
        await self.release.wait()
        await super()._read(reader)
