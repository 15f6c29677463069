"""Frames on demand: rows on screen within a frame period, the rest within a slower one."""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable

from textual.message_pump import MessagePump

FRAME_SECONDS = 0.05
"""The least time between two frames that facts asked for: floods draw at most 20 frames/s."""

SOON_SECONDS = 0.25
"""The longest a change no row on screen shows waits: log lines, counts, rows off screen.

A wave of joins or of new nodes turning alive then costs a few frames a second, not one per
node, while a node that appears on screen is still drawn within FRAME_SECONDS.
"""

EARLY = 0.002
"""How early a timer may fire and still count as on time (Textual's may, by about 0.5 ms)."""


class Frames:
    """Coalesces requests for a redraw into frames, keeping most of the time for the data."""

    def __init__(
        self,
        pump: MessagePump,
        draw: Callable[[], None],
        draw_rows: Callable[[], bool],
        draw_status: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pump = pump
        self._clock = clock
        self._draw = draw
        self._draw_rows = draw_rows
        self._draw_status = draw_status
        self._rows_dirty = False
        self._dirty = False
        self._status_dirty = False
        self._timer_at: float | None = None
        self._drawn_at = 0.0
        self._rows_at = 0.0
        self._draw_seconds = 0.0
        self._recent: deque[float] = deque(maxlen=5)
        self.count = 0
        """How many frames were drawn (coalescing keeps this low under floods)."""

    def want(self, *, soon: bool = False, status_only: bool = False) -> None:
        """Ask for a frame: the rows within a frame period (a whole frame if one of those on
        screen changed), everything else within SOON_SECONDS; `soon` asks for the latter only."""
        if status_only:
            self._status_dirty = True
        else:
            self._dirty = True
            self._rows_dirty = self._rows_dirty or not soon
        self._schedule()

    def drawn(self, started: float) -> None:
        """Record a full redraw that began at `started` on the frames' clock (any caller's)."""
        self._rows_dirty = self._dirty = self._status_dirty = False
        self._drawn_at = self._clock()
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
        """Draw what is due now; ask for a timer for what is not yet."""
        now = self._clock()
        rows_at, soon_at, status_at = self._deadlines()
        if self._rows_dirty and now >= rows_at - EARLY:
            self._rows_dirty = False
            self._rows_at = now
            if self._draw_rows():  # a row on screen changed: the whole frame was drawn
                self._schedule()
                return
        if self._dirty and now >= soon_at - EARLY:
            self._draw()
        elif self._status_dirty and now >= status_at - EARLY:
            self._status_dirty = False
            self._draw_status()
        self._schedule()

    def _deadlines(self) -> tuple[float, float, float]:
        # Under load a redraw can take a while: keep at most a fifth of the time for drawing.
        pace = 5 * self._draw_seconds
        frame = self._drawn_at + max(FRAME_SECONDS, pace)
        return (
            max(frame, self._rows_at + FRAME_SECONDS),
            self._drawn_at + max(SOON_SECONDS, pace),
            frame,
        )

    def _schedule(self) -> None:
        rows_at, soon_at, status_at = self._deadlines()
        wanted = [
            at
            for at, dirty in (
                (rows_at, self._rows_dirty),
                (soon_at, self._dirty),
                (status_at, self._status_dirty),
            )
            if dirty
        ]
        if not wanted:
            return
        at = min(wanted)
        if self._timer_at is not None and self._timer_at <= at + EARLY:
            return  # a timer already fires by then
        self._timer_at = at
        delay = at - self._clock()
        if delay > 0:
            self._pump.set_timer(delay, lambda: self._fire(at), name="frame")
        else:
            self._pump.call_later(self._fire, at)

    def _fire(self, at: float) -> None:
        if self._timer_at == at:
            self._timer_at = None
        self.due()
