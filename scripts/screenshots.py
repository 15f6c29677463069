"""Regenerate screenshots/ (SVG and PNG) from the running dashboard on an embedded server.

    python scripts/screenshots.py [--out screenshots] [--size 140x36]

Shots: the demo cluster with a node in every state, the help screen, the disconnected state.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cairosvg
import psycopg

from pgcluster_tui.core.events import NodeState
from pgcluster_tui.demo import DemoCluster
from pgcluster_tui.pg.embedded import EmbeddedServer
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.tui.screens.help import HelpScreen
from pgcluster_tui.wiring import new_monitor

CHANNEL = "realtime_cluster"
NEWCOMER = "newcomer@10.0.0.99"
WORST = {NodeState.LATE, NodeState.SUSPECT, NodeState.STALE}


async def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll until the condition holds; fail loudly after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


def save(app: PgClusterApp, out: Path, name: str) -> None:
    """Write `name`.svg and `name`.png."""
    svg = out / f"{name}.svg"
    app.save_screenshot(filename=svg.name, path=str(out))
    cairosvg.svg2png(url=str(svg), write_to=str(out / f"{name}.png"))
    print(f"wrote {svg} and {svg.with_suffix('.png')}")


async def shoot(server: EmbeddedServer, out: Path, size: tuple[int, int]) -> None:
    """Run the demo and capture each shot."""
    settings = Settings(channel=CHANNEL, node="pgcluster_tui@ops-laptop", heartbeat=True)
    demo = DemoCluster(server.dsn, CHANNEL, 8)
    monitor = new_monitor(settings, server.dsn)
    app = PgClusterApp(settings, monitor, demo=demo, embedded_dsn=server.dsn)
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.link.phase == "connected", 10, "the connection")

        def every_state() -> bool:
            counts = app.model.counts()
            silent = "silent@10.0.0.12" in app.model and app.model.state("silent@10.0.0.12")
            return set(counts) >= WORST and NodeState.ALIVE in counts and silent is NodeState.STALE

        await wait_for(every_state, 90, "late, suspect and stale at once")
        async with await psycopg.AsyncConnection.connect(server.dsn, autocommit=True) as conn:
            await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, NEWCOMER))
        await wait_for(lambda: NEWCOMER in app.model, 5, "the newcomer")
        app.tick()
        await pilot.pause()
        if not every_state():
            raise SystemExit("screenshots: the states moved on; run again")
        app.table.move_cursor(0)
        await pilot.pause()
        save(app, out, "dashboard")

        await pilot.press("question_mark")
        await wait_for(lambda: isinstance(app.screen, HelpScreen), 5, "the help screen")
        await pilot.pause()
        save(app, out, "help")
        await pilot.press("escape")

        await asyncio.to_thread(server.stop_server)
        await wait_for(lambda: app.link.retry_at is not None, 15, "the disconnect")
        app.tick()
        await pilot.pause()
        save(app, out, "disconnected")
        await pilot.press("q")


def main(argv: list[str] | None = None) -> int:
    """Start an embedded server, take the shots, stop everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "screenshots")
    parser.add_argument("--size", default="140x36", help="terminal WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    width, height = (int(part) for part in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    with EmbeddedServer() as server:
        asyncio.run(shoot(server, args.out, (width, height)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
