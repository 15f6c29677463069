"""Every headless command run as a subprocess against a real PostgreSQL."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import queue
import re
import secrets
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import psycopg
import pytest
from psycopg import sql

from pgcluster_tui.core.protocol import is_long_name
from pgcluster_tui.pg.embedded import EmbeddedServer
from tests.beating import beating
from tests.waiting import wait_until_sync

PASSWORD = "sekrit_pw_4711"
UNREACHABLE = f"postgresql://someone:{PASSWORD}@127.0.0.1:1/db?connect_timeout=2"


def run(
    *args: str, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "pgcluster_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or dict(os.environ),
        stdin=subprocess.DEVNULL,
    )


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start the CLI with piped output, for tests that read it while it runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "pgcluster_tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def assert_one_clean_line(result: subprocess.CompletedProcess[str]) -> None:
    """An error is one line on stderr, no traceback, no secret."""
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pgcluster-tui: ")
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


class LineReader:
    """Reads a subprocess's stdout lines on a thread, so tests can wait with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout
        self._thread = threading.Thread(target=self._pump, args=(stdout,), daemon=True)
        self._thread.start()

    def _pump(self, stdout: TextIO) -> None:
        for line in stdout:
            self._queue.put(line)

    def drain(self, timeout: float = 5) -> list[str]:
        """Every line read, once the process closed its output."""
        self._thread.join(timeout)
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return self.lines

    def until(self, predicate: str, timeout: float = 15) -> str:
        """Return the first line (from now on) containing `predicate`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.lines.append(line)
            if predicate in line:
                return line
        raise AssertionError(f"no line with {predicate!r} in {self.lines}")


def test_channel_derives_from_cookie_without_showing_it() -> None:
    result = run("channel", "--cookie", "my-random-#123-long-cookie", "--node", "app@host")
    assert result.returncode == 0
    assert "my_random__123_long_cookie" in result.stdout
    assert "26 of 63" in result.stdout
    assert "NOTIFY \"my_random__123_long_cookie\", 'app@host'" in result.stdout
    assert "my-random-#123" not in result.stdout


def test_a_channel_from_the_cookie_is_never_printed_unless_asked(dsn: str) -> None:
    cookie = f"Secret-{secrets.token_hex(8)}"
    derived = cookie.replace("-", "_")
    outputs = [
        run("--dsn", dsn, "--cookie", cookie, "nodes", "--wait", "0.3"),
        run("--dsn", dsn, "--cookie", cookie, "check", "--expect", "0", "--wait", "0.3"),
        run("--dsn", dsn, "--cookie", cookie, "check", "--expect", "0", "--wait", "0.3", "--json"),
        run("--dsn", dsn, "--cookie", cookie, "announce", "a@10.0.0.1"),
    ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert "from the cookie" in result.stdout
        assert derived not in result.stdout + result.stderr
        assert cookie not in result.stdout + result.stderr
    shown = run("--dsn", dsn, "--cookie", cookie, "--reveal-channel", "announce", "a@10.0.0.1")
    assert derived in shown.stdout


def test_a_non_ascii_cookie_is_called_out() -> None:
    result = run("channel", "--cookie", "café", "--node", "app@host")
    assert result.returncode == 0
    assert "caf__" in result.stdout
    assert "set channel_name on every node" in result.stdout
    assert "set channel_name on every node" in result.stderr


def test_channel_from_release_cookie_environment() -> None:
    env = dict(os.environ, RELEASE_COOKIE="abc-DEF")
    result = run("channel", env=env)
    assert result.returncode == 0
    assert "abc_DEF" in result.stdout


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--channel", "", "channel"], "channel"),
        (["--channel", "x" * 64, "channel"], "63"),
        (["--interval", "-1", "channel"], "interval"),
        (["--node", "no-at-sign", "channel"], "node"),
        (["--node", "a@" + "h" * 300, "channel"], "crashes"),
        (["--env-file", "/nonexistent/file", "channel"], "env-file"),
        (["--dsn", f"host=x password={PASSWORD} port", "nodes"], "dsn"),
        (["check", "--expect", "-1", "--dsn", "host=/nowhere"], "expect"),
        (["--interval", "nan", "channel"], "finite"),
        (["--interval", "inf", "channel"], "finite"),
        (["--env-file", "/tmp", "channel"], "is a directory"),
        (["nodes"], "no database configured"),
        (["check", "--expect", "1"], "no database configured"),
        (["announce"], "no database configured"),
    ],
)
def test_bad_settings_give_one_line_and_exit_2(args: list[str], names: str) -> None:
    result = run(*args)
    assert_one_clean_line(result)
    assert names in result.stderr


def test_environment_and_env_file_precedence(tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("PGCLUSTER_CHANNEL=from_file\nPGCLUSTER_NODE=file@host\n")
    (tmp_path / ".env").write_text("PGCLUSTER_CHANNEL=stray_dotenv\n")
    base = dict(os.environ)
    from_file = subprocess.run(
        [sys.executable, "-m", "pgcluster_tui", "channel", "--env-file", str(env_file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=base,
        timeout=30,
    )
    assert "from_file" in from_file.stdout
    assert "file@host" in from_file.stdout
    env_wins = run(
        "channel", "--env-file", str(env_file), env=dict(base, PGCLUSTER_CHANNEL="from_env")
    )
    assert "from_env" in env_wins.stdout
    flag_wins = run(
        "channel", "--channel", "from_flag", env=dict(base, PGCLUSTER_CHANNEL="from_env")
    )
    assert "from_flag" in flag_wins.stdout
    nothing = subprocess.run(
        [sys.executable, "-m", "pgcluster_tui", "channel"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=base,
        timeout=30,
    )
    assert "stray_dotenv" not in nothing.stdout
    assert "channel:   cluster" in nothing.stdout


def test_announce_sends_exactly_our_name(dsn: str, channel: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
        ours = run("--dsn", dsn, "--channel", channel, "--node", "me@10.1.2.3", "announce")
        assert ours.returncode == 0, ours.stderr
        named = run("announce", "other@[::1]", "--dsn", dsn, "--channel", channel)
        assert named.returncode == 0, named.stderr
        got = [n.payload for n in listener.notifies(timeout=5, stop_after=2)]
    assert got == ["me@10.1.2.3", "other@[::1]"]


def test_our_default_name_goes_out_as_a_long_name(dsn: str, channel: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
        sent = run("--dsn", dsn, "--channel", channel, "announce")
        assert sent.returncode == 0, sent.stderr
        (got,) = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert got.startswith("pgcluster_tui@")
    assert is_long_name(got), "long-name nodes log an error for every short name they hear"


@pytest.mark.parametrize("name", ["no_at_sign", "a@" + "b" * 254, "x@y\x1b[2J", ""])
def test_announce_refuses_invalid_names_and_sends_nothing(
    dsn: str, channel: str, name: str
) -> None:
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
        result = run("announce", name, "--dsn", dsn, "--channel", channel)
        assert_one_clean_line(result)
        assert "refusing" in result.stderr
        listener.execute("SELECT pg_notify(%s, 'sentinel@after')", (channel,))
        first = next(iter(listener.notifies(timeout=5, stop_after=1)))
    assert first.payload == "sentinel@after"


def test_unreachable_database_is_one_line_without_password() -> None:
    for command in (["announce"], ["nodes", "--wait", "5"], ["check", "--expect", "1"]):
        result = run("--dsn", UNREACHABLE, *command)
        assert_one_clean_line(result)
        assert "cannot" in result.stderr


def test_watch_json_streams_each_event_as_it_happens(dsn: str, channel: str) -> None:
    process = spawn("--dsn", dsn, "--channel", channel, "watch", "--json")
    try:
        reader = LineReader(process)
        reader.until('"event":"connected"')
        with psycopg.connect(dsn, autocommit=True) as conn:
            notify = psycopg.sql.SQL("NOTIFY {}, 'a@10.0.0.1'")  # what libcluster sends
            conn.execute(notify.format(psycopg.sql.Identifier(channel)))
            joined = json.loads(reader.until("node_joined"))
            conn.execute("SELECT pg_notify(%s, %s)", (channel, "[bold]\x1b]0;t\x07"))
            junk = json.loads(reader.until("junk_received"))
        process.send_signal(signal.SIGINT)
        assert process.wait(5) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert joined["node"] == "a@10.0.0.1"
    assert isinstance(joined["pid"], int)
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", joined["at"])
    assert junk["payload"] == "[bold]\x1b]0;t\x07"
    assert junk["reason"] == "control characters"
    assert "\x1b" not in "".join(reader.lines)


def test_watch_text_escapes_control_characters(dsn: str, channel: str) -> None:
    process = spawn("--dsn", dsn, "--channel", channel, "watch")
    try:
        reader = LineReader(process)
        reader.until("connected")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (channel, "\x1b[31mred"))
        line = reader.until("junk_received")
        process.send_signal(signal.SIGINT)
        assert process.wait(5) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "\\x1b[31mred" in line
    assert "\x1b" not in line


def test_watch_duration_ends_by_itself(dsn: str, channel: str) -> None:
    result = run("--dsn", dsn, "--channel", channel, "watch", "--duration", "1")
    assert result.returncode == 0
    assert "connected" in result.stdout


def test_nodes_json_lists_what_beats(dsn: str, channel: str) -> None:
    with beating(dsn, channel, ["a@10.0.0.1", "b@10.0.0.2"]):
        result = run("--dsn", dsn, "--channel", channel, "nodes", "--json", "--wait", "2")
    assert result.returncode == 0, result.stderr
    nodes = {n["node"]: n for n in json.loads(result.stdout)}
    assert set(nodes) == {"a@10.0.0.1", "b@10.0.0.2"}
    for node in nodes.values():
        assert node["state"] == "alive"
        assert node["beats"] >= 2
        assert len(node["pids"]) == 1


def test_nodes_table_is_text(dsn: str, channel: str) -> None:
    with beating(dsn, channel, ["a@10.0.0.1"]):
        result = run("--dsn", dsn, "--channel", channel, "nodes", "--wait", "1.5")
    assert result.returncode == 0
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[:3] == ["STATE", "NODE", "AGE"]
    assert row.split()[:2] == ["alive", "a@10.0.0.1"]


def test_check_exit_codes(dsn: str, channel: str) -> None:
    with beating(dsn, channel, ["a@10.0.0.1", "b@10.0.0.2"]):
        ok = run("--dsn", dsn, "--channel", channel, "check", "--expect", "2", "--wait", "1.5")
        short = run("--dsn", dsn, "--channel", channel, "check", "--expect", "3", "--wait", "1.5")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK: 2 alive of 2")
    assert short.returncode == 1
    assert short.stdout.startswith("FAIL: 2 alive of 3")


def own_app_name() -> str:
    """An application_name no other test or process uses, to find this test's sessions."""
    return f"pgcluster-tui-test-{os.getpid()}-{time.monotonic_ns()}"


