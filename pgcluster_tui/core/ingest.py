"""Feed worker facts into the membership model, in order, and return what happened."""

from __future__ import annotations

from collections.abc import Sequence

from pgcluster_tui.core.events import (
    Connected,
    Disconnected,
    Event,
    Heard,
    Notification,
    SenderAttributed,
)
from pgcluster_tui.core.membership import Membership


def ingest(model: Membership, facts: Sequence[Heard | Notification | Event]) -> list[Event]:
    """Apply notifications to the model; freeze on disconnect, resume on connect; pass events on."""
    out: list[Event] = []
    run: list[Notification] = []
    for fact in facts:
        if type(fact) is Notification:
            run.append(fact)
            continue
        if run:
            out.extend(model.observe_many(run))
            run = []
        if type(fact) is Heard:
            out.extend(model.observe_heard(fact))
            continue
        if isinstance(fact, Connected):
            model.resume(fact.at)
        elif isinstance(fact, Disconnected):
            model.freeze(fact.at)
        elif isinstance(fact, SenderAttributed):
            model.attribute(fact)
        if isinstance(fact, Event):
            out.append(fact)
    if run:
        out.extend(model.observe_many(run))
    return out
