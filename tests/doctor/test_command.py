"""`pgcluster-tui doctor` as a subprocess: exit codes, JSON, names heard on the channel."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import sql

from tests.beating import beating
from tests.doctor.nodes import ErlangNode, erlang_node, needs_erlang

pytestmark = [needs_erlang, pytest.mark.timeout(60)]

COOKIE = f"Doc-{secrets.token_hex(8)}"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "pgcluster_tui", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command (exit 2, no traceback)."""
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
async def node() -> AsyncIterator[ErlangNode]:
    """A long-name node with COOKIE, stopped after the test."""
    async with erlang_node(COOKIE) as started:
        yield started


async def test_every_node_passing_exits_0_with_the_json_shape(node: ErlangNode) -> None:
    result = run("doctor", node.name, "--cookie", COOKIE, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["cookie_checked"] is True
    [checked] = document["nodes"]
    assert checked["node"] == node.name
    assert checked["failed_step"] is None
    assert [s["step"] for s in checked["steps"]] == ["resolve", "epmd", "connect", "handshake"]
    assert all(s["ok"] is True for s in checked["steps"])
    assert COOKIE not in result.stdout + result.stderr


async def test_a_rejected_cookie_exits_1_and_says_so(node: ErlangNode) -> None:
    result = run("doctor", node.name, env={"RELEASE_COOKIE": "wrong-cookie"})
    assert result.returncode == 1, result.stderr
    assert f"{node.name}  FAIL at handshake" in result.stdout
    assert "cookie rejected" in result.stdout
    assert "wrong-cookie" not in result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("0 of 1 node pass")


def test_a_name_that_fails_validation_is_refused_before_any_probe() -> None:
    line = one_error_line(run("doctor", "ok@127.0.0.1", "a@\x1b[2J"))
    assert "refusing to probe a@\\x1b[2J" in line


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "inf"])
def test_a_bad_timeout_is_refused(timeout: str) -> None:
    assert "--timeout" in one_error_line(run("doctor", "a@127.0.0.1", "--timeout", timeout))


def test_without_names_or_a_database_there_is_nothing_to_check() -> None:
    assert "name the nodes" in one_error_line(run("doctor"))


async def test_without_names_it_checks_the_nodes_heard_on_the_channel(
    node: ErlangNode, dsn: str, channel: str
) -> None:
    with beating(dsn, channel, [node.name], every=0.2):
        result = run(
            "doctor", "--dsn", dsn, "--channel", channel, "--wait", "1", "--cookie", COOKIE
        )
    assert result.returncode == 0, result.stderr
    assert f"{node.name}  OK" in result.stdout
    assert "cookie accepted" in result.stdout
    assert result.stdout.rstrip().endswith("1 of 1 node pass")


def test_no_node_heard_exits_1_and_the_doctor_never_sends(dsn: str, channel: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        result = run(
            "doctor", "--dsn", dsn, "--channel", channel, "--wait", "0.5", "--heartbeat", "--json"
        )
        heard = list(listener.notifies(timeout=0.2))
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["nodes"] == []
    assert document["ok"] is False
    assert "no node heard" in document["reason"]
    assert heard == []
