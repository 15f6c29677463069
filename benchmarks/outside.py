"""The dashboard and `watch` measured from outside their process (issue #13).

The real command (`python -m pgcluster_tui --dsn … --channel …`) runs in a pseudo-terminal of
120x36 (TERM=xterm-256color) that we read through pyte; keys are the bytes an xterm sends; the
notifications come from sender processes (benchmarks/senders.py); CPU comes from /proc. Every
time is time.monotonic(), which is one clock for every process of the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from common import HeldWorker, percentile, wait_until
from psycopg import sql
from terminal import (
    ALIVE,
    NODES,
    REAPER,
    Dashboard,
    Sender,
    Usage,
    count,
    die_with_parent,
    start_senders,
    stop_process,
    tree_cpu,
)

from pgcluster_tui.pg.worker import WorkerConfig
from pgcluster_tui.runtime import GC_THRESHOLDS
from tests.reliability.harness import Harness

KEY_TIMEOUT = 10.0
"""How long a key's effect is waited for before the press counts as never shown."""
MARK_TIMEOUT = 10.0
"""How long a marker is waited for after the marker sender stops."""
KEYS = {
    "pause": b"p",
    "sort": b"s",
    "reverse": b"S",
    "down": b"\x1b[B",
    "up": b"\x1b[A",
    "help": b"?",
    "escape": b"\x1b",
}
"""Each key measured, by what it does, and the bytes an xterm sends for it."""
MARK = re.compile(r"mark\d+@bench")
PAUSED_FOR = 1.0
"""The longest a pause lasts before `p` resumes (at random from 50 ms)."""


@dataclass
class Config:
    """Sizes and windows: the full run, or --quick for development."""

    runs: int = 3
    presses: int = 16
    """Presses of each key in each run of the keys phase."""
    marker_seconds: float = 8.0
    flood_names: int = 200_000
    flood_absorb_cap: float = 30.0
    flood_min_seconds: float = 10.0
    """Keys are pressed at least this long from the first name, so a quick absorption still
    gives enough presses (and the wave of 10,000 names going late at 7.5 s is in it)."""
    idle_settle: float = 16.0
    idle_seconds: float = 30.0
    ingest_pairs: int = 3
    backlog_nodes: int = 1_000
    backlog_beats: int = 150
    junk_total: int = 200_000
    past_cap_total: int = 120_000

    @classmethod
    def quick(cls) -> Config:
        return cls(
            runs=1,
            presses=4,
            marker_seconds=3.0,
            flood_names=40_000,
            flood_absorb_cap=20.0,
            flood_min_seconds=5.0,
            idle_settle=12.0,
            idle_seconds=5.0,
            ingest_pairs=1,
            backlog_nodes=200,
            backlog_beats=100,
            junk_total=40_000,
            past_cap_total=30_000,
        )


PACKAGE_PATH: str | None = None
"""A directory holding another pgcluster_tui to measure (run.py --package-path): put first on
the PYTHONPATH of every dashboard and watch started, to compare two versions."""


def dashboard_env(**extra: str) -> dict[str, str]:
    """Our environment without anything that configures pgcluster-tui, libpq or Textual."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PGCLUSTER_", "PG", "TEXTUAL"))
        and k not in ("DATABASE_URL", "RELEASE_COOKIE", "ESCDELAY", "COLORTERM", "NO_COLOR")
    }
    env["TERM"] = "xterm-256color"
    if PACKAGE_PATH is not None:
        env["PYTHONPATH"] = PACKAGE_PATH
    env.update(extra)
    return env


@contextlib.contextmanager
def dashboard(dsn: str, channel: str, **env: str) -> Iterator[Dashboard]:
    """The dashboard on `channel`, in a pseudo-terminal, quit (or killed) on the way out."""
    argv = [sys.executable, "-m", "pgcluster_tui", "--dsn", dsn, "--channel", channel]
    with tempfile.TemporaryDirectory(prefix="pgcluster-bench-") as cwd:
        dash = Dashboard(argv, dashboard_env(**env), cwd)
        try:
            yield dash
        finally:
            dash.close()


@contextlib.contextmanager
def senders(*specs: tuple[str, ...], **kwargs: Any) -> Iterator[list[Sender]]:
    """Sender processes, stopped (killed if they linger) on the way out."""
    started: list[Sender] = []
    try:
        for spec in specs:
            started.append(Sender(*spec, **kwargs))
        yield started
    finally:
        for sender in started:
            sender.stop()


def server_role(server_pid: int) -> Callable[[dict[int, list[int]]], float]:
    """The PostgreSQL server: the postmaster and every backend (exited ones too)."""
    return tree_cpu(lambda: [server_pid])


# Keys


@dataclass
class Presses:
    """Each key's latencies in ms (None: never shown within KEY_TIMEOUT)."""

    ms: dict[str, list[float | None]] = field(default_factory=dict)

    def add(self, key: str, written: float, seen: float | None) -> None:
        self.ms.setdefault(key, []).append(None if seen is None else (seen - written) * 1000)

    def merge(self, other: Presses) -> None:
        for key, values in other.ms.items():
            self.ms.setdefault(key, []).extend(values)

    def stats(self, key: str) -> dict[str, Any]:
        """n, p50, p99, max, missed; a press never shown counts as KEY_TIMEOUT."""
        values = self.ms.get(key, [])
        shown = [KEY_TIMEOUT * 1000 if v is None else v for v in values]
        return {
            "n": len(values),
            "missed": sum(v is None for v in values),
            "p50": round(percentile(shown, 50), 1),
            "p99": round(percentile(shown, 99), 1),
            "max": round(max(shown), 1) if shown else None,
        }

    def overall(self) -> dict[str, Any]:
        """The stats of every press, whatever its key."""
        return Presses({"all": [v for values in self.ms.values() for v in values]}).stats("all")

    def worst_p99(self) -> float:
        return float(max(self.stats(key)["p99"] for key in self.ms))


def effect(dash: Dashboard, key: str) -> Callable[[], Callable[[], bool]]:
    """What shows that `key` acted, judged against the screen just before it is pressed."""

    def snapshot() -> Callable[[], bool]:
        if key == "pause":
            paused = "PAUSED" in dash.status
            return lambda: ("PAUSED" in dash.status) != paused
        if key == "sort":
            column = arrow(dash)[0]
            return lambda: (now := dash.sort_mark()) is not None and now[0] != column
        if key == "reverse":
            pointing = arrow(dash)[1]
            return lambda: (now := dash.sort_mark()) is not None and now[1] != pointing
        if key in ("down", "up"):
            cursor = dash.cursor()
            if cursor is None:
                raise RuntimeError(f"no cursor on screen:\n{dash.as_text()}")
            selected = cursor[1]
            # The selection follows its node when rows move: only a key changes the node.
            return lambda: (now := dash.cursor()) is not None and now[1] != selected
        if key == "help":
            return dash.help_open
        if key == "escape":
            # The help gone is not enough (a repaint in flight blanks it first): the table back
            # in its place is what the user waits for.
            return lambda: (
                not dash.help_open()
                and dash.header_y() is not None
                and (dash.cursor_bg is None or dash.cursor() is not None)
            )
        raise ValueError(key)

    return snapshot


