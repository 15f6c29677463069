"""The doctor against real Erlang nodes, a real EPMD, and ports that refuse or stay silent."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pgcluster_tui.erlang import wire
from pgcluster_tui.erlang.doctor import Doctor
from pgcluster_tui.erlang.steps import Report
from tests.doctor.nodes import (
    ErlangNode,
    erlang_node,
    free_port,
    needs_erlang,
    registered,
    silent_listener,
    watching_node,
)

pytestmark = [needs_erlang, pytest.mark.timeout(60)]

COOKIE = f"C{secrets.token_hex(8)}"


@pytest.fixture
async def node() -> AsyncIterator[ErlangNode]:
    """A long-name node with COOKIE, stopped after the test."""
    async with erlang_node(COOKIE) as started:
        yield started


def steps(report: Report) -> list[tuple[str, bool | None]]:
    """(step, ok) in order."""
    return [(step.step.value, step.ok) for step in report.steps]


async def test_the_right_cookie_completes_the_handshake_as_a_hidden_node(
    node: ErlangNode,
) -> None:
    report = await Doctor(COOKIE).check(node.name)
    assert report.ok, report
    assert steps(report) == [
        ("resolve", True),
        ("epmd", True),
        ("connect", True),
        ("handshake", True),
    ]
    resolve, epmd, connect, handshake = report.steps
    assert resolve.facts["ipv4"] == ["127.0.0.1"]
    assert epmd.facts["port"] == node.port == connect.facts["port"]
    assert epmd.facts["node_type"] == "normal"
    assert handshake.facts["peer"] == node.name
    assert handshake.facts["hidden"] is True
    assert handshake.facts["ours"].endswith("@127.0.0.1")  # a long name, as the node's
    assert "cookie accepted" in handshake.detail


async def test_the_node_itself_sees_a_hidden_node_come_and_go() -> None:
    async with watching_node(COOKIE) as (node, seen):
        report = await Doctor(COOKIE).check(node.name)
        ours = report.steps[-1].facts["ours"]
        up = await asyncio.wait_for(seen.readline(), 10)
        down = await asyncio.wait_for(seen.readline(), 10)
    assert report.ok
    assert up.decode().strip() == f"{{nodeup,'{ours}',[{{node_type,hidden}}]}}"
    assert down.decode().strip() == f"{{nodedown,'{ours}',[{{node_type,hidden}}]}}"


async def test_a_wrong_cookie_is_rejected(node: ErlangNode) -> None:
    report = await Doctor("not-the-cookie").check(node.name)
    assert not report.ok
    assert steps(report)[-1] == ("handshake", False)
    assert report.steps[-1].detail.startswith("cookie rejected")


async def test_the_cookie_never_goes_on_the_wire(
    node: ErlangNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[bytes] = []
    write = asyncio.StreamWriter.write

    def recording(self: asyncio.StreamWriter, data: Any) -> None:
        sent.append(bytes(data))
        write(self, data)

    monkeypatch.setattr(asyncio.StreamWriter, "write", recording)
    report = await Doctor(COOKIE).check(node.name)
    assert report.ok
    wire_bytes = b"".join(sent)
    assert wire_bytes.startswith(wire.port_please2_req(node.name.partition("@")[0]))
    assert b"r" in wire_bytes  # the challenge reply went out
    assert COOKIE.encode() not in wire_bytes


async def test_without_a_cookie_the_handshake_is_skipped(node: ErlangNode) -> None:
    report = await Doctor(None).check(node.name)
    assert report.ok
    assert steps(report)[-1] == ("handshake", None)
    assert "no cookie" in report.steps[-1].detail


async def test_a_name_epmd_does_not_know_fails_at_epmd_and_lists_what_it_knows(
    node: ErlangNode,
) -> None:
    report = await Doctor(COOKIE).check(f"nobody{secrets.token_hex(4)}@127.0.0.1")
    assert steps(report) == [("resolve", True), ("epmd", False)]
    assert "does not know the name" in report.steps[-1].detail
    assert node.name.partition("@")[0] in report.steps[-1].detail


async def test_asking_for_the_node_under_another_host_fails_the_handshake(
    node: ErlangNode,
) -> None:
    alive = node.name.partition("@")[0]
    report = await Doctor(COOKIE).check(f"{alive}@localhost")
    assert steps(report)[-1] == ("handshake", False)
    detail = report.steps[-1].detail
    assert f"calls itself {node.name}, not {alive}@localhost" in detail
    assert "long names (-name)" in detail


async def test_a_closed_distribution_port_fails_at_connect() -> None:
    async with registered() as name:
        report = await Doctor(COOKIE).check(name)
    assert steps(report) == [("resolve", True), ("epmd", True), ("connect", False)]
    assert "connection refused" in report.steps[-1].detail


async def test_a_port_that_does_not_speak_erlang_fails_the_handshake() -> None:
    async with silent_listener(says=b"\x00\x10HTTP/1.1 400 Bad") as port, registered(port) as name:
        report = await Doctor(COOKIE).check(name)
    assert steps(report)[-1] == ("handshake", False)
    assert report.steps[-1].detail.startswith("not the distribution protocol: not a status")


async def test_an_epmd_that_answers_junk_fails_at_epmd() -> None:
    async with silent_listener(says=b"HTTP/1.1 400 Bad Request\r\n") as port:
        report = await Doctor(None, epmd_port=port).check("t1@127.0.0.1")
    assert steps(report) == [("resolve", True), ("epmd", False)]
    assert "answered, but not as EPMD does" in report.steps[-1].detail


async def test_an_unresolvable_host_fails_at_resolve() -> None:
    report = await Doctor(COOKIE).check("x@nonexistent.invalid")
    assert steps(report) == [("resolve", False)]
    assert "nonexistent.invalid" in report.steps[0].detail


async def test_an_epmd_that_does_not_answer_times_out_within_the_step() -> None:
    async with silent_listener() as port:
        started = time.monotonic()
        report = await Doctor(COOKIE, timeout=0.5, epmd_port=port).check("t1@127.0.0.1")
        took = time.monotonic() - started
    assert steps(report) == [("resolve", True), ("epmd", False)]
    assert "no answer within 0.5 s" in report.steps[-1].detail
    assert "silent" in report.steps[-1].detail
    assert took < 2


async def test_no_epmd_at_all_is_said_as_such() -> None:
    report = await Doctor(None, epmd_port=free_port()).check("t1@127.0.0.1")
    assert steps(report) == [("resolve", True), ("epmd", False)]
    assert "EPMD does not run there" in report.steps[-1].detail


async def test_an_invalid_name_is_never_probed() -> None:
    report = await Doctor(COOKIE).check("a@\x1b[2J")
    assert steps(report) == [("name", False)]
    assert report.steps[0].detail.startswith("not probed")


async def test_many_nodes_in_order_bounded_and_paced(node: ErlangNode) -> None:
    names = [node.name, "x@nonexistent.invalid", "bad name@x"] * 3
    started = time.monotonic()
    reports = await Doctor(COOKIE, concurrency=2, rate=20).check_all(names)
    assert [r.node for r in reports] == names
    assert [r.ok for r in reports] == [True, False, False] * 3
    # 6 probes (the invalid names are never paced) at 20 a second: at least 5 gaps of 50 ms.
    assert time.monotonic() - started >= 0.25
