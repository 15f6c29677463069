"""Can a peer connect to this node? Resolve, EPMD, TCP, handshake: stop at the first failure."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pgcluster_tui.erlang import wire
from pgcluster_tui.erlang.steps import (
    Pacer,
    Report,
    Stage,
    Step,
    StepFailed,
    StepName,
    is_long,
    split_node,
)

DEFAULT_TIMEOUT = 2.0
"""Seconds each step may take."""

DEFAULT_CONCURRENCY = 8
"""Nodes probed at once."""

DEFAULT_RATE = 10.0
"""Probes started per second at most: the names come from untrusted payloads."""

MAX_EPMD_ANSWER = 65536
"""Bytes read from an EPMD answer at most."""


class Doctor:
    """Probes nodes the way a connecting Erlang peer would, bounded and paced."""

    def __init__(
        self,
        cookie: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float = DEFAULT_RATE,
        epmd_port: int = wire.EPMD_PORT,
    ) -> None:
        self._cookie = wire.cookie_bytes(cookie) if cookie is not None else None
        self.timeout = timeout
        self.epmd_port = epmd_port
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._pacer = Pacer(rate, time.monotonic, asyncio.sleep)

    def __repr__(self) -> str:
        cookie = "set" if self._cookie is not None else "none"
        return f"Doctor(cookie={cookie}, timeout={self.timeout:g}, epmd_port={self.epmd_port})"

    async def check_all(self, nodes: Sequence[str]) -> list[Report]:
        """Check every node (at most `concurrency` at once); reports in the order given."""
        return list(await asyncio.gather(*(self.check(node) for node in nodes)))

    async def check(self, node: str) -> Report:
        """Run the steps for one node, stopping at the first failure."""
        steps: list[Step] = []
        try:
            alive, host = split_node(node)
        except ValueError as exc:
            steps.append(Step(StepName.NAME, False, f"not probed: {exc}"))
            return Report(node, tuple(steps))
        async with self._slots:
            await self._pacer.wait()
            await self._run(node, alive, host, steps)
        return Report(node, tuple(steps))

    async def _run(self, node: str, alive: str, host: str, steps: list[Step]) -> None:
        try:
            address = await self._step(StepName.RESOLVE, steps, self._resolve, host)
            port = await self._step(StepName.EPMD, steps, self._epmd, address, alive)
            stream = await self._step(StepName.CONNECT, steps, self._connect, address, port)
        except StepFailed:
            return
        reader, writer = stream
        try:
            if self._cookie is None:
                skipped = "skipped: no cookie (--cookie or RELEASE_COOKIE)"
                steps.append(Step(StepName.HANDSHAKE, None, skipped))
                return
            with contextlib.suppress(StepFailed):
                await self._step(StepName.HANDSHAKE, steps, self._handshake, reader, writer, node)
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 0.5)

    async def _step(
        self,
        name: StepName,
        steps: list[Step],
        work: Callable[..., Awaitable[tuple[Any, str, dict[str, Any]]]],
        *args: Any,
    ) -> Any:
        """Run one step under the timeout; record it; raise StepFailed when it failed."""
        stage = Stage()
        try:
            async with asyncio.timeout(self.timeout):
                value, detail, facts = await work(stage, *args)
        except StepFailed as exc:
            steps.append(Step(name, False, exc.detail, exc.facts))
            raise
        except TimeoutError:
            detail = f"no answer within {self.timeout:g} s {stage.waiting}".rstrip()
            steps.append(Step(name, False, detail))
            raise StepFailed(detail) from None
        except (wire.WireError, OSError) as exc:
            what = "not the distribution protocol" if isinstance(exc, wire.WireError) else "lost"
            detail = f"{what}: {exc}"[:300]
            steps.append(Step(name, False, detail))
            raise StepFailed(detail) from None
        steps.append(Step(name, True, detail, facts))
        return value

    # The steps: each returns (value for the next step, detail, facts) or raises StepFailed.

    async def _resolve(self, stage: Stage, host: str) -> tuple[str, str, dict[str, Any]]:
        stage.waiting = f"resolving {host}"
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise StepFailed(f"{host} does not resolve: {exc.strerror or exc}") from None
        v4 = _unique(str(info[4][0]) for info in infos if info[0] == socket.AF_INET)
        v6 = _unique(str(info[4][0]) for info in infos if info[0] == socket.AF_INET6)
        facts = {"ipv4": v4, "ipv6": v6}
        if not v4 and not v6:
            raise StepFailed(f"{host} resolves to no IPv4 or IPv6 address", **facts)
        # Erlang's default distribution (inet_tcp) uses IPv4; inet6_tcp nodes have only IPv6.
        address = v4[0] if v4 else v6[0]
        shown = "; ".join(
            f"{family} {', '.join(found)}"
            for family, found in (("IPv4", v4), ("IPv6", v6))
            if found
        )
        note = "" if v4 else " (IPv6 only: the node must run -proto_dist inet6_tcp)"
        return address, f"{host} → {shown}{note}", {**facts, "address": address}

    async def _epmd(
        self, stage: Stage, address: str, alive: str
    ) -> tuple[int, str, dict[str, Any]]:
        where = _hostport(address, self.epmd_port)
        answer = await self._ask_epmd(
            stage, address, wire.port_please2_req(alive), where, wire.port2_resp_size
        )
        try:
            info = wire.parse_port2_resp(answer)
        except wire.WireError as exc:
            raise StepFailed(f"{where} answered, but not as EPMD does: {exc}") from None
        if info is None:
            known = await self._known_names(stage, address, where)
            raise StepFailed(f"EPMD at {where} does not know the name {alive!r}{known}")
        kind = "hidden" if info.hidden else "normal"
        facts = {
            "address": address,
            "epmd_port": self.epmd_port,
            "port": info.port,
            "node_type": kind,
            "versions": [info.lowest_version, info.highest_version],
        }
        detail = (
            f"EPMD at {where} knows {alive}: distribution port {info.port} "
            f"({kind} node, protocol versions {info.lowest_version}-{info.highest_version})"
        )
        if info.highest_version < 6:
            raise StepFailed(
                f"{detail}: version 6 (OTP 23+) is needed, this node is older", **facts
            )
        if info.port == 0:
            raise StepFailed(f"{detail}: port 0 is no port", **facts)
        return info.port, detail, facts

    async def _ask_epmd(
        self,
        stage: Stage,
        address: str,
        request: bytes,
        where: str,
        size: Callable[[bytes], int | None] = lambda _: None,
    ) -> bytes:
        """Send one request; the answer ends where `size` says, else where EPMD closes."""
        stage.waiting = f"connecting to EPMD at {where}"
        try:
            reader, writer = await asyncio.open_connection(address, self.epmd_port)
        except ConnectionRefusedError:
            raise StepFailed(
                f"nothing listens on {where}: EPMD does not run there (or a firewall rejects it)"
            ) from None
        except OSError as exc:
            raise StepFailed(f"cannot reach {where}: {exc.strerror or exc}") from None
        try:
            stage.waiting = f"from {where}: it accepted the connection but is silent (not an EPMD?)"
            writer.write(request)
            await writer.drain()
            answer = b""
            while len(answer) < MAX_EPMD_ANSWER and (chunk := await reader.read(4096)):
                answer += chunk
                expected = size(answer)
                if expected is not None and len(answer) >= expected:
                    break
            return answer
        except OSError as exc:
            raise StepFailed(f"{where} dropped the connection: {exc.strerror or exc}") from None
        finally:
            writer.close()

    async def _known_names(self, stage: Stage, address: str, where: str) -> str:
        """What else this EPMD knows, to catch a typo; best effort, inside the step's time."""
        try:
            names = wire.parse_names_resp(
                await self._ask_epmd(stage, address, wire.names_req(), where)
            )
        except (StepFailed, wire.WireError):
            return ""
        if not names:
            return "; it knows no node"
        shown = ", ".join(name[:60] for name, _ in names[:10])
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        return f"; it knows {shown}{more}"

    async def _connect(
        self, stage: Stage, address: str, port: int
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], str, dict[str, Any]]:
        where = _hostport(address, port)
        stage.waiting = f"from {where} (a firewall drops packets to the distribution port?)"
        try:
            stream = await asyncio.open_connection(address, port)
        except ConnectionRefusedError:
            raise StepFailed(
                f"connection refused on {where}: EPMD lists the node but nothing accepts there "
                "(the node is going down, or a firewall rejects the port)"
            ) from None
        except OSError as exc:
            raise StepFailed(f"cannot reach {where}: {exc.strerror or exc}") from None
        return stream, f"{where} accepts TCP connections", {"address": address, "port": port}

    async def _handshake(
        self, stage: Stage, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, node: str
    ) -> tuple[None, str, dict[str, Any]]:
        assert self._cookie is not None
        long = is_long(node.partition("@")[2])
        ours = _our_name(writer, long=long)
        style = "long" if long else "short"
        facts: dict[str, Any] = {"ours": ours, "hidden": True}
        creation = secrets.randbelow(2**32 - 4) + 4
        stage.waiting = "for the status after our name"
        writer.write(wire.send_name(wire.HIDDEN_FLAGS, creation, ours))
        status = wire.parse_status(await _read_frame(reader, _refused_name(ours, style)))
        if status == "alive":
            # The node believes a node of our name is connected; we are not it: give up.
            writer.write(wire.send_status("false"))
            raise StepFailed(f"the node says a node named {ours} is already connected to it")
        if status == "not_allowed":
            raise StepFailed(f"the node does not allow {ours} to connect (net_kernel:allow/1)")
        if status not in ("ok", "ok_simultaneous"):
            raise StepFailed(f"the node answered our name with status {status[:40]!r}")
        stage.waiting = "for the challenge"
        challenge = wire.parse_challenge(
            await _read_frame(reader, "the node closed before its challenge")
        )
        facts["peer"] = challenge.name
        if challenge.name != node:
            raise StepFailed(_misnamed(node, challenge.name), **facts)
        ours_challenge = secrets.randbits(32)
        stage.waiting = "for the answer to our digest"
        writer.write(
            wire.challenge_reply(ours_challenge, wire.digest(challenge.challenge, self._cookie))
        )
        ack = await _read_frame(
            reader, "cookie rejected: the node closed the connection on our digest (another cookie)"
        )
        if wire.parse_challenge_ack(ack) != wire.digest(ours_challenge, self._cookie):
            raise StepFailed(
                "the node accepted our digest but its own does not match the cookie", **facts
            )
        return None, f"cookie accepted: connected as hidden node {ours}, then closed", facts


