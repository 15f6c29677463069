"""Run the dashboard: the monitor and the demo are built here and handed to the app."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from pgcluster_tui.demo import DemoCluster
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.wiring import new_monitor


def run_dashboard(
    settings: Settings,
    conninfo: str,
    demo: int = 0,
    embedded_dsn: str | None = None,
    *,
    on_start: Callable[[PgClusterApp], None] | None = None,
) -> int:
    """Run the dashboard until the user quits; return the exit code."""
    peers = DemoCluster(conninfo, settings.channel, demo) if demo > 0 else None
    app = PgClusterApp(
        settings,
        new_monitor(settings, conninfo),
        demo=peers,
        embedded_dsn=embedded_dsn,
        conninfo=conninfo,
        monitor_for=partial(new_monitor, conninfo=conninfo),
    )
    if on_start is not None:
        on_start(app)
    app.run()
    return app.return_code or 0
