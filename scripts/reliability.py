"""Measure how pgcluster-tui survives faults and abuse; write docs/RELIABILITY.md.

Every case runs on a private embedded PostgreSQL that this script starts and stops itself.
Run: python scripts/reliability.py
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

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
from pgcluster_tui.pg.embedded import EmbeddedServer  # noqa: E402
from pgcluster_tui.pg.worker import ChannelWorker, WorkerConfig, send_once  # noqa: E402
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


async def main() -> Figures:
    """Run every case."""
    figures: Figures = {}
    figures["forced_disconnects"] = await forced_disconnects()
    figures["server_restarts"] = await restarts_under_worker()
    figures["watch"] = watch_restarts_and_shutdown()
    figures["dashboard_restarts"] = await dashboard_restarts()
    figures["dashboard_quit"] = await dashboard_quit()
    figures["dashboard_flood"] = await dashboard_flood()
    figures["hostile_payloads"] = await hostile_payloads()
    figures["flood"] = await flood()
    figures["announce_guard"] = await announce_guard()
    figures["secrets"] = secrets_scan()
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


def write_report(figures: Figures) -> None:
    """Write docs/RELIABILITY.md from the figures."""
    lines = [
        "# Reliability",
        "",
        "Generated by `python scripts/reliability.py`; every case ran on a private embedded",
        f"PostgreSQL. Machine: {platform.platform()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}.",
        "",
    ]
    for case, values in figures.items():
        lines.append(f"## {case.replace('_', ' ').capitalize()}")
        lines.append("")
        if case in ABOUT:
            lines += [ABOUT[case], ""]
        lines.append("| figure | value |")
        lines.append("|---|---|")
        for key, value in values.items():
            lines.append(f"| {key.replace('_', ' ')} | {value} |")
        lines.append("")
    (ROOT / "docs" / "RELIABILITY.md").write_text("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report-from"]:
        # Rewrite the report from a run's last line, without measuring again.
        write_report(json.loads(Path(sys.argv[2]).read_text().strip().splitlines()[-2]))
        sys.exit(0)
    result = asyncio.run(main())
    for case, values in result.items():
        print(f"{case}: {values}")
    write_report(result)
    print(json.dumps(result))
