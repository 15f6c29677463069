"""Processes seen from outside: children that die with us, CPU from /proc, sender processes,
and the dashboard in a real pseudo-terminal read through pyte (a terminal emulator).

Nothing here imports the dashboard: it is driven only through its terminal, its command line
and /proc.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib
import os
import pty
import queue
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SENDERS = Path(__file__).resolve().with_name("senders.py")
COLS, ROWS = 120, 36
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def pyte_module() -> Any:
    """pyte, from the `bench` extra (`pip install '.[bench]'`)."""
    try:
        return importlib.import_module("pyte")
    except ImportError:
        raise SystemExit("benchmarks need pyte: pip install -e '.[bench]'") from None


# Children: every process we start dies with us, and is killed on the way out


def die_with_parent() -> None:
    """In a child before exec: SIGKILL when the harness dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Reaper:
    """Every child process the outside measurements start, to be killed on exit."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self.lock = threading.Lock()

    def add(self, pid: int) -> None:
        with self.lock:
            self.pids.add(pid)

    def forget(self, pid: int) -> None:
        with self.lock:
            self.pids.discard(pid)

    def kill_all(self) -> None:
        """SIGKILL and reap whatever is left (safe to call more than once)."""
        with self.lock:
            pids, self.pids = set(self.pids), set()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


REAPER = Reaper()


def stop_process(pid: int, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; reaped either way."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not wait_exit(pid, grace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_exit(pid, 5.0)
    REAPER.forget(pid)


def wait_exit(pid: int, timeout: float) -> bool:
    """Reap `pid` within `timeout` seconds; True if it exited (or was never ours)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


# CPU from /proc


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def children_of() -> dict[int, list[int]]:
    """Every live process's children, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def cpu_seconds(pid: int, *, tree: bool = False, kids: dict[int, list[int]] | None = None) -> float:
    """User + system CPU of a process (every thread), and with `tree` of its live descendants
    and of the children they reaped (cutime, cstime): a backend that exited still counts."""
    pids = [pid]
    if tree:
        kids = kids if kids is not None else children_of()
        at = 0
        while at < len(pids):
            pids.extend(kids.get(pids[at], []))
            at += 1
    total = 0
    for one in pids:
        fields = _stat(one)
        if fields is not None:
            # Fields 14-17 of stat (utime, stime, cutime, cstime), after the name's ")".
            total += (
                sum(int(v) for v in fields[11:15]) if tree else int(fields[11]) + int(fields[12])
            )
    return total / CLOCK_TICKS


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (every core), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


Role = Callable[[dict[int, list[int]]], float]
"""CPU seconds of some processes, given every process's children (read once per sample)."""


def tree_cpu(pids: Callable[[], Iterable[int]]) -> Role:
    """A role: the CPU of these processes (asked for at each sample) and their descendants."""
    return lambda kids: sum(cpu_seconds(p, tree=True, kids=kids) for p in pids())


@dataclass
class Usage:
    """CPU of named roles over a window, in % of one core (the machine has os.cpu_count()),
    with the harness itself (this process, the pyte screen) and the whole machine."""

    roles: dict[str, Role]
    started: float = 0.0
    before: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.started = time.monotonic()
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        """% of one core for each role since start(), and `other`: the machine minus them."""
        after, elapsed = self._sample(), time.monotonic() - self.started
        pct = {k: 100 * (after[k] - self.before[k]) / elapsed for k in after}
        pct["other"] = pct["machine"] - sum(v for k, v in pct.items() if k != "machine")
        # Two decimals: /proc counts in ticks of 10 ms, 0.03 % of a core over 30 s.
        out = {k: round(v, 2) for k, v in pct.items()}
        out["seconds"] = round(elapsed, 1)
        return out

    def _sample(self) -> dict[str, float]:
        kids = children_of()
        out = {name: role(kids) for name, role in self.roles.items()}
        out["harness"] = cpu_seconds(os.getpid())
        out["machine"] = machine_busy()
        return out


# Sender processes