def arrow(dash: Dashboard) -> tuple[int, str]:
    """The header's sort arrow (column, direction); it must be on screen."""
    mark = dash.sort_mark()
    if mark is None:
        raise RuntimeError(f"no sort arrow in the header:\n{dash.as_text()}")
    return mark


def just(pid: int) -> Callable[[], list[int]]:
    """The pids of a role of one process."""
    return lambda: [pid]


def press(dash: Dashboard, key: str, presses: Presses) -> bool:
    """Press one key, record how long its effect took to show; False if it never did."""
    written, seen = dash.press(KEYS[key], effect(dash, key), KEY_TIMEOUT)
    presses.add(key, written, seen)
    if seen is None and dash.dead.is_set():
        raise RuntimeError("the dashboard exited")
    return seen is not None


def pause_between(rng: random.Random) -> None:
    """An irregular gap between presses (pacing, not waiting for anything)."""
    time.sleep(rng.uniform(0.03, 0.3))


def item(dash: Dashboard, what: str, presses: Presses, rng: random.Random) -> None:
    """One scheduled item: a key, or a pair (pause and resume; help and close)."""
    if what == "pause":
        with dash.lock:
            paused = "PAUSED" in dash.status
        if not press(dash, "pause", presses):  # counted; wait for it, or the next is unclear
            dash.wait_for(lambda: ("PAUSED" in dash.status) != paused, KEY_TIMEOUT)
        # Paused as a user pauses, for a while: whatever came in meanwhile shows on resume.
        time.sleep(rng.uniform(0.05, PAUSED_FOR))
        press(dash, "pause", presses)
    elif what == "help":
        # A help that never showed (counted) may still come: it must be gone before going on.
        opened = press(dash, "help", presses)
        if opened or dash.wait_for(dash.help_open, KEY_TIMEOUT) is not None:
            pause_between(rng)
            if not press(dash, "escape", presses):
                closed = dash.wait_for(lambda: not dash.help_open(), KEY_TIMEOUT)
                if closed is None:
                    raise RuntimeError(f"the help never closed:\n{dash.dump()}")
    elif what == "move":
        # A frame comes in several reads of the pty: between two, the old cursor line may be
        # redrawn and the new one not yet. Judge the screen once a cursor shows.
        if dash.wait_for(dash.cursor_shown, 1.0) is None:
            raise RuntimeError(f"no cursor on screen:\n{dash.dump()}")
        with dash.lock:
            cursor = dash.cursor()
            body = dash.body()
        # As many of each, but never `up` on the first row shown (it may be the first row).
        row = cursor[0] - body.start if cursor is not None else 0
        ups, downs = len(presses.ms.get("up", [])), len(presses.ms.get("down", []))
        go_up = row > 0 and ups < downs
        press(dash, "up" if go_up else "down", presses)
    else:
        press(dash, what, presses)
    pause_between(rng)


