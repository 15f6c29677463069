"""The dashboard's doctor: one Doctor for the app, the nodes it is checking, their last reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr

from pgcluster_tui.erlang.doctor import Doctor
from pgcluster_tui.erlang.steps import Report
from pgcluster_tui.erlang.wire import WireError
from pgcluster_tui.tui.widgets.node_cells import Mark

TIMEOUT = 2.0
"""Seconds each step of a check may take."""

ALL_AT_MOST = 100
"""Nodes one press of doctor_all checks at most: every probe goes to a host a payload named."""

RUNNING: Mark = ("⋯", None)
"""The mark of a node being checked."""


@dataclass(frozen=True, slots=True)
class Checked:
    """A node's last report, and when it came."""

    report: Report
    at: float


def mark_of(report: Report) -> Mark:
    """The compact mark of a report: ✓, ✓? (passed without the cookie checked) or ✗ step."""
    failed = report.failed
    if failed is not None:
        return f"✗ {failed.step.value}", False
    skipped = any(step.ok is None for step in report.steps)
    return ("✓?" if skipped else "✓"), True


def verdict(report: Report) -> str:
    """One line for the event log and the details."""
    failed = report.failed
    if failed is not None:
        return f"FAIL at {failed.step.value}: {failed.detail}"
    if any(step.ok is None for step in report.steps):
        return "reachable; the cookie was not checked (no cookie configured)"
    return "OK: a peer with our cookie can connect"


class Doctoring:
    """One Doctor, so that its limit on probes at once and its pacing hold across key presses."""

    def __init__(self, cookie: SecretStr | None, nodes: int) -> None:
        self.doctor: Doctor | None = None
        self.problem: str | None = None
        """Why no node can be checked (the cookie cannot be digested), if so."""
        try:
            self.doctor = Doctor(
                cookie.get_secret_value() if cookie is not None else None, timeout=TIMEOUT
            )
        except WireError as exc:
            self.problem = f"The doctor cannot run: {exc}"
        self.running: set[str] = set()
        self._checked: dict[str, Checked] = {}
        self._nodes = nodes

    def start(self, names: Iterable[str]) -> list[str]:
        """Mark these nodes as being checked; return those that were not already."""
        fresh = [name for name in dict.fromkeys(names) if name not in self.running]
        self.running.update(fresh)
        return fresh

    def done(self, name: str, report: Report | None, at: float) -> None:
        """A check ended: keep its report (None: it broke, and nothing was learned)."""
        self.running.discard(name)
        if report is None:
            return
        self._checked.pop(name, None)
        self._checked[name] = Checked(report, at)
        while len(self._checked) > self._nodes:
            del self._checked[next(iter(self._checked))]

    def last(self, name: str) -> Checked | None:
        """The node's last report, if it was checked."""
        return self._checked.get(name)

    def mark(self, name: str) -> Mark | None:
        """What the table shows of the node's check, if anything."""
        if name in self.running:
            return RUNNING
        checked = self._checked.get(name)
        return mark_of(checked.report) if checked is not None else None

    def forget(self) -> None:
        """Drop every report (another channel is watched); checks running still end."""
        self._checked.clear()
