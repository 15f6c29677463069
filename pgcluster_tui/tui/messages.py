"""Messages to the app: the end of the channel."""

from __future__ import annotations

from textual.message import Message


class ChannelClosed(Message):
    """The monitor's stream ended (it was stopped, or it failed with `error`)."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error
