"""The embedded server's life cycle: start, stop, restart, freeze, and nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from pgcluster_tui.pg.embedded import EmbeddedServer, prune_leftovers
from tests.waiting import wait_until_sync


def state(pid: int) -> str:
    """The process state letter from /proc (T when stopped), or 'gone'."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    """Whether a process (not a zombie) exists."""
    return state(pid) not in ("gone", "Z")


def test_start_stop_restart_and_clean_up(private_server: EmbeddedServer) -> None:
    root = private_server.root
    assert root is not None
    with psycopg.connect(private_server.dsn) as conn:
        backend = conn.info.backend_pid
        assert conn.info.parameter_status("server_version")
    postmaster = private_server.pid
    assert postmaster is not None
    private_server.stop_server()
    assert private_server.pid is None
    assert not alive(postmaster)
    assert not alive(backend)
    assert root.exists()  # data kept for restart()
    private_server.restart()
    with psycopg.connect(private_server.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    restarted = private_server.pid
    assert restarted is not None
    private_server.stop()
    private_server.stop()  # twice is fine
    assert not alive(restarted)
    assert not root.exists()


def test_freeze_stops_the_postmaster_and_every_backend(private_server: EmbeddedServer) -> None:
    postmaster = private_server.pid
    assert postmaster is not None
    with psycopg.connect(private_server.dsn, autocommit=True) as conn:
        backend = conn.info.backend_pid
        private_server.freeze()
        try:
            assert state(postmaster) == "T"
            assert state(backend) == "T"  # backends lead their own process groups
        finally:
            private_server.thaw()
        assert state(backend) != "T"
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_stop_server_ends_a_frozen_server_promptly(private_server: EmbeddedServer) -> None:
    postmaster = private_server.pid
    assert postmaster is not None
    conn = psycopg.connect(private_server.dsn)
    backend = conn.info.backend_pid
    private_server.freeze()
    started = time.monotonic()
    private_server.stop_server()
    assert time.monotonic() - started < 5.0
    assert not alive(postmaster)
    assert not alive(backend)
    conn.close()


def test_dsn_has_no_password_and_a_private_socket(private_server: EmbeddedServer) -> None:
    assert "password" not in private_server.dsn
    assert str(private_server.socket_dir) in private_server.dsn
    if os.geteuid() == 0:
        assert not str(private_server.socket_dir).startswith("/root")


OWNER = """
import sys
import time
from pathlib import Path
from pgcluster_tui.pg.embedded import EmbeddedServer
server = EmbeddedServer(Path(sys.argv[1]))
server.start()
print(server.pid, server.root, flush=True)
time.sleep(120)
"""


def test_server_dies_with_a_killed_owner_and_its_directory_is_pruned() -> None:
    base = Path(tempfile.mkdtemp(prefix="pgcluster-tui-test-", dir="/tmp"))
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(base)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        pid_text, root_text = owner.stdout.readline().split()
    finally:
        owner.kill()
        owner.wait()
    postmaster, root = int(pid_text), Path(root_text)
    wait_until_sync(lambda: not alive(postmaster), what="the orphaned postmaster to exit")
    assert root.parent == base
    assert root.exists()
    assert prune_leftovers(base) == 1
    assert not root.exists()
    base.rmdir()
