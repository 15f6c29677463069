"""When to reconnect: a pure policy over what ended the last try, with injected randomness."""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import StrEnum

STABLE_SESSION_SECONDS = 10.0
"""A session shorter than this died young: young deaths in a row lengthen the backoff."""

AFTER_STABLE_SESSION = 0.2
"""Seconds before reconnecting after a session that lasted: a restart is followed at once."""

WHILE_REFUSED = (1.0, 2.0)
"""Seconds between tries while the server refuses connections (down, starting, stopping)."""

FIRST_BACKOFF = 0.5
"""Seconds of the first exponential step; each further step doubles it, up to the cap."""


class Failure(StrEnum):
    """Why a connection attempt failed, as far as the retry timing cares."""

    REFUSED = "refused"
    """The server is not accepting connections yet or any more: try again soon, and often."""
    LOAD = "load"
    """The server is up but refused us for load (too many connections): back off."""
    CONFIG = "config"
    """Authentication, a missing database or role, TLS: back off; it needs a human."""


class ReconnectPolicy:
    """The delay before the next connection attempt.

    `attempt` counts tries since the last session that opened; `exponent` counts the
    steps of exponential backoff, which only load, configuration and young deaths take.
    """

    def __init__(
        self,
        cap: float = 30.0,
        *,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.cap = cap
        self.attempt = 0
        self.exponent = 0
        self._young_deaths = 0
        self._uniform = uniform

    def session_ended(self, lasted: float) -> float:
        """The delay after a session that was open for `lasted` seconds."""
        self.attempt = 0
        if lasted >= STABLE_SESSION_SECONDS:
            self._young_deaths = 0
            self.exponent = 0
            return AFTER_STABLE_SESSION
        self._young_deaths += 1
        self.exponent = self._young_deaths
        return self._exponential()

    def attempt_failed(self, failure: Failure) -> float:
        """The delay after a connection attempt that failed for this reason."""
        self.attempt += 1
        if failure is Failure.REFUSED:
            # Under a cap below the usual interval, keep the jitter: many clients must not sync.
            high = min(WHILE_REFUSED[1], self.cap)
            low = min(WHILE_REFUSED[0], high / 2)
            return float(self._uniform(low, high))
        self.exponent += 1
        return self._exponential()

    def _exponential(self) -> float:
        base = min(self.cap, FIRST_BACKOFF * 2 ** (self.exponent - 1))
        return float(min(self.cap, base * self._uniform(0.8, 1.2)))
