"""`pgcluster-tui serve` as a subprocess against a real PostgreSQL and real heartbeats."""

from __future__ import annotations

import re
import secrets
import socket
import subprocess

import psycopg

from tests.beating import beating
from tests.serve.support import get, node_values, series, serving, tool
from tests.test_cli import PASSWORD, UNREACHABLE, assert_one_clean_line, run
from tests.waiting import wait_until_sync

NODES = ["a@10.0.0.1", 'q"uo\\te{x="1"}@h']
JUNK = ["not a node", "[bold]x@", "x@y z", "\x1b[2J@h", ""]


def notify(dsn: str, channel: str, payloads: list[str]) -> None:
    """Send each payload once on the channel."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for payload in payloads:
            conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


def test_serve_exposes_real_heartbeats_never_junk_and_passes_promtool(
    dsn: str, channel: str
) -> None:
    promtool = tool("promtool")
    with (
        serving("--dsn", dsn, "--channel", channel, "--interval", "0.5") as served,
        beating(dsn, channel, NODES, every=0.2),
    ):
        wait_until_sync(lambda: get(served.url + "/healthz")[0] == 200, what="connected")
        notify(dsn, channel, JUNK)

        def beaten() -> bool:
            beats = node_values(series(served.scrape()), "pgcluster_node_beats_total")
            return set(beats) == set(NODES) and min(beats.values()) >= 3

        wait_until_sync(beaten, what="both nodes beating in /metrics")
        text = served.scrape()
        parsed = series(text)
        assert set(node_values(parsed, "pgcluster_node_state")) == set(NODES)
        assert node_values(parsed, "pgcluster_node_state") == {name: 0 for name in NODES}
        junk = sum(v for (n, _), v in parsed.items() if n == "pgcluster_junk_received_total")
        assert junk == len(JUNK)
        for payload in JUNK:
            assert f'"{payload}"' not in text
        assert parsed[("pgcluster_up", ())] == 1
        assert parsed[("pgcluster_listener_healthy", ())] == 1
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        status, _, body = get(served.url + "/healthz")
        assert status == 200
        assert body.startswith("ok: connected, listener healthy")
        assert body.count("\n") == 1


def test_sigterm_stops_it_within_two_seconds_with_lifecycle_lines_only(
    dsn: str, channel: str
) -> None:
    with (
        serving("--dsn", dsn, "--channel", channel, "--interval", "0.5") as served,
        beating(dsn, channel, NODES[:1], every=0.1),
    ):
        wait_until_sync(
            lambda: (
                node_values(series(served.scrape()), "pgcluster_node_beats_total").get(NODES[0], 0)
                >= 20
            ),
            what="20 beats",
        )
        code, took = served.terminate()
        lines = served.out.drain()
    assert code == 128 + 15
    assert took < 2.0
    kinds = [line.split()[1] for line in lines]
    assert kinds[0] == "serving"
    assert kinds[-2:] == ["stopping", "stopped"]
    assert "connected" in kinds
    assert len(lines) <= 6, lines  # 20 beats, no line for any of them


def test_no_password_cookie_or_cookie_channel_in_any_output(dsn: str) -> None:
    cookie = f"Secret-{secrets.token_hex(8)}"
    derived = cookie.replace("-", "_")
    with_password = f"{dsn} password={PASSWORD}"
    with (
        serving("--dsn", with_password, "--cookie", cookie, "--interval", "0.5") as served,
        beating(dsn, derived, NODES[:1], every=0.2),
    ):
        wait_until_sync(
            lambda: NODES[0] in node_values(series(served.scrape()), "pgcluster_node_state"),
            what="the node heard on the cookie's channel",
        )
        shown = served.scrape() + get(served.url + "/healthz")[2] + get(served.url + "/")[2]
        served.terminate()
        shown += "".join(served.out.drain())
        shown += served.stderr()
    assert "from the cookie" in shown
    assert 'pgcluster_info{version="0.1.0"}' in shown
    for secret in (PASSWORD, cookie, derived):
        assert secret not in shown


def test_healthz_says_503_and_why_while_the_database_is_unreachable() -> None:
    with serving("--dsn", UNREACHABLE) as served:

        def refused() -> bool:
            return "Connection refused" in get(served.url + "/healthz")[2]

        wait_until_sync(refused, what="the reason in /healthz")
        status, _, body = get(served.url + "/healthz")
        parsed = series(served.scrape())
    assert status == 503
    assert re.match(r"(disconnected: |connecting \(last error: )connection failed: ", body), body
    assert body.count("\n") == 1
    assert PASSWORD not in body
    assert parsed[("pgcluster_up", ())] == 0
    assert parsed[("pgcluster_listener_healthy", ())] == 0


def test_a_listen_address_it_cannot_bind_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--dsn", UNREACHABLE, "serve", "--listen", f"127.0.0.1:{port}")
    assert_one_clean_line(result)
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert result.stdout == ""


def test_bad_arguments_and_no_database_are_one_line_and_exit_2() -> None:
    for args in (
        ["--dsn", UNREACHABLE, "serve", "--listen", "nonsense"],
        ["--dsn", UNREACHABLE, "serve", "--listen", "127.0.0.1:70000"],
        ["--dsn", UNREACHABLE, "serve", "--expect", "-1"],
        ["--dsn", UNREACHABLE, "serve", "--listen", "192.0.2.1:0"],
    ):
        assert_one_clean_line(run(*args))
    silent = run("serve")
    assert_one_clean_line(silent)
    assert "no database configured" in silent.stderr
    assert "--demo N" in silent.stderr


def test_demo_runs_on_an_embedded_server_when_asked() -> None:
    with serving(serve_args=("--demo", "3")) as served:

        def three_nodes() -> bool:
            return len(node_values(series(served.scrape()), "pgcluster_node_state")) >= 3

        wait_until_sync(three_nodes, timeout=20, what="the demo's nodes")
        code, took = served.terminate()
        err = served.stderr()
    assert "started an embedded PostgreSQL" in err
    assert code == 128 + 15
    assert took < 4.0  # the embedded server stops too


def test_help_names_serve() -> None:
    result = run("--help")
    assert re.search(r"^\s+serve\s+run unattended", result.stdout, re.M), result.stdout
