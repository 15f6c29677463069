"""Our own link to the server, as a pure reducer over the worker's facts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pgcluster_tui.core.events import (
    Connected,
    Connecting,
    Disconnected,
    Event,
    HeartbeatSent,
    HeartbeatToggled,
    ListenerBehind,
    ListenerHealthy,
    ListenerSilent,
    NotificationsDropped,
    ProbeMeasured,
    QueueUsageMeasured,
    RetryScheduled,
    SendFailed,
)

Phase = Literal["connecting", "connected", "disconnected", "stopped"]


@dataclass(frozen=True, slots=True)
class LinkState:
    """What we know about our own connection at one instant; every field comes from a fact."""

    phase: Phase = "connecting"
    target: str = ""
    server_version: str = ""
    user: str = ""
    reason: str = ""
    attempt: int = 0
    retry_at: float | None = None
    rtt_ms: float | None = None
    listener_silent: bool = False
    listener_behind: ListenerBehind | None = None
    """Since when, and behind how much, our probes are late while notifications arrive."""
    queue_usage: float | None = None
    sessions: int = 0
    listener_pid: int | None = None
    sender_pid: int | None = None
    heartbeat: bool = False
    next_beat_at: float | None = None
    dropped: int = 0

    @property
    def connected(self) -> bool:
        """Whether both connections are open and LISTEN ran."""
        return self.phase == "connected"

    @property
    def reconnects(self) -> int:
        """Sessions opened after the first one."""
        return max(0, self.sessions - 1)

    @property
    def healthy(self) -> bool:
        """Connected, and the listener's probes come back."""
        return self.connected and not self.listener_silent


def reduce(state: LinkState, fact: Event) -> LinkState:
    """The link state after one fact; facts that say nothing about the link leave it as is."""
    match fact:
        case Connecting(target=target, attempt=attempt):
            return replace(state, phase="connecting", target=target, attempt=attempt, retry_at=None)
        case Connected():
            return replace(
                state,
                phase="connected",
                target=fact.target,
                server_version=fact.server_version,
                user=fact.user,
                reason="",
                retry_at=None,
                listener_silent=False,
                listener_behind=None,
                sessions=state.sessions + 1,
                listener_pid=fact.listener_pid,
                sender_pid=fact.sender_pid,
            )
        case Disconnected(reason=reason, final=final):
            phase: Phase = "stopped" if final or reason == "stopped" else "disconnected"
            return replace(
                state,
                phase=phase,
                reason="" if reason == "stopped" else reason,
                rtt_ms=None,
                listener_behind=None,
                next_beat_at=None,
                listener_pid=None,
                sender_pid=None,
            )
        case RetryScheduled():
            return replace(state, retry_at=fact.retry_at, attempt=fact.attempt)
        case ProbeMeasured(rtt_ms=rtt):
            return state if state.rtt_ms == rtt else replace(state, rtt_ms=rtt)
        case ListenerSilent():
            return replace(state, listener_silent=True, listener_behind=None)
        case ListenerBehind():
            return replace(state, listener_silent=False, listener_behind=fact)
        case ListenerHealthy(rtt_ms=rtt):
            return replace(state, listener_silent=False, listener_behind=None, rtt_ms=rtt)
        case QueueUsageMeasured(usage=usage):
            return state if state.queue_usage == usage else replace(state, queue_usage=usage)
        case HeartbeatToggled(on=on):
            return replace(state, heartbeat=on, next_beat_at=None)
        case HeartbeatSent(manual=False, next_at=next_at):
            return replace(state, next_beat_at=next_at)
        case SendFailed(next_at=next_at) if next_at is not None:
            return replace(state, next_beat_at=next_at)
        case NotificationsDropped(count=count):
            return replace(state, dropped=state.dropped + count)
    return state
