"""Frames on demand: at most one redraw per frame period, however many facts ask for one."""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable

from textual.message_pump import MessagePump

FRAME_SECONDS = 0.05
"""The least time between two frames that facts asked for: floods draw at most 20 frames/s."""


class Frames:
    """Coalesces requests for a redraw into frames, keeping most of the time for the data."""

    def __init__(
        self,
        pump: MessagePump,
        draw: Callable[[], None],
        draw_status: Callable[[], None],
    ) -> None:
        self._pump = pump
        self._draw = draw
        self._draw_status = draw_status
        self._dirty = False
        self._status_dirty = False
        self._pending = False
        self._drawn_at = 0.0
        self._draw_seconds = 0.0
        self._recent: deque[float] = deque(maxlen=5)
        self.count = 0
        """How many frames were drawn (coalescing keeps this low under floods)."""

    def want(self, *, status_only: bool = False) -> None:
        """Ask for a frame soon: at once if none was drawn lately, else when one is due."""
        if status_only:
            self._status_dirty = True
        else:
            self._dirty = True
        if self._pending:
            return
        self._pending = True
        # Under load a redraw can take a while: keep at most a fifth of the time for drawing.
        due = self._drawn_at + max(FRAME_SECONDS, 5 * self._draw_seconds)
        delay = due - time.monotonic()
        if delay > 0:
            self._pump.set_timer(delay, self.due, name="frame")
        else:
            self._pump.call_later(self.due)

    def drawn(self, started: float) -> None:
        """Record a full redraw that began at monotonic `started` (any caller's)."""
        self._dirty = self._status_dirty = False
        self._drawn_at = time.monotonic()
        # The median of the last draws: one slow frame (a burst of log lines) must not hold
        # the next ones back for five times its length.
        self._recent.append(self._drawn_at - started)
        self._draw_seconds = statistics.median(self._recent)
        self.count += 1

    @property
    def dirty(self) -> bool:
        """Whether something other than the status line waits for a frame."""
        return self._dirty

    def due(self) -> None:
        """Draw what was asked for since the last frame (called when the frame is due)."""
        self._pending = False
        if self._dirty:
            self._draw()
        elif self._status_dirty:
            self._status_dirty = False
            self._draw_status()
