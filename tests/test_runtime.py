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


def test_the_command_loads_with_the_collector_off_and_a_short_one_turns_it_back_on() -> None:
    out = probe(
        "import pgcluster_tui.cli as cli; "
        "cli.main = lambda: print(gc.isenabled()) or 0; "
        "from pgcluster_tui.__main__ import main; main(); "
        "from pgcluster_tui.runtime import short_run; short_run(); print(gc.isenabled())"
    )
    assert out == ["False", "True"]


def test_a_starting_dashboard_sets_the_loaded_modules_aside_at_once() -> None:
    out = probe(
        "import pgcluster_tui.cli; before = len(gc.get_objects()); "
        "tune_for_long_runs(starting=True); "
        "print(before > 10_000, gc.get_freeze_count() >= before - 100, "
        "len(gc.get_objects()) < 1000)"
    )
    assert out == ["True", "True", "True"]