def started_listening(conn: psycopg.Connection[Any], app_name: str, channel: str) -> bool:
    """Whether our subprocess's listener session has run its LISTEN of `channel` (it LISTENs on
    its private probe channel first, so any LISTEN would be too early)."""
    listen = sql.SQL("LISTEN {}").format(sql.Identifier(channel)).as_string(conn)
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND query = %s",
        (f"{app_name} listener", listen),
    ).fetchone()
    return row is not None and row[0] > 0


def check_in_background(dsn: str, channel: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Start `check` with its own application name; return it and that name."""
    app_name = own_app_name()
    env = dict(os.environ, PGCLUSTER_APPLICATION_NAME=app_name)
    process = subprocess.Popen(
        [sys.executable, "-m", "pgcluster_tui", "--dsn", dsn, "--channel", channel, "check", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return process, app_name


def test_check_max_age_counts_only_fresh_nodes(dsn: str, channel: str) -> None:
    args = ("--expect", "1", "--max-age", "0.5", "--wait", "2.5", "--json")
    with psycopg.connect(dsn, autocommit=True) as conn:
        process, app_name = check_in_background(dsn, channel, *args)
        listening = partial(started_listening, conn, app_name, channel)
        wait_until_sync(listening, what="the check to connect")
        # Beat twice early from one live session, then keep silent: older than 0.5 s at the end.
        conn.execute("SELECT pg_notify(%s, 'a@10.0.0.1')", (channel,))
        conn.execute("SELECT pg_notify(%s, 'a@10.0.0.1')", (channel,))
        out, _ = process.communicate(timeout=15)
    assert process.returncode == 1, out
    verdict = json.loads(out)
    assert (verdict["ok"], verdict["alive"], verdict["expected"]) == (False, 0, 1)
    (node,) = verdict["nodes"]
    assert node["node"] == "a@10.0.0.1"
    assert node["counted"] is False
    assert re.fullmatch(r"age \d\.\ds > 0\.5s", node["why"]), node


def test_check_ignores_names_heard_once_or_from_sessions_that_ended(dsn: str, channel: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        process, app_name = check_in_background(dsn, channel, "--expect", "3", "--wait", "2")
        listening = partial(started_listening, conn, app_name, channel)
        wait_until_sync(listening, what="the check to connect")
        for name in ("x@10.0.0.1", "y@10.0.0.2", "z@10.0.0.3"):  # three one-shot NOTIFYs
            with psycopg.connect(dsn, autocommit=True) as once:
                once.execute("SELECT pg_notify(%s, %s)", (channel, name))
        for _ in range(2):  # one name twice, each from a session that then closed
            with psycopg.connect(dsn, autocommit=True) as once:
                once.execute("SELECT pg_notify(%s, 'gone@10.0.0.4')", (channel,))
        out, _ = process.communicate(timeout=15)
    assert process.returncode == 1, out
    assert out.startswith("FAIL: 0 alive of 3 expected"), out
    assert "heard once: x@10.0.0.1, y@10.0.0.2, z@10.0.0.3" in out
    assert "its sender session has ended: gone@10.0.0.4" in out


def test_embedded_default_starts_and_cleans_up() -> None:
    result = run("watch", "--duration", "0.5", timeout=60)
    assert result.returncode == 0, result.stderr
    match = re.search(r"host=(\S+)", result.stderr)
    assert match, result.stderr
    assert "connected" in result.stdout
    assert not Path(match.group(1)).exists()


@pytest.mark.parametrize(
    ("keys", "fragment"),
    [
        ("{bad", "PGCLUSTER_KEYS): not valid JSON"),
        ('{"announce": "q"}', "'q' would be both 'announce' and 'quit'"),
        ('{"nope": "x"}', "no binding 'nope'"),
    ],
)
@pytest.mark.parametrize("command", [[], ["check", "--expect", "1"]])
def test_bad_key_remaps_are_one_line_for_every_command(
    keys: str, fragment: str, command: list[str]
) -> None:
    env = dict(os.environ, PGCLUSTER_KEYS=keys)
    result = run("--dsn", "host=/nowhere", *command, env=env)
    assert_one_clean_line(result)
    assert fragment in result.stderr


def test_settings_without_a_flag_name_only_their_variable() -> None:
    env = dict(os.environ, PGCLUSTER_MAX_NODES="0")
    result = run("channel", env=env)
    assert_one_clean_line(result)
    assert "(PGCLUSTER_MAX_NODES)" in result.stderr
    assert "--max-nodes" not in result.stderr


def test_an_env_file_with_typos_and_garbage_is_warned_about(tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("PGCLUSTER_CHANEL=x\ngarbage line\nPGCLUSTER_NODE=a@10.0.0.1\n")
    result = run("--env-file", str(env_file), "channel")
    assert result.returncode == 0
    assert "line 1: unknown setting PGCLUSTER_CHANEL" in result.stderr
    assert "line 2: not NAME=value" in result.stderr
    assert "'a@10.0.0.1'" in result.stdout
    assert len(result.stderr.splitlines()) == 2


def test_a_channel_the_database_encoding_cannot_carry_is_one_line(
    embedded_server: EmbeddedServer,
) -> None:
    name = f"ascii_{secrets.token_hex(4)}"
    with psycopg.connect(embedded_server.dsn, autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("CREATE DATABASE {} ENCODING 'SQL_ASCII' TEMPLATE template0").format(
                psycopg.sql.Identifier(name)
            )
        )
        try:
            dsn = f"{embedded_server.dsn} dbname={name}"
            watch = run("--dsn", dsn, "--channel", "café", "watch", "--duration", "20")
            sent = run("--dsn", dsn, "--channel", "café", "announce", "a@10.0.0.1")
        finally:
            admin.execute(psycopg.sql.SQL("DROP DATABASE {}").format(psycopg.sql.Identifier(name)))
    assert_one_clean_line(watch)
    assert "encoding (ascii)" in watch.stderr
    assert sent.returncode == 0, sent.stderr


def test_a_closed_pipe_ends_watch_quietly(dsn: str, channel: str) -> None:
    process = spawn("--dsn", dsn, "--channel", channel, "watch")
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert "connecting" in line or "connected" in line
        process.stdout.close()  # `| head -1`: the reader is gone
        with psycopg.connect(dsn, autocommit=True) as conn:
            for i in range(50):  # lines to write into the closed pipe
                conn.execute("SELECT pg_notify(%s, %s)", (channel, f"n{i}@10.0.0.1"))
        code = process.wait(15)
        _, err = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 128 + signal.SIGPIPE
    assert err == "", err


def test_sigterm_stops_the_embedded_server() -> None:
    process = spawn("watch")
    try:
        LineReader(process).until("connected", timeout=30)
        assert process.stderr is not None
        process.terminate()
        assert process.wait(10) == 128 + signal.SIGTERM
        err = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    match = re.search(r"host=(\S+)", err)
    assert match, err
    socket_dir = Path(match.group(1))
    wait_until_sync(lambda: not socket_dir.exists(), timeout=10, what="embedded dir removed")
    assert "Traceback" not in err


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(entry.name))
    return pids


def test_sigkill_takes_the_embedded_server_along_and_leftovers_are_pruned() -> None:
    process = spawn("watch")
    try:
        LineReader(process).until("connected", timeout=30)
    finally:
        process.kill()
        process.wait(10)
    assert process.stderr is not None
    match = re.search(r"host=(\S+)", process.stderr.read())
    assert match
    data_dir = match.group(1)
    assert Path(data_dir).exists()
    wait_until_sync(lambda: not _processes_mentioning(data_dir), timeout=15, what="postgres gone")
    result = run("watch", "--duration", "0.2", timeout=60)
    assert result.returncode == 0, result.stderr
    assert not Path(data_dir).exists()


def test_an_unknown_key_binding_id_is_refused_before_anything_starts() -> None:
    env = dict(os.environ, PGCLUSTER_KEYS='{"anounce": "n"}')
    result = run(env=env)
    assert_one_clean_line(result)
    assert "'anounce'" in result.stderr
    assert "announce" in result.stderr


class Terminal:
    """The dashboard in a pseudo-terminal of 120x36, its screen output collected."""

    def __init__(self, *args: str) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child
            os.execvpe(
                sys.executable,
                [sys.executable, "-m", "pgcluster_tui", *args],
                dict(os.environ, TERM="xterm-256color"),
            )
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        self.pid, self.fd = pid, fd
        self.output = bytearray()
        self.status: list[int] = []

    def read_some(self) -> bytes:
        """Drain what the terminal shows so far; return all of it."""
        ready, _, _ = select.select([self.fd], [], [], 0.05)
        if ready:
            with suppress(OSError):
                self.output.extend(os.read(self.fd, 65536))
        return bytes(self.output)

    def shows(self, text: bytes, timeout: float = 30) -> None:
        """Wait until the screen output holds `text`."""
        wait_until_sync(lambda: text in self.read_some(), timeout=timeout, what=repr(text))

    def exited(self) -> bool:
        """Whether the dashboard has exited (its status is kept)."""
        self.read_some()
        done, code = os.waitpid(self.pid, os.WNOHANG)
        if done:
            self.status.append(code)
        return bool(done)

    def close(self) -> None:
        """Kill the dashboard if it still runs."""
        if not self.status:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_the_demo_on_a_real_database_stays_off_the_channel(dsn: str, channel: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
        terminal = Terminal("--dsn", dsn, "--channel", channel, "--demo", "3")
        try:
            terminal.shows(b"simulated peers use channel pgcluster_tui_demo_")
            terminal.shows(b"app1@10.0.0.11")  # the demo runs, on its own channel
            os.kill(terminal.pid, signal.SIGTERM)
            wait_until_sync(terminal.exited, timeout=10, what="the dashboard to exit")
        finally:
            terminal.close()
        heard = [n.payload for n in listener.notifies(timeout=0.5)]
    assert heard == [], "a simulated peer reached the channel real nodes use"


@pytest.mark.parametrize("signals", [["TERM"], ["HUP"], ["HUP", "TERM"]])
def test_dashboard_quits_cleanly_on_sigterm_and_sighup(signals: list[str]) -> None:
    terminal = Terminal()
    try:
        terminal.shows(b"Nodes")
        match = re.search(rb"host=(\S+)", terminal.read_some())
        assert match
        data_dir = Path(match.group(1).decode())
        for name in signals:
            os.kill(terminal.pid, getattr(signal, f"SIG{name}"))
        wait_until_sync(terminal.exited, timeout=10, what="the dashboard to exit")
    finally:
        terminal.close()
    # Two signals sent back to back may be handled in either order.
    codes = {128 + getattr(signal, f"SIG{name}") for name in signals}
    assert os.waitstatus_to_exitcode(terminal.status[0]) in codes
    assert b"Traceback" not in terminal.output
    if len(signals) == 1:
        wait_until_sync(lambda: not data_dir.exists(), timeout=10, what="embedded server removed")
    else:  # a second signal leaves at once: the server dies with us, its directory is pruned later
        wait_until_sync(
            lambda: not _processes_mentioning(str(data_dir)), timeout=15, what="postgres gone"
        )
