"""The strict HTTP/1.1 server over real sockets: what it answers, refuses and survives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pgcluster_tui.serve.http import (
    DEFAULT_PORT,
    MAX_REQUEST_BYTES,
    HttpServer,
    ListenError,
    Response,
    parse_listen,
    text,
)


async def hello() -> Response:
    """A route that answers."""
    return text(200, "hello")


async def broken() -> Response:
    """A route with a bug."""
    raise RuntimeError("boom")


Served = tuple[HttpServer, int, list[str]]
"""The server, its port and the errors it reported."""


@pytest.fixture
async def server() -> AsyncIterator[Served]:
    """A server on a free port with /hello and /broken; the errors it reported."""
    errors: list[str] = []
    http = HttpServer(
        {"/hello": hello, "/broken": broken},
        on_error=errors.append,
        read_timeout=0.3,
        max_connections=2,
    )
    await http.start("127.0.0.1", 0)
    yield http, http.addresses[0][1], errors
    await http.close()


async def exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(5):
        answer = await reader.read()
    writer.close()
    return answer


def status(answer: bytes) -> int:
    """The status code of a raw response."""
    return int(answer.split(b" ", 2)[1])


async def test_a_get_is_answered_once_and_the_connection_closed(server: Served) -> None:
    _, port, _ = server
    answer = await exchange(port, b"GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status(answer) == 200
    assert body == b"hello\n"
    assert b"\r\nContent-Length: 6\r\n" in head
    assert b"\r\nConnection: close\r\n" in head
    assert status(await exchange(port, b"GET /hello HTTP/1.0\r\n\r\n")) == 200


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"POST /hello HTTP/1.1\r\nHost: a\r\n\r\n", 405),
        (b"HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n", 405),
        (b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", 404),
        (b"GET /hello HTTP/1.1\r\n\r\n", 400),
        (b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        (b"GET hello HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
        (b"GET /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 400),
        (b"GET /hello HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
        (b"GET /hello HTTP/1.1\r\nHost: a\r\nX: " + b"y" * MAX_REQUEST_BYTES + b"\r\n\r\n", 431),
    ],
)
async def test_anything_but_a_plain_get_is_refused(
    server: Served, request_bytes: bytes, code: int
) -> None:
    _, port, _ = server
    answer = await exchange(port, request_bytes)
    assert status(answer) == code
    if code == 405:
        assert b"\r\nAllow: GET\r\n" in answer


async def test_a_client_that_never_finishes_its_request_gets_408(server: Served) -> None:
    _, port, _ = server
    answer = await exchange(port, b"GET /hello HTTP/1.1\r\nHost:")
    assert status(answer) == 408


async def test_a_failing_route_answers_500_and_the_server_goes_on(server: Served) -> None:
    _, port, errors = server
    assert status(await exchange(port, b"GET /broken HTTP/1.1\r\nHost: a\r\n\r\n")) == 500
    assert errors == ["/broken: RuntimeError: boom"]
    assert status(await exchange(port, b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")) == 200


async def test_connections_beyond_the_limit_are_turned_away(server: Served) -> None:
    _, port, _ = server
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    answer = await exchange(port, b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status(answer) == 503
    for _, writer in idle:
        writer.close()


async def test_close_cuts_a_stalled_client_without_waiting_for_it() -> None:
    http = HttpServer({"/hello": hello}, read_timeout=30)
    await http.start("127.0.0.1", 0)
    _, writer = await asyncio.open_connection("127.0.0.1", http.addresses[0][1])
    writer.write(b"GET /hel")
    await writer.drain()
    await asyncio.sleep(0)  # let the server accept it
    loop = asyncio.get_running_loop()
    started = loop.time()
    await http.close(grace=0.2)
    assert loop.time() - started < 1
    writer.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:9", ("127.0.0.1", 9)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:25432", ("localhost", 25432)),
        ("[::1]:8080", ("::1", 8080)),
        (f"[::]:{DEFAULT_PORT}", ("::", DEFAULT_PORT)),
    ],
)
def test_listen_addresses(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize(
    "value", ["", "9187", ":9187", "host", "host:", "::1:80", "a b:80", "h:70000", "h:-1", "h:٣"]
)
def test_listen_refuses_what_is_not_host_port(value: str) -> None:
    with pytest.raises(ListenError):
        parse_listen(value)