class Sender:
    """benchmarks/senders.py in its own interpreter; lines both ways (see its docstring)."""

    def __init__(self, *args: str, on_line: Callable[[str], None] | None = None) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, str(SENDERS), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            preexec_fn=die_with_parent,
        )
        REAPER.add(self.proc.pid)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.on_line = on_line
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if self.on_line is not None:
                self.on_line(line)
            self.lines.put(line)
        self.lines.put(None)

    def expect(self, prefix: str, timeout: float) -> str:
        """The next line starting with `prefix` (others are skipped); fail on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"sender {self.args[0]} said no {prefix!r} in {timeout:g} s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"sender {self.args[0]} exited ({self.proc.wait()})")
            if line.startswith(prefix):
                return line

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self, timeout: float = 15.0) -> None:
        """Close its stdin (it finishes and says what it sent), then reap it; killed if late."""
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.reader.join(5)
        REAPER.forget(self.proc.pid)


def start_senders(senders: list[Sender], timeout: float = 60.0) -> float:
    """Wait until every sender is connected, then start them together; return when."""
    for sender in senders:
        sender.expect("ready", timeout)
    started = time.monotonic()
    for sender in senders:
        sender.say("go")
    return started


# The dashboard in a pseudo-terminal


@dataclass
class Watcher:
    """A condition on the screen, and the read time of the bytes that made it true."""

    predicate: Callable[[], bool]
    done: threading.Event = field(default_factory=threading.Event)
    at: float | None = None


class Terminal:
    """A command in a pseudo-terminal of COLS x ROWS, its output fed to a pyte screen.

    One thread reads the terminal and stamps each chunk with time.monotonic() as it is read;
    another feeds the chunks to pyte and, after each one, tests every waiting condition, so a
    condition's time is the read time of the chunk that made it true.
    """

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        pyte = pyte_module()
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.text = [""] * ROWS
        """Each line of the screen as text, kept up to date from pyte's dirty lines."""
        self.changed: set[int] = set()
        """The lines the last chunk changed."""
        self.lock = threading.Lock()
        self.watchers: list[Watcher] = []
        self.observers: list[Callable[[float], None]] = []
        self.last_at = 0.0
        self.bytes = 0
        self.dead = threading.Event()
        self._chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
        self.launched = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                die_with_parent()
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        REAPER.add(pid)
        self.pid, self.fd = pid, fd
        self._threads = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._parse, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            self._chunks.put((time.monotonic(), chunk))
            if not chunk:
                return

    def _parse(self) -> None:
        screen, text, buffer = self.screen, self.text, self.screen.buffer
        while True:
            at, chunk = self._chunks.get()
            if not chunk:
                break
            with self.lock:
                self.bytes += len(chunk)
                self.stream.feed(chunk)
                self.changed = {y for y in screen.dirty if y < ROWS}
                screen.dirty.clear()
                for y in self.changed:
                    line = buffer[y]
                    text[y] = "".join(line[x].data for x in range(COLS))
                self.last_at = at
                for observe in self.observers:
                    observe(at)
                for watcher in list(self.watchers):
                    if watcher.predicate():
                        watcher.at = at
                        watcher.done.set()
                        self.watchers.remove(watcher)
        self.dead.set()
        with self.lock:
            for watcher in self.watchers:
                watcher.done.set()

    # Reading the screen (hold self.lock, or run in an observer or a predicate)

    def cell(self, y: int, x: int) -> Any:
        """pyte's character at (x, y): data, fg, bg, reverse…"""
        return self.screen.buffer[y][x]

    # Waiting and pressing

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> float | None:
        """The read time of the chunk that made `predicate` true (now if it is), else None."""
        watcher = Watcher(predicate)
        with self.lock:
            if predicate():
                return time.monotonic()
            self.watchers.append(watcher)
        return self._await(watcher, timeout)

    def press(
        self, keys: bytes, effect: Callable[[], Callable[[], bool]], timeout: float
    ) -> tuple[float, float | None]:
        """Write `keys` and time their effect: `effect()` is called (under the lock, before the
        write) to snapshot the screen and returns the condition that shows the effect.
        Returns (when the bytes were written, when the effect was read or None)."""
        with self.lock:
            predicate = effect()
            if predicate():
                raise RuntimeError(f"the effect of {keys!r} shows before the key is pressed")
            watcher = Watcher(predicate)
            self.watchers.append(watcher)
            written = time.monotonic()
            os.write(self.fd, keys)
        return written, self._await(watcher, timeout)

    def _await(self, watcher: Watcher, timeout: float) -> float | None:
        watcher.done.wait(timeout)
        with self.lock:
            if watcher in self.watchers:
                self.watchers.remove(watcher)
        return watcher.at

    def write(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def cpu(self) -> float:
        """CPU seconds of the command and anything it started."""
        return cpu_seconds(self.pid, tree=True)

    def close(self, quit_keys: bytes = b"q", grace: float = 5.0) -> None:
        """Quit with a key, then SIGTERM, then SIGKILL; the threads end, the fd is closed."""
        if not self.dead.is_set():
            with contextlib.suppress(OSError):
                os.write(self.fd, quit_keys)
        if not wait_exit(self.pid, grace):
            stop_process(self.pid)
        REAPER.forget(self.pid)
        for thread in self._threads:
            thread.join(5)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def as_text(self) -> str:
        """The screen as text, for error messages (under the lock, or where it is held)."""
        return "\n".join(self.text)

    def dump(self) -> str:
        """The screen as text, for error messages."""
        with self.lock:
            return self.as_text()


# The dashboard's screen, as a user reads it

NODES = re.compile(r"([\d,]+) nodes?\b")
ALIVE = re.compile(r"●([\d,]+) alive")
PROBE = re.compile(r"probe ([^·│]*)")


def count(pattern: re.Pattern[str], line: str) -> int | None:
    match = pattern.search(line)
    return int(match.group(1).replace(",", "")) if match else None


class Dashboard(Terminal):
    """pgcluster-tui's dashboard: its status line, table header, rows, cursor, help."""

    help_text = "Sort by the next column"
    """A line the help screen shows (the sort key's help); replaced with the real text."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        super().__init__(argv, env, cwd)
        self.cursor_bg: str | None = None
        self.focused_border: str | None = None

    @property
    def status(self) -> str:
        return self.text[1]

    def header_y(self) -> int | None:
        """The table's header line, if the table is on screen (not under a dialog)."""
        for y in range(2, 8):
            if "Heartbeat" in self.text[y] and self.text[y].startswith("│"):
                return y
        return None

    def body(self) -> range:
        """The table's row lines on screen."""
        top = self.header_y()
        if top is None:
            return range(0)
        end = top + 1
        while end < ROWS and not self.text[end].startswith("╰"):
            end += 1
        return range(top + 1, end)

    def sort_mark(self) -> tuple[int, str] | None:
        """Where the header's sort arrow is, and which way it points."""
        top = self.header_y()
        if top is None:
            return None
        line = self.text[top]
        for x, ch in enumerate(line):
            if ch in "↑↓":
                return x, ch
        return None

    def sorted_by(self) -> str | None:
        """The header label the sort arrow follows, in lower case (`joined`, `state`…)."""
        top, mark = self.header_y(), self.sort_mark()
        if top is None or mark is None:
            return None
        words = self.text[top][: mark[0]].split()
        return words[-1].lower() if words else None

    def cursor(self) -> tuple[int, str] | None:
        """The highlighted row's line and the node name in it."""
        if self.cursor_bg is None:
            return None
        for y in self.body():
            if self.cell(y, 3).bg == self.cursor_bg:
                match = re.search(r"(\S+@\S+)", self.text[y])
                return y, match.group(1) if match else ""
        return None

    def cursor_shown(self) -> bool:
        return self.cursor() is not None

    def help_open(self) -> bool:
        return any(self.help_text in line for line in self.text)

    def table_focused(self) -> bool:
        top = self.header_y()
        return top is not None and self.cell(top - 1, 0).fg == self.focused_border

    def learn(self, timeout: float = 30.0) -> None:
        """Wait until the table shows 3 rows, one of them highlighted; learn the cursor's colour
        (that row's background) and the border's colour while the table has the focus."""
        learned: dict[str, Any] = {}

        def highlighted() -> bool:
            rows = [y for y in self.body() if "@" in self.text[y]]
            backgrounds = [self.cell(y, 3).bg for y in rows]
            if len(rows) < 3:
                return False
            usual = Counter(backgrounds).most_common(1)[0][0]
            odd = [bg for bg in backgrounds if bg != usual]
            if len(odd) != 1:
                return False
            learned["cursor"] = odd[0]
            top = self.header_y()
            learned["border"] = None if top is None else self.cell(top - 1, 0).fg  # top-left corner
            return True

        if self.wait_for(highlighted, timeout) is None:
            raise RuntimeError(f"the table never showed 3 rows and a cursor:\n{self.dump()}")
        self.cursor_bg, self.focused_border = learned["cursor"], learned["border"]
