"""Messages to the app: the end of a channel, a channel left, a doctor's report."""

from __future__ import annotations

from textual.message import Message

from pgcluster_tui.core.monitor import Monitor
from pgcluster_tui.erlang.steps import Report


class ChannelClosed(Message):
    """The monitor's stream ended (it was stopped, or it failed with `error`)."""

    def __init__(self, error: str | None = None, monitor: Monitor | None = None) -> None:
        super().__init__()
        self.error = error
        self.monitor = monitor


class ChannelStopped(Message):
    """The monitor was stopped to watch `channel` instead."""

    def __init__(self, channel: str) -> None:
        super().__init__()
        self.channel = channel


class DoctorReported(Message):
    """A node's check ended: its report, or why it broke (`error`)."""

    def __init__(self, name: str, report: Report | None, error: str = "") -> None:
        super().__init__()
        self.name = name
        self.report = report
        self.error = error
