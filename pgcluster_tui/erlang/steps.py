"""What the doctor reports: steps and their outcomes, and which node names it may probe."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_ALIVE = re.compile(r"[A-Za-z0-9_.-]{1,255}")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


class StepName(StrEnum):
    """The checks, in the order a connecting peer goes through them."""

    NAME = "name"
    RESOLVE = "resolve"
    EPMD = "epmd"
    CONNECT = "connect"
    HANDSHAKE = "handshake"


@dataclass(frozen=True, slots=True)
class Step:
    """One check's outcome: passed (True), failed (False) or skipped (None), and why."""

    step: StepName
    ok: bool | None
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """`step`, `ok`, `detail`, then what the step learned."""
        return {"step": self.step.value, "ok": self.ok, "detail": self.detail, **self.facts}


@dataclass(frozen=True, slots=True)
class Report:
    """Every step run for one node, ending at the first failure."""

    node: str
    steps: tuple[Step, ...]

    @property
    def ok(self) -> bool:
        """Whether no step failed."""
        return all(step.ok is not False for step in self.steps)

    @property
    def failed(self) -> Step | None:
        """The step that failed, if one did."""
        return next((step for step in self.steps if step.ok is False), None)

    def to_json(self) -> dict[str, Any]:
        """`node`, `ok`, `failed_step`, `steps`."""
        failed = self.failed
        return {
            "node": self.node,
            "ok": self.ok,
            "failed_step": failed.step.value if failed else None,
            "steps": [step.to_json() for step in self.steps],
        }


def split_node(node: str) -> tuple[str, str]:
    """Split `name@host` into parts safe to probe, or raise ValueError saying why not."""
    alive, at, host = node.partition("@")
    if not at:
        raise ValueError("no @ in the name")
    if not _ALIVE.fullmatch(alive):
        raise ValueError("the part before @ is not a node name (letters, digits, _ . - only)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
            raise ValueError("the host is neither an IP address nor a DNS name") from None
        return alive, host
    if address.is_unspecified or address.is_multicast:
        raise ValueError("the host is not an address a node can listen on")
    return alive, host


def is_long(host: str) -> bool:
    """Whether a host makes a long name (a dot or an IP address) as Erlang sees it."""
    return "." in host or ":" in host


class Pacer:
    """Spaces starts at least 1/rate seconds apart."""

    def __init__(
        self, rate: float, clock: Callable[[], float], sleep: Callable[[float], Awaitable[Any]]
    ):
        self._gap = 1.0 / rate if rate > 0 else 0.0
        self._next = -float("inf")
        self._clock = clock
        self._sleep = sleep

    async def wait(self) -> None:
        """Wait for our slot."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._gap
        if slot > now:
            await self._sleep(slot - now)


class Stage:
    """What a step is waiting for, to say so when its time runs out."""

    def __init__(self) -> None:
        self.waiting = ""


class StepFailed(Exception):
    """A step's failure, said in one line, with what it learned."""

    def __init__(self, detail: str, **facts: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.facts = facts
