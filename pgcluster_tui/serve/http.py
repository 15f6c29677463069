"""A tiny, strict HTTP/1.1 server on the running asyncio loop: GET only, one request per
connection, bounded requests, deadlines on every read and write.

It runs on the Monitor's own loop so that handlers read the model where it is changed,
never from another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

DEFAULT_PORT = 25432
"""Outside the Prometheus exporters' range (9100-9999 is fully allocated) and below Linux's
ephemeral ports: 5432 with a 2 in front."""

DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
"""Loopback only unless asked: the metrics name every node of the cluster."""

MAX_REQUEST_BYTES = 8192
"""Request line and headers together; a scrape or a probe needs a few hundred."""

READ_TIMEOUT = 5.0
"""Seconds a client has to send its whole request."""

WRITE_TIMEOUT = 10.0
"""Seconds a client has to take the whole response."""

MAX_CONNECTIONS = 64
"""Connections served at once; more are answered 503 at once, so file descriptors stay bounded."""

TEXT = "text/plain; charset=utf-8"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HOST = re.compile(r"[A-Za-z0-9._\-]+|\[[0-9A-Fa-f:.]+\]")


class ListenError(ValueError):
    """A --listen value that is not HOST:PORT."""


def parse_listen(text: str) -> tuple[str, int]:
    """Split HOST:PORT (`[v6]:PORT` for IPv6) into a host and a port number."""
    host, colon, port = text.rpartition(":")
    usage = f"--listen takes HOST:PORT, e.g. {DEFAULT_LISTEN} or [::1]:{DEFAULT_PORT}"
    if not colon or not port.isascii() or not port.isdigit() or not _HOST.fullmatch(host):
        raise ListenError(usage)
    number = int(port)
    if number > 65535:
        raise ListenError(f"--listen: port {number} is over 65535")
    if host.startswith("["):
        host = host[1:-1]
    elif ":" in host:
        raise ListenError(usage)
    return host, number


@dataclass(frozen=True, slots=True)
class Response:
    """What a route answers."""

    status: int
    body: bytes
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self) -> bytes:
        """The whole response as bytes: status line, headers, body."""
        lines = [
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}",
            f"Date: {formatdate(usegmt=True)}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
            "Cache-Control: no-store",
            "X-Content-Type-Options: nosniff",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def text(status: int, line: str, *headers: tuple[str, str]) -> Response:
    """A one-line plain-text response."""
    return Response(status, (line + "\n").encode(), TEXT, headers)


Route = Callable[[], Awaitable[Response]]


class HttpServer:
    """Serves GET requests for a fixed set of paths, one request per connection."""

    def __init__(
        self,
        routes: Mapping[str, Route],
        *,
        on_error: Callable[[str], None] | None = None,
        read_timeout: float = READ_TIMEOUT,
        write_timeout: float = WRITE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.routes = dict(routes)
        self._on_error = on_error
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> None:
        """Bind and listen; raises OSError when the address cannot be bound."""
        self._server = await asyncio.start_server(
            self._accept, host, port, limit=MAX_REQUEST_BYTES, reuse_address=True
        )

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Every bound (host, port), the real port when 0 was asked for."""
        if self._server is None:
            return []
        return [(s.getsockname()[0], s.getsockname()[1]) for s in self._server.sockets]

    async def close(self, grace: float = 0.5) -> None:
        """Stop listening; give requests in flight `grace` seconds, then cut them."""
        if self._server is not None:
            self._server.close()
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # Connections

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if len(self._tasks) > self._max_connections:
                response: Response | None = text(503, "busy: too many connections")
            else:
                response = await self._respond(reader)
            if response is not None:
                writer.write(response.encode())
                async with asyncio.timeout(self._write_timeout):
                    await writer.drain()
                writer.write_eof()
                await _linger(reader)
        except (OSError, TimeoutError):
            pass  # the client left or stalled: nothing to tell it
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def _respond(self, reader: asyncio.StreamReader) -> Response | None:
        try:
            async with asyncio.timeout(self._read_timeout):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            return text(408, "request timeout: send the whole request within seconds")
        except asyncio.LimitOverrunError:
            return text(431, f"request too large: at most {MAX_REQUEST_BYTES} bytes of headers")
        except asyncio.IncompleteReadError:
            return None  # closed before a whole request: nobody to answer
        request = parse_request(head)
        if isinstance(request, Response):
            return request
        method, path = request
        route = self.routes.get(path)
        if route is None:
            return text(404, f"not found; try {', '.join(sorted(self.routes))}")
        if method != "GET":
            return text(405, "method not allowed: GET only", ("Allow", "GET"))
        try:
            return await route()
        except Exception as exc:  # a bug in a route must not end the server
            if self._on_error is not None:
                self._on_error(f"{path}: {type(exc).__name__}: {exc}")
            return text(500, "internal error")


async def _linger(reader: asyncio.StreamReader) -> None:
    # Closing with request bytes still unread makes the kernel send a reset, which can destroy
    # the response before the client has read it: read what is left, briefly and boundedly.
    drained = 0
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(1.0):
            while drained < 65536 and (chunk := await reader.read(4096)):
                drained += len(chunk)


def parse_request(head: bytes) -> tuple[str, str] | Response:
    """The method and path of a request head (through the blank line), or the error to answer."""
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1].startswith("/"):
        return text(400, "bad request line")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        if re.fullmatch(r"HTTP/\d\.\d", version):
            return text(505, "HTTP/1.0 or HTTP/1.1 only")
        return text(400, "bad request line")
    if any(ord(c) < 33 or ord(c) == 127 for c in target):
        return text(400, "bad request target")
    hosts = 0
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            return text(400, "bad header line")
        lowered = name.lower()
        hosts += lowered == "host"
        if lowered == "transfer-encoding" or (lowered == "content-length" and value.strip() != "0"):
            return text(400, "a request body is not accepted")
    if version == "HTTP/1.1" and hosts != 1:
        return text(400, "an HTTP/1.1 request needs exactly one Host header")
    return method, target.partition("?")[0]
