"""Regenerate screenshots/ (SVG and PNG) from the running dashboard on an embedded server.

    python scripts/screenshots.py [--out screenshots] [--size 140x36]
    python scripts/screenshots.py --png FILE.svg...   (only convert SVGs, e.g. test snapshots)

Shots: the demo cluster with a node in every state, a duplicate's details, the help screen,
the census (with sessions of other applications), the disconnected state.
The PNGs are drawn with DejaVu Sans Mono: Textual's SVG asks for Fira Code, and the fallback
cairosvg picks for it is proportional (columns drift, borders gap).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cairocffi  # cairosvg's own cairo binding
import cairosvg
import psycopg

from pgcluster_tui.core.events import NodeState
from pgcluster_tui.demo import DemoCluster
from pgcluster_tui.pg.embedded import EmbeddedServer
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.tui.screens.census import CensusScreen
from pgcluster_tui.tui.screens.details import DetailsScreen
from pgcluster_tui.wiring import new_monitor

CHANNEL = "realtime_cluster"
NEWCOMER = "newcomer@10.0.0.99"
TWIN = "twin@10.0.0.40"
"""The demo's duplicate name, whose details show two senders."""
WORST = {NodeState.LATE, NodeState.SUSPECT, NodeState.STALE}

OTHERS = (
    f'LISTEN "{CHANNEL}"',
    f"NOTIFY \"{CHANNEL}\", 'web1@10.0.1.17'",
    'LISTEN "MyApp"',
    "NOTIFY MyApp, 'myapp@10.0.2.5'",
)
"""Statements of other applications' sessions for the census: a healthy cluster, and one whose
unquoted NOTIFY lands on another channel than its LISTEN."""

FONT = "DejaVu Sans Mono"
ASCENT, DESCENT = 1901 / 2048, 483 / 2048
"""DejaVu Sans Mono's ascent and descent, in ems."""

CELL = 0.61
"""Textual's SVG puts cells 0.61 font sizes apart."""

_MATRIX = re.compile(
    r"(\.terminal(?:-\d+)?-matrix \{.*?font-family:)[^;]*;\s*font-size:\s*([\d.]+)px;"
    r"\s*line-height:\s*([\d.]+)px;",
    re.S,
)
_TEXT_Y = re.compile(r'(<text class="terminal(?:-\d+)?-r\d+" x="[\d.]+" y=")([\d.]+)"')
_FIRST_CLIP_TOP = re.compile(r'<clipPath id="terminal(?:-\d+)?-line-0">\s*<rect x="0" y="([\d.]+)"')
"""Textual's SVG names its classes and clips terminal-…, or terminal-<hash>-… in screenshots."""


def check_font() -> None:
    """Stop with how to install the font if fontconfig does not know it."""
    if shutil.which("fc-list") is None:
        return  # no fontconfig tools to ask; cairo still goes through fontconfig
    found = subprocess.run(["fc-list", f":family={FONT}"], capture_output=True, text=True)
    if not found.stdout.strip():
        raise SystemExit(
            f"screenshots: the {FONT} font is missing, and without a monospace font the PNGs "
            "are drawn in a proportional one. Install it (Debian/Ubuntu: apt-get install "
            "fonts-dejavu-core; Fedora: dnf install dejavu-sans-mono-fonts; macOS: brew install "
            "--cask font-dejavu) and run again."
        )


def _metrics(font: float) -> tuple[float, float]:
    """The advance and ascent cairo will draw DejaVu Sans Mono with at `font` px (it rounds
    both to whole pixels: the font's own ratios would drift a pixel every few cells)."""
    context = cairocffi.Context(cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 1, 1))
    context.select_font_face(FONT)
    context.set_font_size(font)
    return float(context.text_extents("M")[4]), float(context.font_extents()[0])


def monospace(svg: str) -> str:
    """Textual's SVG with its terminal text in DejaVu Sans Mono, fitted to Textual's grid.

    The font is sized so that a block glyph fills the line pitch (borders and bars join up),
    letters are spaced back to Textual's cell width, and each line's text moves down so its
    glyphs sit inside the strip that line is clipped to.
    """
    matrix = _MATRIX.search(svg)
    first_clip = _FIRST_CLIP_TOP.search(svg)
    first_text = _TEXT_Y.search(svg)
    if matrix is None or first_clip is None or first_text is None:
        raise SystemExit("screenshots: Textual's SVG changed shape; update monospace()")
    size, pitch = float(matrix.group(2)), float(matrix.group(3))
    font = pitch / (ASCENT + DESCENT)
    advance, ascent = _metrics(font)
    spacing = CELL * size - advance
    drop = float(first_clip.group(1)) + ascent - float(first_text.group(2))
    style = f"{matrix.group(1)} '{FONT}'; font-size: {font:.3f}px; line-height: {pitch}px;"
    svg = svg[: matrix.start()] + style + svg[matrix.end() :]
    # An attribute: cairosvg does not take letter-spacing from a class.
    return _TEXT_Y.sub(
        lambda m: f'{m.group(1)}{float(m.group(2)) + drop:.3f}" letter-spacing="{spacing:.3f}"',
        svg,
    )


def to_png(svg: Path) -> Path:
    """Write svg's PNG next to it, drawn in the monospace font."""
    png = svg.with_suffix(".png")
    cairosvg.svg2png(bytestring=monospace(svg.read_text()).encode(), write_to=str(png))
    return png


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
    print(f"wrote {svg} and {to_png(svg)}")


async def shoot(server: EmbeddedServer, out: Path, size: tuple[int, int]) -> None:
    """Run the demo and capture each shot."""
    settings = Settings(channel=CHANNEL, node="pgcluster_tui@ops-laptop", heartbeat=True)
    demo = DemoCluster(server.dsn, CHANNEL, 8)
    monitor = new_monitor(settings, server.dsn)
    app = PgClusterApp(settings, monitor, demo=demo, embedded_dsn=server.dsn, conninfo=server.dsn)
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

        if not app.table.select(TWIN):
            raise SystemExit(f"screenshots: {TWIN} is not in the table")
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DetailsScreen), 5, "the details")
        await pilot.pause()
        save(app, out, "details")
        await pilot.press("escape")
        app.table.move_cursor(0)

        await pilot.press("question_mark")
        await wait_for(lambda: app.help_panel.display, 5, "the help")
        await pilot.pause()
        save(app, out, "help")
        await pilot.press("escape")

        async with contextlib.AsyncExitStack() as sessions:
            for statement in OTHERS:
                conn = await psycopg.AsyncConnection.connect(
                    server.dsn, autocommit=True, application_name="realtime"
                )
                sessions.push_async_callback(conn.close)
                await conn.execute(statement.encode())
            await pilot.press("C")
            await wait_for(
                lambda: isinstance(app.screen, CensusScreen) and app.screen.census is not None,
                10,
                "the census",
            )
            await pilot.pause()
            save(app, out, "census")
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
    parser.add_argument("--png", nargs="+", type=Path, help="only convert these SVGs to PNG")
    args = parser.parse_args(argv)
    check_font()
    if args.png:
        for svg in args.png:
            print(f"wrote {to_png(svg)}")
        return 0
    width, height = (int(part) for part in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    with EmbeddedServer() as server:
        asyncio.run(shoot(server, args.out, (width, height)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
