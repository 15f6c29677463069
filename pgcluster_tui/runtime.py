"""Process-wide tuning for the commands that run for hours: the dashboard, watch and serve."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 20, 100)
"""Young objects collected every 50,000 allocations instead of CPython's 700.

A flood allocates a tuple per notification, held for one batch: with the default, each batch
pushes them through every generation and sets off full collections over the whole process.
Nothing in the monitor builds reference cycles at that rate, so collecting less often costs
little memory.
"""

LONG_RUNNING = frozenset({None, "watch", "serve"})
"""The commands tuned: None is the dashboard."""


_tuned = False


def tune_for_long_runs() -> None:
    """Collect garbage less often, and never again look at what start-up built."""
    global _tuned
    _tuned = True
    settled()
    gc.set_threshold(*GC_THRESHOLDS)


def settled() -> None:
    """Start-up is over (e.g. the dashboard's first frame): full collections skip its objects."""
    if _tuned:
        gc.collect()
        gc.freeze()
