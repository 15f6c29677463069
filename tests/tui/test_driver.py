"""The input driver: a lone Escape is reported when the escape delay ends, keys parse as before."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import sys
import textwrap
import time
from pathlib import Path

import pytest
from textual import constants
from textual.drivers.headless_driver import HeadlessDriver
from textual.drivers.linux_driver import LinuxDriver

from pgcluster_tui.tui import driver
from pgcluster_tui.tui.driver import PromptEscapeDriver, driver_class, input_wait

KEYS_APP = textwrap.dedent(
    """
    import sys
    from textual.app import App
    from pgcluster_tui.tui.driver import driver_class

    class Keys(App[None]):
        def get_driver_class(self):
            return driver_class(super().get_driver_class())

        def on_mount(self):
            print("driver", type(self._driver).__name__, file=OUT, flush=True)
            print("input", self._driver._key_thread.native_id, file=OUT, flush=True)

        def on_key(self, event):
            print("key", event.key, file=OUT, flush=True)
            if event.key == "q":
                self.exit()

    OUT = open(sys.argv[1], "w")
    Keys().run()
    """
)


def test_the_wait_ends_when_a_pending_escape_is_due() -> None:
    assert input_wait(None, 100.0) is None, "no key pending: sleep until one comes"
    assert input_wait(100.03, 100.0) == pytest.approx(0.03)
    assert input_wait(99.0, 100.0) == 0.0
    assert input_wait(105.0, 100.0) == pytest.approx(5.0)


def test_only_textuals_linux_driver_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "ESCAPE_DELAY", 0.1)
    monkeypatch.setenv("ESCDELAY", "300")
    assert driver_class(LinuxDriver) is PromptEscapeDriver
    assert constants.ESCAPE_DELAY == 0.1, "ESCDELAY is the user's"
    assert driver_class(HeadlessDriver) is HeadlessDriver
    monkeypatch.delenv("ESCDELAY")
    driver_class(LinuxDriver)
    assert constants.ESCAPE_DELAY == driver.ESCAPE_SECONDS


def read_until(fd: int, out: Path, wanted: str, timeout: float = 20.0) -> str:
    """Drain the terminal (the app blocks on a full one) until `out` holds `wanted`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                os.read(fd, 65536)
            except OSError:
                break
        text = out.read_text() if out.exists() else ""
        if wanted in text:
            return text
    raise AssertionError(f"no {wanted!r} in {out.read_text() if out.exists() else ''!r}")


def context_switches(status: Path) -> int:
    """A thread's voluntary context switches: each time it slept and was woken."""
    for line in status.read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no context switches in {status}")


def wait_out(fd: int, seconds: float) -> None:
    """Drain the terminal for `seconds`."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            with contextlib.suppress(OSError):
                os.read(fd, 65536)


def exited(pid: int, fd: int, timeout: float) -> bool:
    """Whether the child exits within `timeout`, its terminal drained meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
        wait_out(fd, 0.05)
    return False


def test_a_real_terminal_gets_escape_arrows_and_letters(tmp_path: Path) -> None:
    script, out = tmp_path / "keys.py", tmp_path / "keys.txt"
    script.write_text(KEYS_APP)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app in the terminal
        env = {k: v for k, v in os.environ.items() if k not in ("ESCDELAY", "TEXTUAL_DRIVER")}
        env["TERM"] = "xterm-256color"
        os.execve(sys.executable, [sys.executable, str(script), str(out)], env)
    try:
        read_until(fd, out, "driver PromptEscapeDriver")
        tid = read_until(fd, out, "input ").split("input ")[1].split()[0]
        woken = Path(f"/proc/{pid}/task/{tid}/status")
        before, started = context_switches(woken), time.monotonic()
        wait_out(fd, 1.0)  # a window to count in: nothing is waited for
        per_second = (context_switches(woken) - before) / (time.monotonic() - started)
        assert per_second < 3, f"the idle input thread woke {per_second:.1f} times a second"
        os.write(fd, b"\x1b")
        read_until(fd, out, "key escape")
        os.write(fd, b"\x1b[B")
        read_until(fd, out, "key down")
        os.write(fd, b"s")
        read_until(fd, out, "key s")
        os.write(fd, b"q")
        text = read_until(fd, out, "key q")
        assert text.splitlines()[2:] == ["key escape", "key down", "key s", "key q"]
        assert exited(pid, fd, timeout=10), "the input thread was not woken to stop"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(fd)
