"""Process-wide tuning of the long-running commands: garbage collection and the Escape key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "import gc; from pgcluster_tui.runtime import tune_for_long_runs; tune_for_long_runs(); "
    "from textual import constants; print(constants.ESCAPE_DELAY, gc.get_threshold()[0])"
)


@pytest.mark.parametrize(("given", "expected"), [(None, "0.025"), ("150", "0.15")])
def test_escape_answers_quickly_unless_escdelay_says_otherwise(
    given: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ESCDELAY"}
    if given is not None:
        env["ESCDELAY"] = given
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [expected, "50000"]
