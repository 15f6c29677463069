"""A real terminal for what Pilot cannot show: how wide tmux draws a string, and what it shows.

Run as `python -m tests.tui.terminal width IN OUT` inside tmux to measure strings, or
`python -m tests.tui.terminal dashboard NAME...` to show the replayed dashboard with more nodes.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import termios
import time
import tty
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_sessions = itertools.count()

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One detached tmux session of our own, running one command."""

    def __init__(self, name: str) -> None:
        self.name = name

    def capture(self) -> list[str]:
        """The pane's lines as tmux shows them."""
        out = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.splitlines()

    def keys(self, *keys: str) -> None:
        """Type keys into the pane."""
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, text: str, timeout: float = 20.0) -> list[str]:
        """Capture until `text` shows; fail with the last capture."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.capture()
            if any(text in line for line in lines):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed:\n" + "\n".join(lines))
            time.sleep(0.2)


@contextlib.contextmanager
def tmux(args: Sequence[str], width: int = 120, height: int = 30) -> Iterator[Tmux]:
    """Run `python -m tests.tui.terminal ARGS` in a fresh tmux session; kill it afterwards."""
    name = f"pgtui-test-{os.getpid()}-{next(_sessions)}"
    command = " ".join([sys.executable, "-m", "tests.tui.terminal", *map(_quote, args)])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), command],
        check=True,
        cwd=ROOT,
        env=env,
    )
    try:
        yield Tmux(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True, check=False)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def measure(samples: Sequence[str], work: Path) -> list[int]:
    """How many cells tmux advances the cursor for each sample."""
    given, taken = work / "samples.json", work / "widths.json"
    given.write_text(json.dumps(list(samples)))
    with tmux(["width", str(given), str(taken)]):
        deadline = time.monotonic() + 20
        while not taken.exists():
            if time.monotonic() > deadline:
                raise AssertionError("the width probe did not answer")
            time.sleep(0.1)
    widths: list[int] = json.loads(taken.read_text())
    return widths


def _width_probe(given: str, taken: str) -> None:
    # Write each sample at the start of a line and ask the terminal where the cursor went.
    samples = json.loads(Path(given).read_text())
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    widths: list[int] = []
    try:
        for sample in samples:
            os.write(1, b"\r\x1b[2K" + sample.encode() + b"\x1b[6n")
            answer = b""
            while not answer.endswith(b"R"):
                answer += os.read(fd, 1)
            widths.append(int(answer.split(b";")[1][:-1]) - 1)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    Path(taken + ".part").write_text(json.dumps(widths))
    os.replace(taken + ".part", taken)


def _dashboard(names: Sequence[str]) -> None:
    from textual.pilot import Pilot

    from pgcluster_tui.core.events import Notification
    from tests.tui.replay import NOW, cluster, make_app

    app = make_app()
    facts = [*cluster(), *(Notification(n, 9000 + i, NOW) for i, n in enumerate(names))]

    async def fill(pilot: Pilot[object]) -> None:
        app.replay(facts)
        app.tick()

    app.run(auto_pilot=fill)


if __name__ == "__main__":
    if sys.argv[1] == "width":
        _width_probe(sys.argv[2], sys.argv[3])
    else:
        _dashboard(sys.argv[2:])
