"""Process-wide tuning for the commands that run for hours: the dashboard, watch and serve."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (3_000, 10, 100)
"""Young objects collected every 3,000 allocations instead of CPython's 700; the middle
generation every 10 young collections (CPython's pace), so it stays small too.

A flood allocates a tuple per notification, held for one batch: with the default, each batch
pushes them through every generation and sets off full collections over the whole process.
Larger young generations cost pauses instead: 50,000 held the dashboard for up to 90 ms under
5,000 notifications a second (a key pressed then waited as long); 3,000 keeps every collection
under 10 ms there, and a flood still drains faster than psycopg's own notifies() (PERFORMANCE.md).
"""

LONG_RUNNING = frozenset({None, "watch", "serve"})
"""The commands tuned: None is the dashboard."""


_tuned = False


def tune_for_long_runs(*, starting: bool = False) -> None:
    """Collect garbage less often, and never again look at what start-up built.

    With `starting`, nothing is collected until settled() says start-up is over (the
    dashboard's first frame): imports and the first layout allocate much and free little.
    What the imports built is set aside at once, so that last collection skips it.
    """
    global _tuned
    _tuned = True
    gc.set_threshold(*GC_THRESHOLDS)
    if starting:
        gc.disable()
        # The modules loaded leave a few hundred objects of garbage among some 50,000:
        # kept, rather than a 15 ms search now (settled() searches what came since).
        gc.freeze()
    else:
        settled()


def short_run() -> None:
    """A command that ends soon: the collector as CPython sets it."""
    gc.enable()


def settled() -> None:
    """Start-up is over: collect once, keep its objects out of every later collection."""
    if _tuned:
        gc.collect()
        gc.freeze()
        gc.enable()
