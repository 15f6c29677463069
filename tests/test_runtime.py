"""Process-wide tuning of the long-running commands: garbage collection."""

from __future__ import annotations

import subprocess
import sys

from pgcluster_tui.runtime import GC_THRESHOLDS

IMPORTS = "import gc; from pgcluster_tui.runtime import tune_for_long_runs, settled; "


def probe(code: str) -> list[str]:
    """What `code` prints in a fresh interpreter, where no test has touched the collector."""
    run = subprocess.run(
        [sys.executable, "-c", IMPORTS + code], capture_output=True, text=True, check=True
    )
    return run.stdout.split()


def test_long_runs_collect_young_objects_less_often_and_skip_what_start_up_built() -> None:
    out = probe(
        "tune_for_long_runs(); frozen = gc.get_freeze_count(); x = [[] for _ in range(1000)]; "
        "settled(); print(gc.get_threshold()[0], frozen > 0, "
        "gc.get_freeze_count() >= frozen + 1000)"
    )
    assert out == [str(GC_THRESHOLDS[0]), "True", "True"]
    assert GC_THRESHOLDS[0] > 700, "young objects collected less often than by default"


def test_a_starting_dashboard_collects_nothing_until_it_has_settled() -> None:
    out = probe(
        "tune_for_long_runs(starting=True); off = not gc.isenabled(); "
        "x = [[] for _ in range(1000)]; settled(); "
        "print(off, gc.isenabled(), gc.get_freeze_count() >= 1000)"
    )
    assert out == ["True", "True", "True"]
