"""When a silent node turns late, suspect and stale, and how suspicious its silence is (phi)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pgcluster_tui.core.events import NodeState

MIN_INTERVAL = 0.5
"""Floor on an estimated interval, so a flooding sender cannot make thresholds vanish."""

WORSE = {
    NodeState.NEW: NodeState.LATE,
    NodeState.ALIVE: NodeState.LATE,
    NodeState.LATE: NodeState.SUSPECT,
    NodeState.SUSPECT: NodeState.STALE,
}
"""The state a silent node moves to next, by its state (stale is the last)."""

# Enum members as module names: reading them off the class costs ~50 ns each, per call.
_ALIVE, _LATE, _SUSPECT, _STALE = (
    NodeState.ALIVE,
    NodeState.LATE,
    NodeState.SUSPECT,
    NodeState.STALE,
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a silent node turns late, suspect and stale, as multiples of its interval."""

    interval: float = 5.0
    late: float = 1.5
    suspect: float = 3.0
    stale: float = 6.0

    def __post_init__(self) -> None:
        if not (self.interval > 0 and 1.0 <= self.late < self.suspect < self.stale):
            raise ValueError("thresholds need interval > 0 and 1 <= late < suspect < stale")

    def state_for(self, age: float, interval: float) -> NodeState:
        """The state a node silent for `age` seconds has reached, given its interval."""
        if age > self.stale * interval:
            return _STALE
        if age > self.suspect * interval:
            return _SUSPECT
        if age > self.late * interval:
            return _LATE
        return _ALIVE

    def worse_after(self, state: NodeState, interval: float) -> float:
        """The age at which a node in `state` crosses its next threshold (never, once stale)."""
        if state is _LATE:
            return self.suspect * interval
        if state is _SUSPECT:
            return self.stale * interval
        if state is _STALE:
            return math.inf
        return self.late * interval


def phi(age: float, interval: float, deviation: float) -> float:
    """Phi-accrual suspicion (Hayashibara et al.), with a floor on the deviation."""
    std = max(deviation * 1.25, 0.25 * interval, 0.1)
    y = (age - interval) / std
    exponent = -y * (1.5976 + 0.070566 * y * y)
    if exponent > 700:
        return 0.0
    if exponent < -700:
        return 300.0
    e = math.exp(exponent)
    if age > interval:
        return min(300.0, -math.log10(e / (1.0 + e)))
    return -math.log10(1.0 - 1.0 / (1.0 + e))