def keys_phase(dash: Dashboard, n: int, rng: random.Random) -> Presses:
    """n presses of each key: moves, pause and help in the default (stable) order, then sorts,
    pause and help while the order changes with every sort."""
    presses = Presses()
    # The selection follows its node while 1,000 nodes join; if that took it out of view (a
    # join wave moves it by hundreds of rows at once), `home` brings it back before timing.
    with dash.lock:
        hidden = dash.cursor() is None
    if hidden and dash.press(b"\x1b[H", lambda: dash.cursor_shown, KEY_TIMEOUT)[1] is None:
        raise RuntimeError(f"no cursor on screen, even after home:\n{dash.dump()}")
    first = ["move"] * (2 * n) + ["pause"] * (n // 4) + ["help"] * (n // 2)
    second = ["sort"] * n + ["reverse"] * n + ["pause"] * (n // 2 - n // 4)
    second += ["help"] * (n - n // 2)
    for schedule in (first, second):
        rng.shuffle(schedule)
        for what in schedule:
            item(dash, what, presses, rng)
    return presses


# Markers: NOTIFY to row on screen


def show_markers_newest_first(dash: Dashboard, sent: dict[str, tuple[float, float]]) -> None:
    """Filter on `mark`, sort by joined, newest first, and leave the cursor off screen at the
    bottom, so a new marker lands on the first row and nothing scrolls the view away."""
    from pgcluster_tui.tui.widgets.node_cells import SORT_LABELS

    joined = SORT_LABELS["first"]

    def must(what: str, predicate: Callable[[], bool], keys: bytes | None = None) -> None:
        if keys is not None:
            dash.write(keys)
        if dash.wait_for(predicate, KEY_TIMEOUT) is None:
            raise RuntimeError(f"{what}: not on screen after {KEY_TIMEOUT:g} s:\n{dash.dump()}")

    # The status line may be cut before its sort and filter: read the filter bar and the
    # table header instead.
    must("filter bar", lambda: dash.text[2].strip().startswith("Filter"), b"/")
    must("filter typed", lambda: re.match(r"\s*Filter\s+mark\b", dash.text[2]) is not None, b"mark")
    must("table focused", dash.table_focused, b"\r")
    for _ in range(10):
        if dash.sorted_by() == joined:
            break
        press(dash, "sort", Presses())
    for _ in range(2):
        if (mark := dash.sort_mark()) is not None and mark[1] == "↑":
            break
        press(dash, "reverse", Presses())
    if dash.sorted_by() != joined or arrow(dash)[1] != "↑":
        raise RuntimeError(f"could not sort by {joined}, newest first:\n{dash.dump()}")

    def full() -> bool:
        body = dash.body()
        return len(sent) > len(body) + 5 and all(MARK.search(dash.text[y]) for y in body)

    must("a page of markers", full)

    # `home` then `end`, each waited for: a key still in flight when the view is scrolled
    # (`end` on a cursor already at the bottom shows nothing) would scroll it back to the cursor.
    oldest = "mark1@bench"

    def number(name: str) -> int:
        return int(name[4:].split("@")[0]) if MARK.fullmatch(name) else -1

    def on_newest() -> bool:  # new markers soon push the selection down (it follows its node)
        cursor = dash.cursor()
        newest = max((number(n) for n in list(sent)), default=0)
        return cursor is not None and number(cursor[1]) >= newest - 5

    must("cursor on the newest marker", on_newest, b"\x1b[H")  # home
    must("cursor on the oldest marker", lambda: (dash.cursor() or (0, ""))[1] == oldest, b"\x1b[F")

    def newest_on_top() -> bool:
        body = dash.body()
        top = MARK.search(dash.text[body.start]) if body else None
        newest = max((number(n) for n in list(sent)), default=0)
        return dash.cursor() is None and top is not None and number(top.group()) >= newest - 3

    # The wheel scrolls without moving the cursor. A new marker re-sorts the rows and scrolls
    # back to the cursor while it is still in view (the scroll may be under way): try again.
    body = dash.body()
    wheel = f"\x1b[<64;20;{body.start + 3}M".encode() * (len(sent) // 2 + 10)  # wheel up
    for _ in range(10):
        dash.write(wheel)
        if dash.wait_for(newest_on_top, 1.0) is not None:
            return
    raise RuntimeError(f"the view never stayed on top with the cursor below it:\n{dash.dump()}")


def markers_phase(
    dash: Dashboard,
    seconds: float,
    usage: Usage,
    marker: Sender,
    sent: dict[str, tuple[float, float]],
) -> dict[str, Any]:
    """Markers (a new node every 0.1 s, sending already) from NOTIFY to their row on screen."""
    seen: dict[str, float] = {}
    moved: list[float] = []

    def observe(at: float) -> None:  # on the terminal's thread, after each chunk
        body = dash.body()
        for y in dash.changed:
            if y in body:
                for match in MARK.finditer(dash.text[y]):
                    seen.setdefault(match.group(), at)
        if started and dash.cursor() is not None:
            moved.append(at)  # the view went back to the cursor: new rows may land off screen

    started = 0.0
    with dash.lock:
        dash.observers.append(observe)
    show_markers_newest_first(dash, sent)
    started = time.monotonic()
    usage.start()
    time.sleep(seconds)  # the measuring window
    cpu = usage.stop()
    marker.stop()
    timed = {n: t for n, t in list(sent.items()) if t[0] >= started}
    dash.wait_for(lambda: all(n in seen for n in timed), MARK_TIMEOUT)
    with dash.lock:
        dash.observers.remove(observe)
        latencies = [(seen[n] - t[0]) * 1000 if n in seen else None for n, t in timed.items()]
    shown = [MARK_TIMEOUT * 1000 if v is None else v for v in latencies]
    statement = [(t[1] - t[0]) * 1000 for t in timed.values()]
    missed = sum(v is None for v in latencies)
    if missed or moved:  # what the screen showed instead, for the log
        print(
            f"{missed} markers never shown, the view moved {len(moved)} times; the screen at the end:\n{dash.dump()}",
            flush=True,
        )
    return {
        "markers": len(timed),
        "missed": sum(v is None for v in latencies),
        "p50": round(percentile(shown, 50), 1),
        "p99": round(percentile(shown, 99), 1),
        "max": round(max(shown), 1),
        "notify_ms_p50": round(percentile(statement, 50), 2),
        "view_moved": bool(moved),
        "cpu": cpu,
    }


def marker_sent(marker: Sender) -> dict[str, tuple[float, float]]:
    """The markers' (before, after) NOTIFY times, filled as the sender reports them."""
    sent: dict[str, tuple[float, float]] = {}

    def on_line(line: str) -> None:
        parts = line.split()
        if len(parts) == 3:
            sent[parts[0]] = (float(parts[1]), float(parts[2]))

    marker.on_line = on_line
    start_senders([marker])
    return sent


def wait_nodes(dash: Dashboard, nodes: int, alive: bool, timeout: float) -> None:
    """Until the status line counts `nodes` nodes (and as many alive)."""

    def ready() -> bool:
        total = count(NODES, dash.status)
        return total == nodes and (not alive or count(ALIVE, dash.status) == nodes)

    if dash.wait_for(ready, timeout) is None:
        raise RuntimeError(f"never {nodes} nodes{' alive' if alive else ''}:\n{dash.dump()}")


def load_1k(dsn: str, server_pid: int, run: int, cfg: Config) -> dict[str, Any]:
    """Keys, then markers, under 5,000 notifications a second over 1,000 nodes."""
    channel = f"load{run}"
    rng = random.Random(run)
    specs: list[tuple[str, ...]] = [
        ("beat", dsn, channel, str(i * 500), "500", "2500", "10") for i in range(2)
    ]
    specs.append(("markers", dsn, channel, "mark", "0.1"))
    with senders(*specs) as (*load, marker):
        start_senders(load)
        with dashboard(dsn, channel) as dash:
            dash.learn()
            wait_nodes(dash, 1_000, alive=True, timeout=30)
            usage = load_usage(dash.pid, [s.pid for s in (*load, marker)], server_pid)
            # Markers join all along (as in the in-process benchmark): the table and the event
            # log change while keys are pressed, as in a cluster where nodes come and go.
            sent = marker_sent(marker)
            usage.start()
            presses = keys_phase(dash, cfg.presses, rng)
            keys_cpu = usage.stop()
            ui = markers_phase(dash, cfg.marker_seconds, usage, marker, sent)
    return {"presses": presses, "keys_cpu": keys_cpu, "ui": ui}


def load_usage(dashboard: int, senders: list[int], server_pid: int) -> Usage:
    """CPU of the dashboard, its senders and the server during a load."""
    return Usage(
        {
            "dashboard": tree_cpu(lambda: [dashboard]),
            "senders": tree_cpu(lambda: senders),
            "postgres": server_role(server_pid),
        }
    )


def load_10k(dsn: str, server_pid: int, run: int, cfg: Config) -> dict[str, Any]:
    """Markers while 10,000 nodes beat every 5 s (max_nodes 20,000, so markers are tracked)."""
    channel = f"scale{run}"
    specs: list[tuple[str, ...]] = [
        ("beat", dsn, channel, str(i * 5000), "5000", "1000", "10") for i in range(2)
    ]
    specs.append(("markers", dsn, channel, "mark", "0.1"))
    with senders(*specs) as (*load, marker):
        start_senders(load)
        with dashboard(dsn, channel, PGCLUSTER_MAX_NODES="20000") as dash:
            dash.learn()
            wait_nodes(dash, 10_000, alive=True, timeout=40)
            usage = load_usage(dash.pid, [s.pid for s in (*load, marker)], server_pid)
            sent = marker_sent(marker)
            return markers_phase(dash, cfg.marker_seconds, usage, marker, sent)


# A flood of distinct names past max_nodes


def flood_run(dsn: str, server_pid: int, run: int, cfg: Config) -> dict[str, Any]:
    """200,000 distinct valid names from two processes as fast as they go, keys pressed until
    the dashboard has absorbed them (its CPU back under 25 % for 1 s)."""
    channel = f"flood{run}"
    rng = random.Random(100 + run)
    half = cfg.flood_names // 2
    specs = [("distinct", dsn, channel, "names", "1000") for _ in range(2)]
    with senders(*specs) as flooders, dashboard(dsn, channel) as dash:
        if dash.wait_for(lambda: re.search(r"probe \d", dash.status) is not None, 30) is None:
            raise RuntimeError(f"no probe measured:\n{dash.dump()}")
        shown_as: list[tuple[float, str]] = []
        lost: list[float] = []

        def observe(at: float) -> None:
            if 1 in dash.changed:
                shown = re.search(r"probe [^·│]*", dash.status)
                kind = re.sub(r"\d[\d,.]*", "#", shown.group().strip()) if shown else "(cut off)"
                if not shown_as or shown_as[-1][1] != kind:
                    shown_as.append((at, kind))
                if "LOST" in dash.status:
                    lost.append(at)

        with dash.lock:
            dash.observers.append(observe)
        for sender in flooders:
            sender.expect("ready", 30)
        usage = Usage(
            {
                "dashboard": tree_cpu(lambda: [dash.pid]),
                "senders": tree_cpu(lambda: [s.pid for s in flooders]),
                "postgres": server_role(server_pid),
            }
        )
        usage.start()
        begun = time.monotonic()
        for i, sender in enumerate(flooders):
            sender.say(f"go {i * half} {half}")
        over = threading.Event()
        marks: dict[str, Any] = {}
        watcher = threading.Thread(
            target=absorbed, args=(dash, flooders, cfg.flood_absorb_cap, over, marks), daemon=True
        )
        watcher.start()
        presses = Presses()
        schedule = ["sort", "reverse", "pause", "help"]
        while not over.is_set() or time.monotonic() - begun < cfg.flood_min_seconds:
            item(dash, rng.choice(schedule), presses, rng)
        watcher.join(5)
        if "error" in marks:
            raise RuntimeError(f"the flood did not go as planned: {marks['error']}")
        cpu = usage.stop()
        with dash.lock:
            dash.observers.remove(observe)
            final = dash.status.strip()
            ended = time.monotonic()
    # How long the probe showed each way during the burst.
    probes: dict[str, float] = {}
    for (at, kind), (until, _) in zip(shown_as, [*shown_as[1:], (ended, "")], strict=True):
        if until > begun:
            probes[kind] = probes.get(kind, 0.0) + until - max(at, begun)
    overall = presses.overall()
    return {
        "presses": presses,
        "per_key": {k: presses.stats(k) for k in presses.ms},
        "p50": overall["p50"],
        "p99": overall["p99"],
        "max": overall["max"],
        "lost": bool(lost),
        "lost_seconds": round(lost[-1] - lost[0], 1) if lost else 0.0,
        "probes": {k: round(v, 1) for k, v in probes.items()},
        "sent_s": round(marks.get("sent", begun) - begun, 1),
        "absorbed_s": round(marks.get("absorbed", time.monotonic()) - begun, 1),
        "absorbed": "absorbed" in marks,
        "cpu": cpu,
        "final_status": final,
    }


def absorbed(
    dash: Dashboard,
    flooders: list[Sender],
    cap: float,
    over: threading.Event,
    marks: dict[str, Any],
) -> None:
    """Set `over` once every flooder is done and the dashboard's CPU fell under 25 % of a core
    for a second (or `cap` seconds after the last name was sent)."""
    try:
        for sender in flooders:
            sender.expect("done", 180)
        marks["sent"] = time.monotonic()
        samples = [(time.monotonic(), dash.cpu())]
        while time.monotonic() - marks["sent"] < cap:
            time.sleep(0.25)  # sampling /proc
            now, cpu = time.monotonic(), dash.cpu()
            samples.append((now, cpu))
            # The CPU over the last second: from the latest sample at least 1 s old.
            then = [s for s in samples if s[0] <= now - 1.0]
            if then and (cpu - then[-1][1]) / (now - then[-1][0]) < 0.25:
                marks["absorbed"] = now
                return
    except Exception as exc:  # said by the measuring thread
        marks["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        over.set()


# Idle: the dashboard and watch while 100 nodes beat, one session each


def idle_runs(dsn: str, server_pid: int, cfg: Config) -> list[dict[str, Any]]:
    """cfg.runs replicas, each on its own channel: a dashboard, a `watch`, a bare psycopg
    listener (the floor) and 100 nodes (one session each) beating every 5 s. The dashboards
    start and settle one after the other, then all are measured idle together; CPU from /proc.
    """
    specs = [("beat", dsn, f"idle{r}", "0", "100", "20", "100") for r in range(cfg.runs)]
    floors = [("listen", dsn, f"idle{r}") for r in range(cfg.runs)]
    with contextlib.ExitStack() as stack:
        beaters = stack.enter_context(senders(*specs))
        listeners = stack.enter_context(senders(*floors))
        for listener in listeners:
            listener.expect("ready", 30)
        start_senders(beaters)
        watches = [stack.enter_context(watch(dsn, f"idle{r}")) for r in range(cfg.runs)]
        heard_by = time.monotonic() + 30
        while not all(w.lines for w in watches):  # started: not in a dashboard's start-up
            if time.monotonic() > heard_by:
                raise RuntimeError("a watch heard none of its nodes in 30 s")
            time.sleep(0.05)  # polling a counter
        dashes, settles = [], []
        for r in range(cfg.runs):
            # One at a time: three start-ups at once on two cores would measure their contention.
            dashes.append(stack.enter_context(dashboard(dsn, f"idle{r}")))
            settles.append(settle_run(dashes[-1], cfg))
        roles = {f"dashboard{r}": tree_cpu(just(d.pid)) for r, d in enumerate(dashes)}
        roles |= {f"watch{r}": tree_cpu(just(w.pid)) for r, w in enumerate(watches)}
        roles |= {f"floor{r}": tree_cpu(just(f.pid)) for r, f in enumerate(listeners)}
        roles["senders"] = tree_cpu(lambda: [s.pid for s in beaters])
        roles["postgres"] = server_role(server_pid)
        usage = Usage(roles)
        usage.start()
        time.sleep(cfg.idle_seconds)  # the measuring window
        cpu = usage.stop()
        heard = [w.lines for w in watches]
    return [
        {
            "idle_cpu_pct": cpu[f"dashboard{r}"],
            "idle_cpu_pct_watch": cpu[f"watch{r}"],
            "idle_cpu_pct_floor": cpu[f"floor{r}"],
            **settles[r],
            "watch_lines": heard[r],
            "cpu": cpu,
        }
        for r in range(cfg.runs)
    ]


def settle_run(dash: Dashboard, cfg: Config) -> dict[str, Any]:
    """A dashboard's CPU over its first cfg.idle_settle seconds (start-up, 100 joins, 100 new
    to alive), and after its start-up; whether it then showed every node alive."""
    ((at, startup_cpu),) = first_frames([dash], timeout=30)
    time.sleep(max(0.0, dash.launched + cfg.idle_settle - time.monotonic()))  # the window
    settled, total = time.monotonic(), dash.cpu()
    with dash.lock:
        alive = count(NODES, dash.status) == 100 and count(ALIVE, dash.status) == 100
    return {
        "settle_cpu_pct": round(total / (settled - dash.launched) * 100, 1),
        "settle_cpu_pct_after_start": round((total - startup_cpu) / (settled - at) * 100, 1),
        "startup_cpu_s": round(startup_cpu, 2),
        "startup_s": round(at - dash.launched, 2),
        "settle_seconds": round(settled - dash.launched, 1),
        "all_alive_when_settled": alive,
    }


def first_frames(dashes: list[Dashboard], timeout: float) -> list[tuple[float, float]]:
    """Start-up of each dashboard: when (monotonic) and at what CPU its status line first showed
    the node count, read every 10 ms."""
    found: dict[int, tuple[float, float]] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(dashes):
        for i, d in enumerate(dashes):
            if i not in found and count(NODES, d.status) is not None:
                found[i] = (time.monotonic(), d.cpu())
        if time.monotonic() > deadline:
            missing = next(d for i, d in enumerate(dashes) if i not in found)
            raise RuntimeError(f"a dashboard never drew its status:\n{missing.dump()}")
        time.sleep(0.01)  # polling the screen, not waiting for an effect
    return [found[i] for i in range(len(dashes))]


class Watch:
    """`pgcluster-tui watch` with its output drained (lines counted) on a thread."""

    def __init__(self, dsn: str, channel: str) -> None:
        argv = [sys.executable, "-m", "pgcluster_tui", "watch", "--dsn", dsn, "--channel", channel]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dashboard_env(),
            preexec_fn=die_with_parent,
        )
        REAPER.add(self.proc.pid)
        self.lines = 0
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            self.lines += 1

    def close(self) -> None:
        stop_process(self.proc.pid)
        self.thread.join(5)


@contextlib.contextmanager
def watch(dsn: str, channel: str) -> Iterator[Watch]:
    process = Watch(dsn, channel)
    try:
        yield process
    finally:
        process.close()


# Ingest of backlogs sent by other processes: raw psycopg vs ours


async def ingest_kind(dsn: str, server_pid: int, kind: str, cfg: Config) -> dict[str, Any]:
    """A backlog sent by separate processes, drained by psycopg's notifies() (raw) and by our
    worker and monitor (ours), alternately cfg.ingest_pairs times."""
    channel = f"ingest_{kind}"
    if kind == "realistic":
        per = cfg.backlog_nodes // 4
        specs = [("backlog", dsn, channel, str(i * per), str(per)) for i in range(4)]
        total = 4 * per * cfg.backlog_beats
        orders = [f"go {cfg.backlog_beats}"] * 4
    else:
        total = cfg.junk_total if kind == "junk" else cfg.past_cap_total
        specs = [("distinct", dsn, channel, "junk" if kind == "junk" else "names", "1000")] * 2
        orders = [f"go {i * (total // 2)} {total // 2}" for i in range(2)]
    with senders(*specs) as fillers:
        for sender in fillers:
            await asyncio.to_thread(sender.expect, "ready", 120)
        fill_usage = Usage(
            {
                "senders": tree_cpu(lambda: [s.pid for s in fillers]),
                "postgres": server_role(server_pid),
            }
        )

        async def fill() -> dict[str, float]:
            fill_usage.start()
            for sender, order in zip(fillers, orders, strict=True):
                sender.say(order)
            for sender in fillers:
                await asyncio.to_thread(sender.expect, "done", 120)
            return fill_usage.stop()

        raw, ours, fills = [], [], []
        for _ in range(cfg.ingest_pairs):
            rate, cpu = await drain_raw(dsn, channel, total, fill)
            raw.append(rate)
            fills.append(cpu)
            rate, cpu = await drain_ours(dsn, channel, total, fill)
            ours.append(rate)
            fills.append(cpu)
    ratios = [o / r for o, r in zip(ours, raw, strict=True)]
    return {
        "total": total,
        "raw_per_s": round(statistics.median(raw)),
        "ours_per_s": round(statistics.median(ours)),
        "ratio": round(statistics.median(ours) / statistics.median(raw), 2),
        "ratio_min": round(min(ratios), 2),
        "ratio_max": round(max(ratios), 2),
        "fill_senders_pct": round(statistics.median(f["senders"] for f in fills), 1),
        "fill_postgres_pct": round(statistics.median(f["postgres"] for f in fills), 1),
        "fill_seconds": round(statistics.median(f["seconds"] for f in fills), 2),
    }


async def drain_raw(
    dsn: str, channel: str, total: int, fill: Callable[[], Any]
) -> tuple[float, dict[str, float]]:
    """psycopg's AsyncConnection.notifies() draining the backlog."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        cpu = await fill()
        started = time.perf_counter()
        received = 0

        async def drain() -> None:
            nonlocal received
            async for _ in conn.notifies():
                received += 1
                if received >= total:
                    return

        await asyncio.wait_for(drain(), 180)
        return total / (time.perf_counter() - started), cpu


async def drain_ours(
    dsn: str, channel: str, total: int, fill: Callable[[], Any]
) -> tuple[float, dict[str, float]]:
    """Our worker, protocol and model (the Monitor) on the same backlog."""
    config = WorkerConfig(conninfo=dsn, channel=channel, node="bench@host")
    worker = HeldWorker(config)
    previous = gc.get_threshold()
    # What watch, serve and the dashboard run with (pgcluster_tui/runtime.py); raw keeps
    # CPython's defaults.
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        async with Harness(config, worker=worker) as h:
            await wait_until(lambda: h.link.connected)
            cpu = await fill()
            started = time.perf_counter()
            worker.release.set()
            await wait_until(lambda: h.monitor.received >= total, timeout=180)
            return total / (time.perf_counter() - started), cpu
    finally:
        gc.set_threshold(*previous)


# Putting it together


SECTIONS = ("outside_ingest", "keys", "10k", "flood", "idle")
"""The outside measurements, in the order run.py runs them."""
IDLE_EXTRA = (
    "idle_cpu_pct_floor",
    "idle_cpu_ratio",
    "idle_cpu_ratio_watch",
    "startup_cpu_s",
    "settle_cpu_pct_after_start",
)
"""The idle section's figures without a target: the floor, and start-up apart from settling."""
JSON_EXTRA = (*(f"key_{k}_p99_ms" for k in KEYS), *IDLE_EXTRA)
"""Printed in the final JSON line beside the figures with a target: each key's p99, and
IDLE_EXTRA."""


def measure(dsn: str, server_pid: int, cfg: Config, section: str) -> dict[str, Any]:
    """The figures of one section of SECTIONS, each with a target measured cfg.runs times."""
    out: dict[str, Any] = {}
    if section == "outside_ingest":
        for kind, key in (
            ("realistic", "ingest_ratio_realistic"),
            ("junk", "ingest_ratio_junk"),
            ("names", "ingest_ratio_names_past_cap"),
        ):
            figures = asyncio.run(ingest_kind(dsn, server_pid, kind, cfg))
            out[key] = figures["ratio"]
            out[f"{key}_min"], out[f"{key}_max"] = figures["ratio_min"], figures["ratio_max"]
            out[f"{key}_runs"] = cfg.ingest_pairs
            out[f"ingest_{kind}"] = figures
            print("ingest", kind, figures, flush=True)
    elif section == "keys":
        runs = [load_1k(dsn, server_pid, r, cfg) for r in range(cfg.runs)]
        worst = [r["presses"].worst_p99() for r in runs]
        pooled = Presses()
        for r in runs:
            pooled.merge(r["presses"])
        put(out, "key_p99_ms_outside", worst)
        put(out, "ui_p99_ms_outside", [r["ui"]["p99"] for r in runs])
        out["keys_pooled"] = {k: pooled.stats(k) for k in KEYS}
        for k in KEYS:
            out[f"key_{k}_p99_ms"] = out["keys_pooled"][k]["p99"]
        out["keys_runs"] = [
            {"worst": w, "per_key": {k: r["presses"].stats(k) for k in KEYS}, "cpu": r["keys_cpu"]}
            for w, r in zip(worst, runs, strict=True)
        ]
        out["ui_runs"] = [r["ui"] for r in runs]
        print("keys", out["keys_runs"], "ui", out["ui_runs"], flush=True)
    elif section == "10k":
        runs10 = [load_10k(dsn, server_pid, r, cfg) for r in range(cfg.runs)]
        put(out, "ui_p99_ms_10k_outside", [r["p99"] for r in runs10])
        out["ui_10k_runs"] = runs10
        print("10k", runs10, flush=True)
    elif section == "flood":
        floods = [flood_run(dsn, server_pid, r, cfg) for r in range(cfg.runs)]
        put(out, "flood_key_p99_ms", [f["p99"] for f in floods])
        out["flood_probe_lost"] = any(f["lost"] for f in floods)
        out["flood_probe_lost_runs"] = len(floods)
        pooled = Presses()
        for f in floods:
            pooled.merge(f.pop("presses"))
        out["flood_keys_pooled"] = {k: pooled.stats(k) for k in pooled.ms}
        out["flood_runs"] = floods
        print("flood", floods, flush=True)
    elif section == "idle":
        idles = idle_runs(dsn, server_pid, cfg)
        for key in ("idle_cpu_pct", "idle_cpu_pct_watch", "settle_cpu_pct"):
            put(out, key, [i[key] for i in idles])
        for key in ("idle_cpu_pct_floor", "settle_cpu_pct_after_start", "startup_cpu_s"):
            put(out, key, [i[key] for i in idles])
        # The same traffic's cost to a bare psycopg listener, measured alongside: the floor.
        for key in ("idle_cpu_pct", "idle_cpu_pct_watch"):
            ratios = [i[key] / i["idle_cpu_pct_floor"] for i in idles if i["idle_cpu_pct_floor"]]
            if ratios:
                put(out, key.replace("cpu_pct", "cpu_ratio"), [round(x, 2) for x in ratios])
        out["idle_runs"] = idles
        print("idle", idles, flush=True)
    else:
        raise ValueError(section)
    return out


def put(out: dict[str, Any], key: str, values: list[float]) -> None:
    """A figure's median over runs, its min, max and number of runs."""
    out[key] = round(statistics.median(values), 2)
    out[f"{key}_min"], out[f"{key}_max"] = min(values), max(values)
    out[f"{key}_runs"] = len(values)


# The report


def ms(stats: dict[str, Any]) -> str:
    missed = f", {stats['missed']} never shown" if stats["missed"] else ""
    return f"{stats['p50']} / {stats['p99']} / {stats['max']} ({stats['n']}{missed})"


def cpu_row(phase: str, cpu: dict[str, float], dashboard: str = "dashboard") -> str:
    return (
        f"| {phase} | {cpu.get(dashboard, '–')} | {cpu['senders']} | {cpu['postgres']} |"
        f" {cpu['harness']} | {cpu['other']} | {cpu['machine']} | {cpu['seconds']:g} |"
    )


def report(f: dict[str, Any], cfg: Config) -> list[str]:
    """The part of PERFORMANCE.md about the outside figures: how each is measured, what it is."""
    keys = f["keys_pooled"]
    worst_key = max(KEYS, key=lambda k: keys[k]["p99"])
    second_key = max((k for k in KEYS if k != "escape"), key=lambda k: keys[k]["p99"])
    ui1, ui10, floods, idles = f["ui_runs"], f["ui_10k_runs"], f["flood_runs"], f["idle_runs"]
    lost_runs = sum(run["lost"] for run in floods)
    lines = [
        "# From outside",
        "",
        "**The terminal.** The real command, `python -m pgcluster_tui --dsn <embedded> --channel",
        "<channel>`, runs in a pseudo-terminal of 120x36 (`pty.fork`, TERM=xterm-256color, no",
        "`PGCLUSTER_*`, libpq, Textual or `ESCDELAY` variable). One thread reads the terminal and",
        "stamps each chunk with `time.monotonic()` as `read()` returns; a second feeds the chunks to",
        "a [pyte](https://github.com/selectel/pyte) screen and, after each chunk, tests every",
        "condition waited for: an effect's time is the read time of the chunk that made it",
        "visible. A key is the bytes an xterm sends (`p`, `s`, `S`, `?`, ESC, `ESC [ B`, `ESC [ A`),",
        "stamped just before they are written. A key is pressed only once the previous one showed",
        "its effect, after a random gap of 30-300 ms; one that never shows within",
        f"{KEY_TIMEOUT:g} s counts as {KEY_TIMEOUT * 1000:,.0f} ms and is listed as never shown.",
        "p99 is the nearest rank: of fewer than 100 presses it is the slowest.",
        "",
        "**The senders** are `benchmarks/senders.py` in their own interpreters; a node always sends",
        "from the same session. Timestamps in both processes are `time.monotonic()` (CLOCK_MONOTONIC,",
        "one clock for the machine). **CPU** is read from `/proc/<pid>/stat` (utime + stime of every",
        "thread, with descendants and the children they reaped, so the server is the postmaster",
        "and every backend, exited ones included); `machine` is `/proc/stat` (100 = one of the",
        f"{os.cpu_count()} cores busy); `harness` is this benchmark (mostly pyte); `other` is the",
        "machine minus everything named (anything else running on it).",
        "",
        "## Keys under load: `key_p99_ms_outside`",
        "",
        "Two sender processes of 10 sessions each send 5,000 notifications a second over 1,000",
        "nodes (each node every 0.2 s; 500 nodes per process, 50 per session). Once the status",
        "line counts 1,000 nodes alive, a marker process starts adding a new node every 0.1 s (as",
        "the in-process benchmark does: the table and the event log change while keys are",
        "pressed, as when nodes come and go) and each run presses every key",
        f"{cfg.presses} times: first in the default order (worst state, then name): `↓`/`↑` (the",
        "highlighted row's node changes: the selection follows its node, so only a key changes",
        "it; `↑` never on the first row shown), `p` twice (`PAUSED` appears in the status line,",
        f"then, after a pause of 50 ms to {PAUSED_FOR:g} s at random, goes), `?` then `escape` (the",
        "help's line for `s` appears, then goes); then `s` (the table header's sort arrow moves",
        "to another column), `S` (the arrow turns), `p` and `?`/`escape` again while the order",
        "changes with every sort (by age, beats and interval rows move with every beat). The",
        "figure is each run's slowest key's p99, median of the runs. Each key, pooled over the",
        f"runs: p50 / p99 / max in ms (presses). Slowest: `{worst_key}`; slowest but `escape`:",
        f"`{second_key}` (p99 {keys[second_key]['p99']} ms).",
        "",
        "| key | bytes | p50 / p99 / max ms (presses) | p99 of each run |",
        "|---|---|---|---|",
    ]
    for key, sent in KEYS.items():
        per_run = ", ".join(str(r["per_key"][key]["p99"]) for r in f["keys_runs"])
        lines.append(f"| {key} | `{sent!r}` | {ms(keys[key])} | {per_run} |")
    lines += [
        "",
        "The help takes the table's place in the main screen: `?` shows it, `escape` counts",
        "once the help has gone and the table's header is back. `escape` includes the wait for",
        "the byte after a lone ESC (an xterm sends the Escape key as ESC alone, which also starts",
        "every escape sequence): 20 ms by default (`ESCDELAY` in ms overrides it), and the",
        "dashboard's input thread wakes when it ends (Textual's own polls every 100 ms, so a",
        "lone ESC waited 100-200 ms there whatever `ESCDELAY` said). A terminal speaking the",
        "kitty keyboard protocol (which the dashboard asks for) sends an unambiguous sequence.",
        "",
        "`python benchmarks/run.py --only keys,10k,flood,idle --package-path DIR` measures the",
        "`pgcluster_tui` in DIR (e.g. `git archive <commit> pgcluster_tui | tar -x -C DIR`) from",
        "outside the same way, to compare two versions on one machine.",
        "",
        "## NOTIFY to row on screen: `ui_p99_ms_outside`, `ui_p99_ms_10k_outside`",
        "",
        "In the same dashboard after its keys, under the same load: `/`, `mark`, Enter (only",
        "markers shown), `s` until the sort is by joined and `S` (newest first), then `end` and",
        "the mouse wheel up, so the view shows the top while the cursor stays on the last row,",
        "out of view (the selection follows its node and would scroll the view down with it).",
        "A marker process NOTIFYs a new node `mark<k>@bench` every 0.1 s from its own session,",
        "stamping `time.monotonic()` just before each statement (which itself takes",
        f"{statistics.median(r['notify_ms_p50'] for r in ui1)} ms at the median, included). A",
        "marker's latency runs from that stamp to the read time of the chunk that first shows",
        f"`mark<k>@bench` in a table row (not the event log). Window {cfg.marker_seconds:g} s per run;",
        f"a marker not shown {MARK_TIMEOUT:g} s after the window counts as {MARK_TIMEOUT:g} s.",
        "Every key of the set-up is waited for (`home`, then `end`, so none is still in flight",
        "when the wheel turns); if the cursor shows in the table during the window anyway (the",
        "view went back to it, so new rows may land off screen) the run says so below.",
        "",
        "`ui_p99_ms_10k_outside`: the same with 10,000 nodes beating every 5 s (two processes of",
        "10 sessions, 2,000 notifications a second) once all 10,000 are alive, in a dashboard",
        "with `PGCLUSTER_MAX_NODES=20000`: at the default 10,000 every marker would be counted at",
        "the cap, not shown.",
        "",
        "| load | run | markers | p50 ms | p99 ms | max ms | never shown | view left the top |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for load, runs in (("1,000 nodes", ui1), ("10,000 nodes", ui10)):
        for i, r in enumerate(runs, 1):
            lines.append(
                f"| {load} | {i} | {r['markers']} | {r['p50']} | {r['p99']} | {r['max']} |"
                f" {r['missed']} | {'yes' if r['view_moved'] else 'no'} |"
            )
    lines += [
        "",
        "## A flood past max_nodes: `flood_key_p99_ms`, `flood_probe_lost`",
        "",
        "A fresh dashboard (default `max_nodes` 10,000), once its status line shows a probe round",
        f"trip: two processes send {cfg.flood_names:,} distinct valid names (`f<i>@10.1.x.y`, 1,000",
        "per statement, half each) as fast as they can. From the first name sent, keys are",
        "pressed (`s`, `S`, `p` twice, `?` and `escape`; not `↓`/`↑`, since evictions change the",
        "row under the cursor) until the dashboard has absorbed the flood: its CPU under 25 % of",
        f"a core over 1 s, after the last name was sent (at most {cfg.flood_absorb_cap:g} s after),",
        f"and for at least {cfg.flood_min_seconds:g} s, so a quick absorption still gives enough",
        "presses and the wave of 10,000 tracked names going late (7.5 s) falls in the window.",
        "The figure is each run's p99 over every press, median of the runs. The status line is",
        "read after every chunk: `flood_probe_lost` is whether it showed `probe LOST` at any time",
        f"in any run ({lost_runs} of {len(floods)} runs did); the probe's forms are listed with",
        "digits as `#`, and for how long each (`(cut off)`: the line too long to show it).",
        "",
        "| run | names sent in | absorbed after | presses | p50 / p99 / max ms | LOST shown for |"
        " probe shown as | dashboard CPU % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(floods, 1):
        presses = sum(s["n"] for s in r["per_key"].values())
        absorbed_at = f"{r['absorbed_s']} s" + ("" if r["absorbed"] else " (not absorbed: cap)")
        lines.append(
            f"| {i} | {r['sent_s']} s | {absorbed_at} | {presses} | {r['p50']} / {r['p99']} /"
            f" {r['max']} | {r['lost_seconds']} s |"
            f" {'; '.join(f'`{k}` {v} s' for k, v in r['probes'].items())} |"
            f" {r['cpu']['dashboard']} |"
        )
    hidden = sum(r["probes"].get("(cut off)", 0.0) for r in floods)
    window = sum(sum(r["probes"].values()) for r in floods)
    lines += [
        "",
        f"While the probe was cut off ({hidden:.1f} s of {window:.1f} s over the runs) a `LOST`",
        "could not have been seen; the rest of the time it was read after every change.",
    ]
    lines += [
        "",
        "Each key over the runs: "
        + "; ".join(f"`{k}` {ms(s)}" for k, s in f["flood_keys_pooled"].items())
        + ".",
        "",
        "Status line at the end of the last run: `" + floods[-1]["final_status"] + "`.",
        "",
    ]
    lines += [
        "## Ingest of backlogs from other processes",
        "",
        "As `ingest_ratio`, raw psycopg `AsyncConnection.notifies()` against our worker and",
        "monitor (held until the backlog is in, then timed until the monitor has taken every",
        "notification), alternately, each pair back to back, on backlogs that sender processes",
        "build before the timed drain (they are idle during it). Ours runs with the garbage",
        "collector thresholds the long-running commands set (`runtime.GC_THRESHOLDS`), raw with",
        "CPython's defaults:",
        "",
        f"- `ingest_ratio_realistic`: {cfg.backlog_nodes:,} nodes, one session each (4 processes),",
        f"  every node beating {cfg.backlog_beats} times, each beat its own transaction",
        "  (`BEGIN; NOTIFY; COMMIT;` repeated in one simple query, so none is folded into another),",
        "  in rounds of at most 10 beats per node. Target as `ingest_ratio`'s.",
        f"- `ingest_ratio_junk`: {cfg.junk_total:,} payloads that are not node names, all",
        "  different, 1,000 per statement from 2 processes.",
        f"- `ingest_ratio_names_past_cap`: {cfg.past_cap_total:,} distinct valid names (default",
        "  `max_nodes` 10,000), the same way.",
        "",
        "| backlog | notifications | raw /s | ours /s | ratio (min-max) | senders, server CPU % while filling |",
        "|---|---|---|---|---|---|",
    ]
    for kind in ("realistic", "junk", "names"):
        r = f[f"ingest_{kind}"]
        lines.append(
            f"| {kind} | {r['total']:,} | {r['raw_per_s']:,} | {r['ours_per_s']:,} |"
            f" {r['ratio']} ({r['ratio_min']}-{r['ratio_max']}) | {r['fill_senders_pct']},"
            f" {r['fill_postgres_pct']} over {r['fill_seconds']} s |"
        )
    lines += [
        "",
        "## Idle and settling: `idle_cpu_pct`, `idle_cpu_pct_watch`, `settle_cpu_pct`",
        "",
        f"{len(idles)} replicas, each on its own channel: one process sends 100 nodes'",
        "heartbeats, one session per node, each node every 5 s (staggered), while the dashboard",
        "runs in its terminal and `watch` with its output drained by a thread. The dashboards",
        "start and settle one after the other (three start-ups at once on two cores would",
        "measure their contention, about 0.3 s more CPU each), then every replica is measured",
        "idle together: each uses a few percent of a core at most, and /proc counts each",
        "process's own time.",
        f"`settle_cpu_pct`: the dashboard's CPU from its launch through {cfg.idle_settle:g} s",
        "(start-up, 100 joins, 100 new-to-alive), over those seconds. `idle_cpu_pct`, `_watch`:",
        f"the next {cfg.idle_seconds:g} s (/proc counts CPU in ticks of 10 ms: one is"
        f" {1 / cfg.idle_seconds:.2f} % of a core over that window, so two decimals)."
        " Beside them, measured in the same window on the same",
        "channel, the floor: `benchmarks/senders.py listen`, a bare psycopg",
        "`AsyncConnection.notifies()` listener that takes each notification and does nothing",
        "else (`idle_cpu_pct_floor`); `idle_cpu_ratio`, `idle_cpu_ratio_watch` are the dashboard's",
        "and watch's CPU over it. Start-up (`startup_cpu_s`) is the dashboard's CPU from its launch",
        "to the first frame that shows the status line's count (Python, the imports of Textual,",
        "psycopg and pydantic, the connection, the first layout); `settle_cpu_pct_after_start` is",
        "the settle window without it.",
        "",
        "Medians: "
        + ", ".join(f"`{key}` {f.get(key, '–')}" for key in IDLE_EXTRA)
        + ". The floor reads each notification as it arrives, a wake-up each (on this VM a"
        " wake-up costs far more than the read); the dashboard and `watch` read a trickle at"
        " most four times a second (`reader.Pace`, ARCHITECTURE.md), so they can cost less"
        " than it. `watch lines`: what `watch` printed (a join each; a new node's second beat"
        " only with `--all`).",
        "",
        "| replica | settle % | start-up CPU s (at s) | settle after start-up % | dashboard idle % |"
        " watch idle % | floor idle % | all alive when settled | watch lines |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(idles, 1):
        lines.append(
            f"| {i} | {r['settle_cpu_pct']} | {r['startup_cpu_s']} ({r['startup_s']}) |"
            f" {r['settle_cpu_pct_after_start']} | {r['idle_cpu_pct']} |"
            f" {r['idle_cpu_pct_watch']} | {r['idle_cpu_pct_floor']} |"
            f" {r['all_alive_when_settled']} | {r['watch_lines']} |"
        )
    lines += [
        "",
        "## What the load cost",
        "",
        "CPU in % of one core during each load (the last run's), so the senders' and the",
        "server's share of the two cores can be judged (read in 10 ms ticks at both ends of each",
        "window, so a few % either way; `other` can come out slightly negative):",
        "",
        "| phase | dashboard | senders | postgres | harness | other | machine | seconds |",
        "|---|---|---|---|---|---|---|---|",
        cpu_row("keys, 5,000/s over 1,000 nodes", f["keys_runs"][-1]["cpu"]),
        cpu_row("markers, same load", ui1[-1]["cpu"]),
        cpu_row("markers, 10,000 nodes at 5 s", ui10[-1]["cpu"]),
        cpu_row("flood, the keys' window", floods[-1]["cpu"]),
        cpu_row("idle, every replica (dashboard of the first)", idles[0]["cpu"], "dashboard0"),
        "",
    ]
    others = [
        f["keys_runs"][-1]["cpu"]["other"],
        ui1[-1]["cpu"]["other"],
        ui10[-1]["cpu"]["other"],
        floods[-1]["cpu"]["other"],
        idles[0]["cpu"]["other"],
    ]
    if max(others) > 20:
        lines += [
            f"Processes outside the benchmark used up to {max(others):g} % of a core in these",
            "windows (`other`): the machine was shared while this report was made, so its",
            "latencies lean pessimistic; compare runs by their `other` before comparing figures.",
            "",
        ]
    return lines
