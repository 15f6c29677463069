"""Build the core's pieces from the settings: one place for the headless commands and the TUI."""

from __future__ import annotations

import time
from collections.abc import Callable

from pgcluster_tui.core.membership import Membership
from pgcluster_tui.core.monitor import Monitor
from pgcluster_tui.pg.worker import ChannelWorker, WorkerConfig
from pgcluster_tui.settings import Settings


def worker_config(settings: Settings, conninfo: str) -> WorkerConfig:
    """The worker's part of the settings."""
    return WorkerConfig(
        conninfo=conninfo,
        channel=settings.channel,
        node=settings.node,
        interval=settings.interval,
        heartbeat=settings.heartbeat,
        probe_interval=settings.probe_interval,
        reconnect_max=settings.reconnect_max,
        connect_timeout=settings.connect_timeout,
        application_name=settings.application_name,
    )


def new_model(settings: Settings) -> Membership:
    """A membership model configured from the settings."""
    return Membership(settings.thresholds(), self_name=settings.node, max_nodes=settings.max_nodes)


def new_monitor(
    settings: Settings, conninfo: str, *, clock: Callable[[], float] = time.time
) -> Monitor:
    """A Monitor on the channel the settings name, over a PostgreSQL worker."""
    worker = ChannelWorker(worker_config(settings, conninfo), clock=clock)
    return Monitor(worker, new_model(settings), clock=clock)
