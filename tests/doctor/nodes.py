"""Real Erlang nodes for the doctor's tests: started, awaited through EPMD, always stopped."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass

import pytest

from pgcluster_tui.erlang import wire

ERL = shutil.which("erl")

needs_erlang = pytest.mark.skipif(ERL is None, reason="Erlang/OTP (erl) is not installed")


@dataclass(frozen=True)
class ErlangNode:
    """A running node: its full name, cookie and distribution port."""

    name: str
    cookie: str
    port: int
    pid: int


async def epmd_port(alive: str, epmd_port: int = wire.EPMD_PORT) -> int | None:
    """The port EPMD has for `alive`, None if it does not know it (or does not answer)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", epmd_port)
    except OSError:
        return None
    try:
        writer.write(wire.port_please2_req(alive))
        info = wire.parse_port2_resp(await asyncio.wait_for(reader.read(65536), 2))
    except (OSError, TimeoutError, wire.WireError):
        return None
    finally:
        writer.close()
    return info.port if info is not None else None


async def until_registered(alive: str, present: bool = True, timeout: float = 15.0) -> int | None:
    """Poll EPMD until it knows (or forgot) `alive`; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        port = await epmd_port(alive)
        if (port is not None) == present:
            return port
        if time.monotonic() > deadline:
            state = "register" if present else "leave"
            raise AssertionError(f"{alive} did not {state} EPMD within {timeout:g} s")
        await asyncio.sleep(0.05)


@contextmanager
def _process(cookie: str, alive: str) -> Iterator[subprocess.Popen[bytes]]:
    assert ERL is not None
    proc = subprocess.Popen(
        [ERL, "-name", f"{alive}@127.0.0.1", "-setcookie", cookie, "-noshell", "-noinput"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the node's process group (beam and its child setup process) and reap it."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@asynccontextmanager
async def erlang_node(cookie: str) -> AsyncIterator[ErlangNode]:
    """Start `erl -name t<random>@127.0.0.1 -setcookie COOKIE`; stop it on the way out."""
    alive = f"t{secrets.token_hex(5)}"
    with _process(cookie, alive) as proc:
        port = await until_registered(alive)
        assert port is not None
        yield ErlangNode(f"{alive}@127.0.0.1", cookie, port, proc.pid)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def alive2_req(port: int, alive: str) -> bytes:
    """ALIVE2_REQ (120): register `alive` at `port` with EPMD, as a normal OTP 25 node does."""
    raw = alive.encode()
    body = struct.pack(">BHBBHHH", 120, port, wire.NODE_TYPE_NORMAL, 0, 6, 6, len(raw))
    return wire.frame(body + raw + struct.pack(">H", 0))


@asynccontextmanager
async def registered(port: int | None = None) -> AsyncIterator[str]:
    """A name EPMD knows at `port` (default: one where nothing listens); unregistered after."""
    alive = f"reg{secrets.token_hex(5)}"
    reader, writer = await asyncio.open_connection("127.0.0.1", wire.EPMD_PORT)
    try:
        writer.write(alive2_req(port if port is not None else free_port(), alive))
        answer = await asyncio.wait_for(reader.readexactly(2), 5)
        assert answer[0] in (118, 121), answer  # ALIVE2_X_RESP or ALIVE2_RESP
        assert answer[1] == 0, answer
        yield f"{alive}@127.0.0.1"
    finally:
        writer.close()  # EPMD forgets a name when its registration connection closes
        await until_registered(alive, present=False)


@asynccontextmanager
async def silent_listener(says: bytes = b"") -> AsyncIterator[int]:
    """A TCP port that accepts connections and says `says` (by default not a word)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        if says:
            writer.write(says)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


WATCH = (
    'net_kernel:monitor_nodes(true, [{node_type, all}]), io:format("watching~n"),'
    ' Loop = fun L() -> receive M -> io:format("~p~n", [M]), L() end end, Loop().'
)
"""Erlang that prints every nodeup/nodedown the node sees, with the peer's node type."""


@asynccontextmanager
async def watching_node(cookie: str) -> AsyncIterator[tuple[ErlangNode, asyncio.StreamReader]]:
    """A node that prints the connections it sees on stdout; stopped on the way out."""
    assert ERL is not None
    alive = f"w{secrets.token_hex(5)}"
    proc = await asyncio.create_subprocess_exec(
        ERL,
        *("-name", f"{alive}@127.0.0.1", "-setcookie", cookie, "-noshell", "-noinput"),
        *("-eval", WATCH),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port = await until_registered(alive)
        assert port is not None
        assert proc.stdout is not None
        ready = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert ready == b"watching\n", ready
        yield ErlangNode(f"{alive}@127.0.0.1", cookie, port, proc.pid), proc.stdout
    finally:
        if proc.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
