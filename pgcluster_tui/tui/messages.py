"""Messages to the app: facts from elsewhere (a replay), and the end of the channel."""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message

from pgcluster_tui.core.events import Notification
from pgcluster_tui.pg.worker import Fact


class FactsArrived(Message):
    """A batch of notifications and events arrived, in order (the live worker applies directly)."""

    def __init__(self, facts: Sequence[Fact | Notification]) -> None:
        super().__init__()
        self.facts = facts


class ChannelClosed(Message):
    """The worker's stream ended (it was stopped, or it failed with `error`)."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error