async def _read_frame(reader: asyncio.StreamReader, closed: str) -> bytes:
    """One handshake message (2-byte length, then the body); a close says `closed`."""
    try:
        size = int.from_bytes(await reader.readexactly(2), "big")
        return await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError):
        raise StepFailed(closed) from None


def _refused_name(ours: str, style: str) -> str:
    return (
        f"the node closed the connection on our name {ours}: it refuses it (net_kernel:allow/1, "
        f"a connection filter, or a node that does not accept {style} names)"
    )


def _misnamed(node: str, real: str) -> str:
    """Why a peer asking for `node` gives up when the node calls itself `real`."""
    detail = f"the node on that port calls itself {real[:80]}, not {node[:80]}"
    real_long = is_long(real.partition("@")[2])
    if real_long != is_long(node.partition("@")[2]):
        style = "long names (-name)" if real_long else "short names (-sname)"
        return f"{detail}: it runs with {style}, and a peer must use the same style and its name"
    return f"{detail}: peers must ask for the name it goes by"


def _our_name(writer: asyncio.StreamWriter, *, long: bool) -> str:
    """A fresh name in the target's style: our address on the route to it, or our short host."""
    alive = f"pgcluster_doctor_{secrets.token_hex(4)}"
    if long:
        return f"{alive}@{writer.get_extra_info('sockname')[0]}"
    return f"{alive}@{socket.gethostname().split('.')[0]}"


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))
