"""Measure how pgcluster-tui survives faults and abuse; write docs/RELIABILITY.md.

Every case runs on a private embedded PostgreSQL that this script starts and stops itself.
Run: python scripts/reliability.py
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import fcntl
import inspect
import json
import os
import platform
import pty
import re
import resource
import secrets
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pgcluster_tui.core.events import (  # noqa: E402
    Connected,
    NodeState,
    NodeStateChanged,
    RetryScheduled,
)
from pgcluster_tui.core.membership import Thresholds  # noqa: E402
from pgcluster_tui.core.protocol import Junk, ProtocolError, classify  # noqa: E402
from pgcluster_tui.core.text import mixed_scripts  # noqa: E402
from pgcluster_tui.pg.embedded import EmbeddedServer  # noqa: E402
from pgcluster_tui.pg.worker import ChannelWorker, WorkerConfig, send_once  # noqa: E402
from tests.beating import beating  # noqa: E402
from tests.reliability.harness import Harness, Peers, require_password  # noqa: E402

if TYPE_CHECKING:
    from pgcluster_tui.settings import Settings
    from pgcluster_tui.tui.app import PgClusterApp

NAMES = [f"node{i}@10.0.0.{i}" for i in range(1, 7)]
Figures = dict[str, Any]


async def wait_until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Poll until true or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        await asyncio.sleep(0.005)


def config(dsn: str, channel: str, **extra: Any) -> WorkerConfig:
    """A worker config with a quick reconnect."""
    base: dict[str, Any] = {
        "conninfo": dsn,
        "channel": channel,
        "node": "observer@bench",
        "interval": 0.5,
        "reconnect_max": 1.0,
        "connect_timeout": 2.0,
    }
    base.update(extra)
    return WorkerConfig(**base)


async def forced_disconnects(rounds: int = 50) -> Figures:
    """Terminate the listener and the sender in turn while peers beat."""
    with EmbeddedServer() as server:
        channel = "cluster"
        relisten: list[float] = []
        async with (
            Peers(server.dsn, channel, NAMES, every=0.2),
            Harness(config(server.dsn, channel), Thresholds(0.5, 4, 8, 16)) as h,
        ):
            await wait_until(lambda: all(n in h.model for n in NAMES))
            with psycopg.connect(server.dsn, autocommit=True) as admin:
                for i in range(rounds):
                    before = len(h.of(Connected))
                    victim = h.link.listener_pid if i % 2 == 0 else h.link.sender_pid
                    started = time.monotonic()
                    admin.execute("SELECT pg_terminate_backend(%s)", (victim,))
                    await wait_until(lambda b=before: len(h.of(Connected)) > b)  # type: ignore[misc]
                    relisten.append(time.monotonic() - started)
            lost = [n for n in NAMES if n not in h.model]
            stale = [e for e in h.of(NodeStateChanged) if e.state is NodeState.STALE]
        return {
            "rounds": rounds,
            "reconnects": h.link.reconnects,
            "nodes_lost": len(lost),
            "stale_events": len(stale),
            "relisten_median_ms": round(statistics.median(relisten) * 1000, 1),
            "relisten_max_ms": round(max(relisten) * 1000, 1),
        }


async def restarts_under_worker(count: int = 5) -> Figures:
    """Stop and start the server under a running worker and model."""
    with EmbeddedServer() as server:
        channel = "cluster"
        thresholds = Thresholds(0.5, 1.5, 3, 6)
        back: list[float] = []
        async with (
            Peers(server.dsn, channel, NAMES, every=0.2),
            Harness(config(server.dsn, channel), thresholds) as h,
        ):
            await wait_until(lambda: all(n in h.model for n in NAMES))
            for _ in range(count):
                connected = len(h.of(Connected))
                server.stop_server()
                await wait_until(lambda: h.model.frozen)
                down_at = time.monotonic()
                await wait_until(lambda d=down_at: time.monotonic() - d > 3.5)  # type: ignore[misc]
                server.restart()
                started = time.monotonic()
                await wait_until(lambda c=connected: len(h.of(Connected)) > c)  # type: ignore[misc]
                back.append(time.monotonic() - started)
                beats = {n: h.model.view(n, time.time()).beats for n in NAMES}
                await wait_until(
                    lambda b=beats: all(h.model.view(n, time.time()).beats > b[n] for n in NAMES)  # type: ignore[misc]
                )
            stale = [e for e in h.of(NodeStateChanged) if e.state is NodeState.STALE]
            retries = len(h.of(RetryScheduled))
        return {
            "restarts": count,
            "retry_countdowns": retries,
            "stale_events_during_outages": len(stale),
            "reconnect_after_restart_median_ms": round(statistics.median(back) * 1000, 1),
            "reconnect_after_restart_max_ms": round(max(back) * 1000, 1),
        }


def _watch(dsn: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PGCLUSTER_RECONNECT_MAX="0.5", PGCLUSTER_CONNECT_TIMEOUT="1")
    return subprocess.Popen(
        [sys.executable, "-m", "pgcluster_tui", "--dsn", dsn, "watch", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )


def _read_until(process: subprocess.Popen[str], kind: str, timeout: float = 30) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        if json.loads(line)["event"] == kind:
            return
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"watch never printed {kind}")


def watch_restarts_and_shutdown() -> Figures:
    """watch: start while down, 5 restarts, Ctrl-C with the server frozen and gone."""
    figures: Figures = {}
    with EmbeddedServer() as server:
        server.stop_server()
        process = _watch(server.dsn)
        _read_until(process, "retry_scheduled")
        server.restart()
        started = time.monotonic()
        _read_until(process, "connected")
        figures["start_while_down_join_ms"] = round((time.monotonic() - started) * 1000, 1)
        for _ in range(5):
            server.stop_server()
            _read_until(process, "retry_scheduled")
            server.restart()
            _read_until(process, "connected")
        figures["watch_restarts_survived"] = 5
        for fault in ("frozen", "unreachable"):
            if fault == "frozen":
                server.freeze()
            else:
                process = _watch(server.dsn)
                _read_until(process, "connected")
                server.stop_server()
                _read_until(process, "retry_scheduled")
            started = time.monotonic()
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            finally:
                server.thaw()
            figures[f"watch_ctrl_c_{fault}_ms"] = round((time.monotonic() - started) * 1000, 1)
            figures[f"watch_ctrl_c_{fault}_exit"] = process.returncode
    return figures


async def hostile_payloads(count: int = 5000) -> Figures:
    """Random Unicode, escapes and markup through the real database."""
    import random

    rng = random.Random(4711)
    specials = ["[bold]", "[/]", "[link=http://x]", "\x1b[31m", "\x1b]0;t\x07", "\u202e", "\r\n"]
    payloads = []
    for _ in range(count):
        length = rng.choice([0, 1, 10, 60, 255, 256, 2000])
        chars = [
            chr(rng.choice([rng.randint(1, 0x7F), rng.randint(0x80, 0xD7FF)]))
            for _ in range(length)
        ]
        if rng.random() < 0.3:
            chars.insert(0, rng.choice(specials))
        if rng.random() < 0.4:
            chars.insert(len(chars) // 2, "@")
        payload = "".join(chars)
        while len(payload.encode()) >= 8000:
            payload = payload[: len(payload) // 2]
        payloads.append(payload)
    with EmbeddedServer() as server:
        async with Harness(config(server.dsn, "cluster")) as h:
            await wait_until(lambda: h.link.connected)
            rss_before = _rss_mb()
            async with await psycopg.AsyncConnection.connect(server.dsn, autocommit=True) as conn:
                for payload in payloads:
                    await conn.execute("SELECT pg_notify('cluster', %s)", (payload,))
                await conn.execute("SELECT pg_notify('cluster', 'done@sentinel')")
            await wait_until(lambda: "done@sentinel" in h.model)
            junk = sum(isinstance(classify(p), Junk) for p in payloads)
            counted = sum(h.model.junk_counts.values())
            return {
                "payloads": count,
                "junk_expected": junk,
                "junk_counted": counted,
                "by_reason": dict(h.model.junk_counts),
                "still_connected": h.link.connected,
                "rss_growth_mb": round(_rss_mb() - rss_before, 1),
            }


async def flood(burst: int = 200_000, names: int = 10_000) -> Figures:
    """200,000 notifications in one burst over 10,000 names."""
    with EmbeddedServer() as server:
        async with Harness(config(server.dsn, "cluster")) as h:
            await wait_until(lambda: h.link.connected)
            rss_before = _rss_mb()
            started = time.monotonic()
            async with await psycopg.AsyncConnection.connect(server.dsn, autocommit=True) as conn:
                rounds = burst // names
                for _ in range(rounds):
                    await conn.execute(
                        "SELECT pg_notify('cluster', 'n' || i || '@10.0.0.1')"
                        " FROM generate_series(1, %s) AS i",
                        (names,),
                    )
            await wait_until(lambda: h.model.beats_total >= burst, timeout=120)
            elapsed = time.monotonic() - started
            return {
                "notifications": burst,
                "distinct_names": names,
                "nodes_tracked": len(h.model),
                "beats_counted": h.model.beats_total,
                "drain_s": round(elapsed, 2),
                "rss_growth_mb": round(_rss_mb() - rss_before, 1),
            }


async def announce_guard() -> Figures:
    """Names a node would crash on are refused before sending, on the library paths."""
    refused = 0
    bad = ["a@" + "b" * 254, "no_at", "a@b\x1b[2J", "", "a b@c"]
    with EmbeddedServer() as server:
        cfg = config(server.dsn, "cluster")
        for name in bad:
            try:
                await send_once(cfg, name)
            except ProtocolError:
                refused += 1
        try:
            ChannelWorker(config(server.dsn, "cluster", node=bad[0]))
        except ProtocolError:
            refused += 1
    return {"invalid_names_tried": len(bad) + 1, "refused_before_sending": refused}


def secrets_scan() -> Figures:
    """Search every output for the password: good and bad credentials, every command."""
    password = "Pw_" + secrets.token_hex(6)
    found = 0
    outputs = 0
    with EmbeddedServer() as server:
        require_password(server, "s", password)
        base = f"host={server.socket_dir} port={server.port} dbname=postgres user=s"
        dsns = [
            f"{base} password={password}",
            f"{base} password={password}x",
            f"postgresql://s:{password}@127.0.0.1:1/db",
            f"password={password} nonsense",
        ]
        for dsn in dsns:
            for args in (
                ["watch", "--json", "--all", "--duration", "1.5"],
                ["nodes", "--wait", "1"],
                ["announce"],
                ["check", "--expect", "0", "--wait", "1"],
            ):
                result = subprocess.run(
                    [sys.executable, "-m", "pgcluster_tui", "--dsn", dsn, *args],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    cwd=ROOT,
                )
                outputs += 1
                found += password in (result.stdout + result.stderr)
    return {"outputs_searched": outputs, "outputs_with_password": found}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dashboard(settings: Settings, dsn: str, demo: int = 0) -> PgClusterApp:
    """The dashboard on a Monitor over a real worker, as `pgcluster-tui` builds it."""
    from pgcluster_tui.demo import DemoCluster
    from pgcluster_tui.tui.app import PgClusterApp
    from pgcluster_tui.wiring import new_monitor

    peers = DemoCluster(dsn, settings.channel, demo) if demo else None
    return PgClusterApp(settings, new_monitor(settings, dsn), demo=peers)


def _status(app: Any) -> str:
    shown = app.status_line._shown
    return "" if shown is None else str(shown.plain)


async def dashboard_restarts(count: int = 5) -> Figures:
    """Stop and start the server under the running dashboard."""
    from pgcluster_tui.settings import load_settings

    with EmbeddedServer() as server:
        settings = load_settings(
            {"dsn": server.dsn, "channel": "cluster", "interval": 0.5, "reconnect_max": 2.0}
        )
        app = _dashboard(settings, server.dsn)
        countdowns = stale_seen = 0
        async with Peers(server.dsn, "cluster", NAMES, every=0.2), app.run_test(size=(120, 36)):
            await wait_until(lambda: all(n in app.model for n in NAMES))
            for _ in range(count):
                await asyncio.to_thread(server.stop_server)
                await wait_until(lambda: app.link.phase == "disconnected")
                await wait_until(lambda: "retry in" in _status(app))
                countdowns += 1
                down_at = time.monotonic()
                await wait_until(lambda d=down_at: time.monotonic() - d > 3.5)  # type: ignore[misc]
                stale_seen += sum(app.model.state(n) is NodeState.STALE for n in NAMES)
                await asyncio.to_thread(server.restart)
                await wait_until(lambda: app.link.phase == "connected")
                beats = {n: app.model.view(n, time.time()).beats for n in NAMES}
                await wait_until(
                    lambda b=beats: all(app.model.view(n, time.time()).beats > b[n] for n in NAMES)  # type: ignore[misc]
                )
            reconnects = app.link.reconnects
    return {
        "restarts": count,
        "retry_countdowns_shown": countdowns,
        "nodes_stale_after_3.5_s_outages": stale_seen,
        "reconnects_counted": reconnects,
    }


async def _quit_once(fault: str) -> float:
    from pgcluster_tui.settings import load_settings

    with EmbeddedServer() as server:
        settings = load_settings({"dsn": server.dsn, "channel": "cluster"})
        app = _dashboard(settings, server.dsn, demo=3)
        try:
            async with app.run_test(size=(120, 36)) as pilot:
                await wait_until(lambda: app.link.phase == "connected")
                await wait_until(lambda: len(app.model) >= 2)
                if fault == "frozen":
                    await asyncio.to_thread(server.freeze)
                else:
                    await asyncio.to_thread(server.stop_server)
                    await wait_until(lambda: app.link.phase == "disconnected")
                started = time.monotonic()
                await pilot.press("q")
                await wait_until(lambda: app.return_code is not None, timeout=10)
                return round((time.monotonic() - started) * 1000, 1)
        finally:
            server.thaw()


async def dashboard_quit() -> Figures:
    """q with the server frozen (SIGSTOP) and with it gone."""
    return {f"q_with_server_{fault}_ms": await _quit_once(fault) for fault in ("frozen", "stopped")}


async def dashboard_flood(burst: int = 200_000, names: int = 10_000) -> Figures:
    """200,000 notifications over 10,000 names into the dashboard; keys keep answering."""
    from pgcluster_tui.settings import load_settings

    with EmbeddedServer() as server:
        settings = load_settings({"dsn": server.dsn, "channel": "cluster"})
        app = _dashboard(settings, server.dsn)
        pressed: list[float] = []
        answered: list[float] = []
        original = app.action_pause

        def action_pause() -> None:
            original()
            answered.append(time.perf_counter() - pressed[-1])

        app.action_pause = action_pause  # type: ignore[method-assign]
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(lambda: app.link.phase == "connected")
            rss_before = _rss_mb()
            async with await psycopg.AsyncConnection.connect(server.dsn, autocommit=True) as conn:
                for _ in range(burst // names):
                    await conn.execute(
                        "SELECT pg_notify('cluster', 'n' || i || '@10.0.0.1')"
                        " FROM generate_series(1, %s) AS i",
                        (names,),
                    )
            while app.model.beats_total < burst:
                pressed.append(time.perf_counter())
                app.simulate_key("p")
                await wait_until(lambda: len(answered) == len(pressed), timeout=30)
                await asyncio.sleep(0.05)
            if app.paused:
                await pilot.press("p")
            await wait_until(lambda: len(app.table.order) >= names, timeout=60)
            return {
                "notifications": burst,
                "distinct_names": names,
                "nodes_in_table": len(app.table.order),
                "keys_pressed_while_draining": len(answered),
                "key_answer_max_ms": round(max(answered) * 1000, 1),
                "rss_growth_mb": round(_rss_mb() - rss_before, 1),
            }


# Hostile cases (issue #10): the real command line, or the dashboard with its real worker,
# against one private embedded server; each case's verdict is computed from what it observed.

Case = dict[str, Any]
"""How a case ran, what it observed, and whether that observation passes."""

PREFIX = "pgcluster-tui: "
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
"""Control characters a terminal may act on (the newline aside)."""

FORMULA_NAMES = ['=HYPERLINK("http://evil","x")@h', "+cmd@h", "-2+3@h"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_APPLICATION = "=cmd|' /C calc'!A0"

HOSTILE_ROLE = "h\x1b]52;c;cHduZWQ=\x07\x1b[2J\x1b]0;owned\x07\x1b[31m"
"""A role name that writes the clipboard (OSC 52), clears the screen and sets the title."""

INVISIBLE_NAMES = {
    "tag characters": "app@10.0.0.1\U000e0041\U000e0042",
    "variation selector": "app\ufe0f@10.0.0.1",
    "soft hyphen": "app\u00ad@10.0.0.1",
    "combining grapheme joiner": "app\u034f@10.0.0.1",
    "hangul fillers": "app\u115f\u1160@10.0.0.1",
    "mongolian vowel separator": "app\u180e@10.0.0.1",
    "hangul filler": "app\u3164@10.0.0.1",
    "halfwidth hangul filler": "app\uffa0@10.0.0.1",
    "braille blank": "app\u2800@10.0.0.1",
    "zero-width space": "app\u200b@10.0.0.1",
    "literal backslash-u": "app\\u200b@10.0.0.1",
    "plain": "app@10.0.0.1",
}
"""Names that look like `app@10.0.0.1` unless what does not show itself is escaped."""

CYRILLIC_A_NAME = "\u0430pp@10.0.0.1"
SCRIPT_NAMES = [CYRILLIC_A_NAME, "app@10.0.0.1", "приложение@хост", "café@héte"]


def case(how: str, observed: dict[str, Any], passed: bool) -> Case:
    """One hostile case's record for the report."""
    return {"how": how, "observed": observed, "passed": bool(passed)}


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without database, cookie or pgcluster-tui settings, plus `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PGCLUSTER_", "PG"))
        and name not in ("DATABASE_URL", "RELEASE_COOKIE")
    }
    env.update(extra)
    return env


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real command line to completion."""
    return subprocess.run(
        [sys.executable, "-m", "pgcluster_tui", *args],
        capture_output=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=timeout,
        env=clean_env() if env is None else env,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> bool:
    """Exit 2 with exactly one line on stderr, ours, and no traceback."""
    lines = result.stderr.strip().splitlines()
    return (
        result.returncode == 2
        and len(lines) == 1
        and lines[0].startswith(PREFIX)
        and "Traceback" not in result.stderr
    )


def error_seen(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """What an error run showed: exit code, stderr line count and its first line."""
    lines = result.stderr.strip().splitlines()
    return {
        "exit": result.returncode,
        "stderr lines": len(lines),
        "says": lines[0].removeprefix(PREFIX) if lines else "",
    }


def raw_controls(text: str) -> int:
    """How many raw control characters an output holds."""
    return len(RAW_CONTROL.findall(text))


async def eventually(condition: Callable[[], object], timeout: float = 20.0) -> bool:
    """Whether `condition` became true within `timeout` seconds."""
    try:
        await wait_until(condition, timeout)
    except RuntimeError:
        return False
    return True


def plant_links(exports: Path, victims: Path, now: float, seconds: int = 120) -> dict[Path, Path]:
    """Dangling symlinks named as the exports of the next `seconds` would be, into `victims`."""
    links = {}
    for offset in range(seconds):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now + offset))
        for suffix in (".json", ".csv"):
            link = exports / f"pgcluster-nodes-{stamp}{suffix}"
            target = victims / link.name
            link.symlink_to(target)
            links[link] = target
    return links


async def dashboard_export(dsn: str, workdir: Path) -> dict[str, Case]:
    """Press `e` in the dashboard on a channel from a cookie, with hostile names and planted links."""
    from pgcluster_tui.settings import load_settings

    cookie = f"Cookie-{secrets.token_hex(8)}"
    exports, victims = workdir / "exports", workdir / "victims"
    exports.mkdir()
    victims.mkdir()
    settings = load_settings(
        {"dsn": dsn, "cookie": cookie, "node": "observer@reliability", "export_dir": exports}
    )
    derived = settings.channel
    app = _dashboard(settings, dsn)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await wait_until(lambda: app.link.phase == "connected")
        async with await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, application_name=HOSTILE_APPLICATION
        ) as conn:
            for name in FORMULA_NAMES * 2:
                await conn.execute("SELECT pg_notify(%s, %s)", (derived, name))
        await wait_until(lambda: len(app.table.order) == len(FORMULA_NAMES))
        # The CSV's senders column carries the hostile application name once it is looked up.
        await wait_until(
            lambda: app.model.sender(app.model.view(FORMULA_NAMES[0], time.time()).pids[0])
        )
        links = plant_links(exports, victims, time.time())
        await pilot.press("e")
        written = await eventually(
            lambda: len([p for p in exports.iterdir() if not p.is_symlink()]) == 2
        )
        status = _status(app)
        toasts = [str(n.message) for n in app._notifications]
    files = sorted(p for p in exports.iterdir() if not p.is_symlink())
    csv_rows: list[dict[str, str]] = []
    document: dict[str, Any] = {}
    for path in files:
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as source:
                csv_rows = list(csv.DictReader(source))
        else:
            document = json.loads(path.read_text())
    text_cells = [row[column] for row in csv_rows for column in ("node", "senders")]
    formulas = [cell for cell in text_cells if cell.startswith(FORMULA_STARTS)]
    json_names = sorted(node["node"] for node in document.get("nodes", []))
    exported_text = "".join(p.read_text() for p in files)
    victims_written = sorted(p.name for p in victims.iterdir())
    links_intact = all(
        link.is_symlink() and Path(os.readlink(link)) == target for link, target in links.items()
    )
    surfaces = [exported_text, status, *toasts]
    leaks = sum(secret.lower() in text.lower() for text in surfaces for secret in (cookie, derived))
    return {
        "csv_formulas": case(
            'Dashboard (Pilot, real worker) hears `=HYPERLINK("http://evil","x")@h`, `+cmd@h`,'
            " `-2+3@h` from a session named `=cmd|' /C calc'!A0`; `e` pressed; the CSV's node and"
            " senders cells read back.",
            {
                "export written": written,
                "node cells": [row["node"] for row in csv_rows],
                "a senders cell": next((row["senders"] for row in csv_rows if row["senders"]), ""),
                "cells starting a formula": len(formulas),
                "JSON names exact": json_names == sorted(FORMULA_NAMES),
            },
            written
            and not formulas
            and sorted(row["node"] for row in csv_rows) == sorted("'" + n for n in FORMULA_NAMES)
            and json_names == sorted(FORMULA_NAMES),
        ),
        "export_symlinks": case(
            f"Before that `e`, dangling symlinks named as every export of the next {len(links) // 2}"
            " seconds (`.json` and `.csv`) were planted in the export directory, pointing elsewhere.",
            {
                "links planted": len(links),
                "files written through a link": len(victims_written),
                "links intact": links_intact,
                "export files": [p.name for p in files],
            },
            written and not victims_written and links_intact and len(files) == 2,
        ),
        "cookie_in_dashboard": case(
            "The same dashboard's channel derived from `--cookie`: the status line, the toast and"
            " both export files searched for the cookie and the channel (case-insensitive).",
            {
                "channel in export header": document.get("channel", ""),
                "outputs with cookie or channel": leaks,
            },
            written
            and leaks == 0
            and str(document.get("channel", "")).startswith("(from the cookie"),
        ),
    }


def cookie_on_the_command_line(dsn: str) -> Case:
    """check, nodes, announce and watch with --cookie: the derived channel never shows."""
    cookie = f"Secret-{secrets.token_hex(8)}"
    derived = cookie.replace("-", "_")
    base = ("--dsn", dsn, "--cookie", cookie)
    with beating(dsn, derived, ["peer@10.0.0.1"], every=0.2):
        runs = {
            "nodes": cli(*base, "nodes", "--wait", "0.5"),
            "nodes --json": cli(*base, "nodes", "--json", "--wait", "0.5"),
            "check": cli(*base, "check", "--expect", "0", "--wait", "0.5"),
            "check --json": cli(*base, "check", "--expect", "0", "--wait", "0.5", "--json"),
            "announce": cli(*base, "announce", "a@10.0.0.1"),
            "watch --all": cli(*base, "watch", "--all", "--duration", "1"),
        }
    leaking = [
        name
        for name, result in runs.items()
        if derived.lower() in (result.stdout + result.stderr).lower()
        or cookie.lower() in (result.stdout + result.stderr).lower()
    ]
    failed = [name for name, result in runs.items() if result.returncode != 0]
    revealed = cli(*base, "--reveal-channel", "announce", "a@10.0.0.1")
    return case(
        "`nodes`, `nodes --json`, `check`, `check --json`, `announce` and `watch --all` with"
        " `--cookie` on the private server while a peer beats on the derived channel; stdout"
        " and stderr searched for the cookie and its"
        " channel (case-insensitive); then `announce --reveal-channel`, which must show it.",
        {
            "commands": len(runs),
            "exit not 0": failed,
            "outputs with cookie or channel": leaking,
            "--reveal-channel shows it": derived in revealed.stdout,
        },
        not failed and not leaking and derived in revealed.stdout,
    )


def password_in_dsn(found: Figures) -> Case:
    """The secrets scan's verdict, as a hostile case."""
    return case(
        "The Secrets figures above: `watch --json --all`, `nodes`, `announce`, `check` with the"
        " right and a wrong password, a URI and a malformed conninfo in `--dsn`; every output"
        " searched for the password.",
        {
            "outputs searched": found["outputs_searched"],
            "outputs with the password": found["outputs_with_password"],
        },
        found["outputs_searched"] > 0 and found["outputs_with_password"] == 0,
    )


def role_with_escapes(dsn: str) -> Case:
    """`watch --all` as a role (and hearing a peer) whose name is terminal escape sequences."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(HOSTILE_ROLE)))
    as_role = make_conninfo(dsn, user=HOSTILE_ROLE)
    channel = f"rel_{secrets.token_hex(4)}"
    with beating(as_role, channel, ["peer@10.0.0.1"], every=0.2):
        text = cli("--dsn", as_role, "--channel", channel, "watch", "--all", "--duration", "1.5")
        ndjson = cli(
            "--dsn", as_role, "--channel", channel, "watch", "--all", "--json", "--duration", "1.5"
        )
    outputs = [r.stdout + r.stderr for r in (text, ndjson)]
    naming = [line.split() for line in text.stdout.splitlines() if "\\x1b]52;c;" in line]
    kinds = sorted({words[1] for words in naming if len(words) > 1})
    usename = re.search(r"usename=(\S+)", text.stdout)
    return case(
        "A role named `h ESC]52;c;… BEL ESC[2J ESC]0;owned BEL ESC[31m` (clipboard write, clear"
        " screen, title) created on the server; `watch --all` and `watch --all --json` run as"
        " that role while a peer connected as that role beats.",
        {
            "exit codes": [text.returncode, ndjson.returncode],
            "raw control characters in output": sum(raw_controls(o) for o in outputs),
            "events naming the role, escaped": kinds,
            "usename shown as": usename.group(1) if usename else "",
            "NDJSON escapes it": "\\u001b]52" in ndjson.stdout,
        },
        text.returncode == 0
        and ndjson.returncode == 0
        and all(raw_controls(o) == 0 for o in outputs)
        and {"connected", "sender_attributed"} <= set(kinds)
        and "\\u001b]52" in ndjson.stdout,
    )


def names_heard(dsn: str) -> dict[str, Case]:
    """Invisible characters and mixed scripts in names heard by `nodes` on the real database."""
    channel = f"rel_{secrets.token_hex(4)}"
    names = list(dict.fromkeys([*INVISIBLE_NAMES.values(), *SCRIPT_NAMES]))
    with beating(dsn, channel, names, every=0.3):
        table = cli("--dsn", dsn, "--channel", channel, "nodes", "--wait", "1.5")
        listed = cli("--dsn", dsn, "--channel", channel, "nodes", "--json", "--wait", "1.5")
    rows = [line.split() for line in table.stdout.splitlines()[1:] if line.strip()]
    rendered = {row[1] for row in rows if len(row) > 1}
    invisible = [name for name in rendered if name.startswith("app")]  # not the Cyrillic аpp@…
    hidden_chars = {ch for name in INVISIBLE_NAMES.values() for ch in name if not ch.isascii()}
    raw_hidden = sorted(f"U+{ord(ch):04X}" for ch in hidden_chars if ch in table.stdout)
    not_plain_ascii = [n for n in invisible if not (n.isascii() and n.isprintable())]
    heard = [node["node"] for node in json.loads(listed.stdout or "[]")]
    flagged = [name for name in SCRIPT_NAMES if name in heard and mixed_scripts(name)]
    return {
        "invisible_characters": case(
            f"{len(INVISIBLE_NAMES)} names that all read `app@10.0.0.1` on a terminal (tag"
            " characters U+E0041/2,"
            " U+FE0F, U+00AD, U+034F, U+115F+U+1160, U+180E, U+3164, U+FFA0, U+2800, a real"
            " U+200B, the six characters `\\u200b`, and the plain name) beat on the private"
            " server; `nodes --wait 1.5` prints its table.",
            {
                "exit": table.returncode,
                "names sent": len(INVISIBLE_NAMES),
                "distinct names shown": len(invisible),
                "raw invisible characters in output": raw_hidden,
                "shown names not plain printable ASCII": not_plain_ascii,
                "literal \\u200b shown as": next((n for n in invisible if "\\\\" in n), ""),
            },
            table.returncode == 0
            and len(invisible) == len(INVISIBLE_NAMES)
            and not raw_hidden
            and not not_plain_ascii,
        ),
        "mixed_scripts": case(
            "`аpp@10.0.0.1` with a Cyrillic а, the Latin `app@10.0.0.1`, an all-Cyrillic and an"
            " accented Latin name beat; the names `nodes --json` heard are put to"
            " `core.text.mixed_scripts`.",
            {"heard": len(set(SCRIPT_NAMES) & set(heard)), "flagged": flagged},
            listed.returncode == 0
            and set(SCRIPT_NAMES) <= set(heard)
            and flagged == [CYRILLIC_A_NAME],
        ),
    }


def bad_keymaps(workdir: Path) -> Case:
    """Malformed or clashing PGCLUSTER_KEYS, in the environment and in an env file."""
    env_file = workdir / "keys.env"
    env_file.write_text("PGCLUSTER_KEYS={bad\n")
    nowhere = ("--dsn", "host=/nowhere")
    runs = {
        "{bad, dashboard": cli(*nowhere, env=clean_env(PGCLUSTER_KEYS="{bad")),
        "{bad, check": cli(
            *nowhere, "check", "--expect", "1", env=clean_env(PGCLUSTER_KEYS="{bad")
        ),
        "{bad, env file": cli(*nowhere, "--env-file", str(env_file), "check", "--expect", "1"),
        'announce on "q"': cli(*nowhere, env=clean_env(PGCLUSTER_KEYS='{"announce": "q"}')),
        "unknown id": cli(*nowhere, "nodes", env=clean_env(PGCLUSTER_KEYS='{"anounce": "n"}')),
    }
    return case(
        "`PGCLUSTER_KEYS={bad` for the dashboard and `check`, the same in an `--env-file`,"
        " `announce` remapped onto `q`, and a misspelt binding id for `nodes`.",
        {name: error_seen(result) for name, result in runs.items()},
        all(one_line_error(result) for result in runs.values()),
    )


def bad_settings(workdir: Path) -> Case:
    """`--interval nan` and `--env-file` given a directory."""
    runs = {
        "--interval nan": cli("--interval", "nan", "channel"),
        "--env-file DIR": cli("--env-file", str(workdir), "channel"),
    }
    return case(
        "`pgcluster-tui --interval nan channel` and `pgcluster-tui --env-file <a directory> channel`.",
        {name: error_seen(result) for name, result in runs.items()},
        all(one_line_error(result) for result in runs.values()),
    )


def env_file_garbage(workdir: Path) -> Case:
    """An env file with a misspelt setting and a garbage line still works, warning once each."""
    env_file = workdir / "typos.env"
    env_file.write_text("PGCLUSTER_CHANEL=x\ngarbage line\nPGCLUSTER_NODE=a@10.0.0.1\n")
    result = cli("--env-file", str(env_file), "channel")
    warnings = result.stderr.strip().splitlines()
    return case(
        "`channel --env-file F` where F holds `PGCLUSTER_CHANEL=x`, `garbage line` and a valid"
        " `PGCLUSTER_NODE`.",
        {
            "exit": result.returncode,
            "stderr": warnings,
            "node taken": "'a@10.0.0.1'" in result.stdout,
        },
        result.returncode == 0
        and len(warnings) == 2
        and all(line.startswith(PREFIX + "warning: ") for line in warnings)
        and "'a@10.0.0.1'" in result.stdout,
    )


def channel_the_database_cannot_carry(dsn: str) -> Case:
    """A non-ASCII channel on a SQL_ASCII database: watch stops with one line, announce works."""
    database = f"ascii_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} ENCODING 'SQL_ASCII' TEMPLATE template0").format(
                sql.Identifier(database)
            )
        )
        try:
            there = make_conninfo(dsn, dbname=database)
            watch = cli("--dsn", there, "--channel", "café", "watch", "--duration", "20")
            sent = cli("--dsn", there, "--channel", "café", "announce", "a@10.0.0.1")
        finally:
            admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(database)))
    return case(
        "`watch --channel café --duration 20` and `announce` on a `SQL_ASCII` database of the"
        " private server.",
        {"watch": error_seen(watch), "announce exit": sent.returncode},
        one_line_error(watch) and sent.returncode == 0,
    )


def closed_pipe(dsn: str) -> Case:
    """`watch | head -2` while nodes keep joining: watch ends quietly when head has gone."""
    channel = f"rel_{secrets.token_hex(4)}"
    watch = subprocess.Popen(
        [sys.executable, "-m", "pgcluster_tui", "--dsn", dsn, "--channel", channel, "watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=clean_env(),
        cwd=ROOT,
    )
    assert watch.stdout is not None
    assert watch.stderr is not None
    head = subprocess.Popen(["head", "-2"], stdin=watch.stdout, stdout=subprocess.PIPE)
    watch.stdout.close()  # head holds the only reading end, as in a shell pipeline
    names = [f"n{i}@10.0.0.1" for i in range(200)]
    try:
        with beating(dsn, channel, names, every=0.2):
            try:
                code: int | None = watch.wait(30)
            except subprocess.TimeoutExpired:
                code = None
        printed, _ = head.communicate(timeout=10)
        err = watch.stderr.read().decode(errors="replace")
    finally:
        for process in (watch, head):
            if process.poll() is None:
                process.kill()
                process.wait()
        watch.stderr.close()
    return case(
        "`watch | head -2` as a shell builds it (head holds the only reading end) while 200"
        " names beat every 0.2 s, so watch keeps writing after head has exited.",
        {
            "lines head printed": len(printed.splitlines()),
            "watch exit": code,
            "watch stderr lines": len(err.splitlines()),
            "last of them": (err.strip().splitlines() or [""])[-1],
        },
        len(printed.splitlines()) == 2 and code == 128 + signal.SIGPIPE and err == "",
    )


def no_database() -> Case:
    """check, nodes and announce with nothing configured refuse; no embedded server starts."""
    runs = {
        "check": cli("check", "--expect", "1"),
        "nodes": cli("nodes"),
        "announce": cli("announce"),
    }
    started = [name for name, r in runs.items() if "embedded PostgreSQL" in r.stderr]
    return case(
        "`check --expect 1`, `nodes` and `announce` with no `--dsn` and no PGCLUSTER_DSN,"
        " DATABASE_URL or PG* variable in the environment.",
        {
            **{name: error_seen(result) for name, result in runs.items()},
            "embedded started": started,
        },
        all(one_line_error(r) and "no database configured" in r.stderr for r in runs.values())
        and not started,
    )


def run_in_terminal(args: list[str], until: list[bytes], timeout: float = 40) -> tuple[bytes, int]:
    """Draw the dashboard in a 120x36 pseudo-terminal until it shows all of `until`; SIGTERM it."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the dashboard
        os.chdir(ROOT)
        env = clean_env(TERM="xterm-256color")
        try:
            os.execvpe(sys.executable, [sys.executable, "-m", "pgcluster_tui", *args], env)
        finally:
            os._exit(127)  # never run the parent's code in the child
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    output = bytearray()
    status: int | None = None

    def read_some() -> None:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            with contextlib.suppress(OSError):
                output.extend(os.read(fd, 65536))

    deadline = time.monotonic() + timeout
    while not all(marker in output for marker in until) and time.monotonic() < deadline:
        read_some()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while status is None and time.monotonic() < deadline:
        read_some()
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(code)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    os.close(fd)
    return bytes(output), status


def demo_on_a_database(dsn: str) -> Case:
    """`--demo 3 --dsn ... --channel C`: the simulated peers never reach C."""
    channel = f"Real_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        named = b"simulated peers use channel pgcluster_tui_demo_"
        drawn, code = run_in_terminal(
            ["--dsn", dsn, "--channel", channel, "--demo", "3"], [named, b"app1@10.0.0.11"]
        )
        heard = [n.payload for n in listener.notifies(timeout=1.0)]
    return case(
        f"The dashboard with `--dsn <private server> --channel {channel} --demo 3` in a"
        " pseudo-terminal (120x36) until it draws a demo peer, then SIGTERM; a plain session"
        " LISTENs on the channel meanwhile.",
        {
            "private channel named on screen": named in drawn,
            "demo peer drawn": b"app1@10.0.0.11" in drawn,
            "notifications on the real channel": len(heard),
            "exit": code,
        },
        named in drawn
        and b"app1@10.0.0.11" in drawn
        and not heard
        and code == 128 + signal.SIGTERM,
    )


def crashed(run: Callable[..., object], exc: Exception) -> Case:
    """A case that raised instead of observing: it fails, and says why."""
    return case(str(run.__doc__), {"raised": f"{type(exc).__name__}: {exc}"[:200]}, False)


async def hostile_cases(found_secrets: Figures | None = None) -> Figures:
    """Every hostile case of issue #10, on one private embedded server."""
    results: dict[str, Case] = {}
    with EmbeddedServer() as server, tempfile.TemporaryDirectory() as scratch:
        workdir, dsn = Path(scratch), server.dsn
        try:
            results.update(await dashboard_export(dsn, workdir))
        except Exception as exc:
            results["dashboard_export"] = crashed(dashboard_export, exc)
        try:
            results.update(names_heard(dsn))
        except Exception as exc:
            results["names_heard"] = crashed(names_heard, exc)
        found = found_secrets or secrets_scan()
        single: list[tuple[Callable[..., Case], tuple[Any, ...]]] = [
            (cookie_on_the_command_line, (dsn,)),
            (password_in_dsn, (found,)),
            (role_with_escapes, (dsn,)),
            (bad_keymaps, (workdir,)),
            (bad_settings, (workdir,)),
            (env_file_garbage, (workdir,)),
            (channel_the_database_cannot_carry, (dsn,)),
            (closed_pipe, (dsn,)),
            (no_database, ()),
            (demo_on_a_database, (dsn,)),
        ]
        for run, args in single:
            try:
                results[run.__name__] = run(*args)
            except Exception as exc:
                results[run.__name__] = crashed(run, exc)
    return results


async def main(only: set[str] | None = None) -> Figures:
    """Run every case (or only those named)."""
    figures: Figures = {}
    cases: dict[str, Callable[[], Figures | Awaitable[Figures]]] = {
        "forced_disconnects": forced_disconnects,
        "server_restarts": restarts_under_worker,
        "watch": watch_restarts_and_shutdown,
        "dashboard_restarts": dashboard_restarts,
        "dashboard_quit": dashboard_quit,
        "dashboard_flood": dashboard_flood,
        "hostile_payloads": hostile_payloads,
        "flood": flood,
        "announce_guard": announce_guard,
        "secrets": secrets_scan,
        "hostile": lambda: hostile_cases(figures.get("secrets")),
    }
    for name, run in cases.items():
        if only is None or name in only:
            result = run()
            figures[name] = await result if inspect.isawaitable(result) else result
    return figures


ABOUT = {
    "forced_disconnects": (
        "50 `pg_terminate_backend` calls, alternating our listening and sending sessions, while"
        " six peers beat every 0.2 s. Time to LISTEN again is from the terminate call to"
        " `Connected`. Each kill comes within seconds of the last, so each session died young and"
        " the backoff grows with the run of young deaths (0.5 s, 1 s, 2 s, ... up to"
        " `reconnect_max`): a server that keeps dropping us is not hammered."
    ),
    "server_restarts": (
        "The server stopped for 3.5 s (longer than the 3 s stale threshold) and started again,"
        " 5 times, under a running worker and model: ages freeze, nobody turns stale. While the"
        " server refuses connections the worker tries every 0.5 to 1 s here (`reconnect_max` 1 s;"
        " 1 to 2 s by default); time back is from the server accepting connections to `Connected`."
    ),
    "watch": (
        "`pgcluster-tui watch --json` started while the server was down, then 5 restarts, then"
        " Ctrl-C with the server frozen by SIGSTOP and with it stopped."
    ),
    "dashboard_restarts": (
        "The same restarts under the running dashboard: the status line shows the retry"
        " countdown each time, and no node is stale after an outage longer than the threshold."
    ),
    "dashboard_quit": "`q` in the dashboard with the server frozen (SIGSTOP) and with it stopped.",
    "dashboard_flood": (
        "200,000 notifications in one burst over 10,000 names into the dashboard while `p` is"
        " pressed every 50 ms; the slowest key answer and the memory growth."
    ),
    "hostile_payloads": (
        "Random Unicode, markup, ANSI/OSC escapes, right-to-left text, 0 to 7999 bytes, through"
        " the real database; every junk payload counted by reason. Property-based tests"
        " (hypothesis) in tests/reliability assert the literal rendering."
    ),
    "flood": "The same burst into the worker and model alone.",
    "announce_guard": "Names a libcluster node would crash on or misread, on the library paths.",
    "secrets": (
        "Every command with right and wrong passwords and malformed connection strings; the"
        " password searched for in every output."
    ),
}


TITLES = {
    "csv_formulas": "CSV export of formula-like names",
    "export_symlinks": "Export into a planted dangling symlink",
    "cookie_in_dashboard": "Channel from the cookie: dashboard and exports",
    "cookie_on_the_command_line": "Channel from the cookie: command line",
    "password_in_dsn": "Password in the DSN",
    "role_with_escapes": "Role name of escape sequences, `watch --all`",
    "invisible_characters": "Invisible characters and a literal backslash",
    "mixed_scripts": "Mixed-script name",
    "bad_keymaps": "Malformed PGCLUSTER_KEYS",
    "bad_settings": "`--interval nan`, `--env-file` a directory",
    "env_file_garbage": "Env file with unknown keys and garbage",
    "channel_the_database_cannot_carry": "Non-ASCII channel on a SQL_ASCII database",
    "closed_pipe": "`watch \\| head -2`",
    "no_database": "No database configured",
    "demo_on_a_database": "`--demo` with a DSN",
}

HOSTILE_ABOUT = (
    "The defects issue #10 found, each tried again. Every case runs the real command line"
    " (`python -m pgcluster_tui` as a subprocess, with no PGCLUSTER_*, PG* or cookie variables"
    " from this machine) or, for the dashboard's export, the dashboard under Textual's Pilot"
    " with its real worker; all of them against one private embedded PostgreSQL. Each result"
    " is computed from the observation shown. A one-line error means: exit 2, exactly one"
    " `pgcluster-tui: ` line on stderr, no traceback. Raw control characters are C0, DEL and"
    " C1 characters other than the newline."
)


def shown(value: Any) -> str:
    """An observed value as a Markdown table cell."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{key}: {shown(item)}" for key, item in value.items()) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(shown(item) for item in value) + "]" if value else "none"
    if isinstance(value, str):
        if not value:
            return "(empty)"
        # Only a failing case could have kept a raw control character: keep it off the page.
        text = "".join(ch if ch.isprintable() else f"<U+{ord(ch):04X}>" for ch in value)
        text = text.replace("|", "\\|")
        return f"`` {text} ``" if "`" in text else f"`{text}`"
    return str(value)


def hostile_section(cases: dict[str, Case]) -> list[str]:
    """The hostile cases as one table: how each ran, what it observed, pass or fail."""
    lines = ["## Hostile cases (issue #10)", "", HOSTILE_ABOUT, ""]
    lines += ["| case | how it is run | observed | result |", "|---|---|---|---|"]
    for name, record in cases.items():
        observed = "<br>".join(
            f"{key}: {shown(value)}" for key, value in record["observed"].items()
        )
        how = record["how"].replace("|", "\\|")
        verdict = "pass" if record["passed"] else "**FAIL**"
        lines.append(f"| {TITLES.get(name, name)} | {how} | {observed} | {verdict} |")
    return [*lines, ""]


def write_report(figures: Figures) -> None:
    """Write docs/RELIABILITY.md from the figures."""
    hostile: dict[str, Case] = figures.get("hostile", {})
    lines = [
        "# Reliability",
        "",
        "Generated by `python scripts/reliability.py`; every case ran on a private embedded",
        f"PostgreSQL. Machine: {platform.platform()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}.",
        "",
    ]
    if hostile:
        passed = sum(record["passed"] for record in hostile.values())
        lines += [
            f"Hostile cases of issue #10: {passed} of {len(hostile)} pass"
            " ([the table](#hostile-cases-issue-10)).",
            "",
        ]
    for name, values in figures.items():
        if name == "hostile":
            continue
        lines.append(f"## {name.replace('_', ' ').capitalize()}")
        lines.append("")
        if name in ABOUT:
            lines += [ABOUT[name], ""]
        lines.append("| figure | value |")
        lines.append("|---|---|")
        for key, value in values.items():
            lines.append(f"| {key.replace('_', ' ')} | {value} |")
        lines.append("")
    if hostile:
        lines += hostile_section(hostile)
    (ROOT / "docs" / "RELIABILITY.md").write_text("\n".join(lines))


def last_json_line(text: str) -> Figures:
    """The figures a run printed last, as one JSON object on a line of its own."""
    line = next(line for line in reversed(text.splitlines()) if line.startswith("{"))
    figures: Figures = json.loads(line)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report-from"]:
        # Rewrite the report from a run's output, without measuring again.
        write_report(last_json_line(Path(sys.argv[2]).read_text()))
        sys.exit(0)
    # --only NAME,...: run some cases and print their figures; the report is left as it is.
    only = set(sys.argv[2].split(",")) if sys.argv[1:2] == ["--only"] else None
    result = asyncio.run(main(only))
    for name, values in result.items():
        print(f"{name}: {values}")
    if only is None:
        write_report(result)
    print(json.dumps(result))
    failed = [name for name, record in result.get("hostile", {}).items() if not record["passed"]]
    sys.exit(1 if failed else 0)
