"""Sender processes for the outside measurements: each run as its own interpreter.

    python benchmarks/senders.py beat     DSN CHANNEL FIRST COUNT RATE SESSIONS
    python benchmarks/senders.py markers  DSN CHANNEL PREFIX EVERY
    python benchmarks/senders.py distinct DSN CHANNEL KIND BATCH
    python benchmarks/senders.py backlog  DSN CHANNEL FIRST COUNT
    python benchmarks/senders.py listen   DSN CHANNEL

Every mode connects first, prints `ready`, then waits for a line on stdin:

- `beat` (on `go`) sends heartbeats of the nodes `n<FIRST>@…` to `n<FIRST+COUNT-1>@…`, round
  robin, RATE notifications a second in all (paced every 10 ms), node i always from session
  i % SESSIONS (one session per node when SESSIONS == COUNT), until stdin closes; then prints
  `sent N`.
- `markers` (on `go`) sends a new node `<PREFIX><k>@bench` every EVERY seconds from its own
  session and prints `<name> <monotonic before> <monotonic after>` for each, until stdin closes.
- `distinct` (on each `go FIRST COUNT`) sends COUNT notifications that all differ, BATCH per
  statement, as fast as it can, then prints `done <monotonic>`: KIND `names` are valid node
  names (`f<i>@10.1.<i/250>.<i%250>`), KIND `junk` payloads that are not node names.
- `backlog` (on each `go BEATS`) holds one session per node (COUNT sessions) and has every node
  send BEATS heartbeats, each its own transaction (so none is folded into another), in rounds
  of at most 10 per node, then prints `done <monotonic>`.
- `listen` (no `go`) LISTENs on CHANNEL and takes every notification with psycopg's
  `AsyncConnection.notifies()`, doing nothing else, until stdin closes; then prints `heard N`:
  the floor a Python listener pays for the same traffic.

Timestamps are `time.monotonic()`, which is system-wide (CLOCK_MONOTONIC), so the harness
compares them with its own.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import psycopg
from psycopg import sql


def node(i: int) -> str:
    """The i-th steady node's name."""
    return f"n{i}@10.0.{i // 250 % 250}.{i % 250}"


def say(line: str) -> None:
    """One line to the harness, flushed."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def stdin_closed() -> threading.Event:
    """An event set when the harness closes our stdin (or dies)."""
    closed = threading.Event()

    def watch() -> None:
        for _ in sys.stdin:
            pass
        closed.set()

    threading.Thread(target=watch, daemon=True).start()
    return closed


def beat(dsn: str, channel: str, first: int, count: int, rate: float, sessions: int) -> None:
    """Round-robin heartbeats at a steady rate, each node from its own fixed session."""
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(sessions)]
    names = [node(first + i) for i in range(count)]
    statement = "SELECT pg_notify(%s, n) FROM unnest(%s::text[]) n"
    say("ready")
    sys.stdin.readline()
    closed = stdin_closed()
    start = time.monotonic()
    sent = 0
    tick = 0
    while not closed.is_set():
        due = int((time.monotonic() - start) * rate)
        if due > sent:
            # Spans of at most COUNT beats hold each name once: one statement per session and
            # span, so no name is folded into another in its transaction.
            for span in range(sent, due, count):
                per_session: dict[int, list[str]] = {}
                for k in range(span, min(due, span + count)):
                    i = k % count
                    per_session.setdefault(i % sessions, []).append(names[i])
                for s, batch in per_session.items():
                    conns[s].execute(statement, (channel, batch))
            sent = due
        tick += 1
        time.sleep(max(0.0, start + tick * 0.01 - time.monotonic()))
    say(f"sent {sent}")


def markers(dsn: str, channel: str, prefix: str, every: float) -> None:
    """A new node every `every` seconds, each timed just before and after its NOTIFY."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        say("ready")
        sys.stdin.readline()
        closed = stdin_closed()
        start = time.monotonic()
        k = 0
        while not closed.is_set():
            k += 1
            name = f"{prefix}{k}@bench"
            before = time.monotonic()
            conn.execute("SELECT pg_notify(%s, %s)", (channel, name))
            say(f"{name} {before:.6f} {time.monotonic():.6f}")
            time.sleep(max(0.0, start + k * every - time.monotonic()))


def distinct(dsn: str, channel: str, kind: str, batch: int) -> None:
    """Notifications that all differ, as fast as one session sends them, on each `go`."""
    if kind == "names":
        payload = "'f' || i || '@10.1.' || (i / 250 %% 250) || '.' || (i %% 250)"
    else:
        payload = "'junk #' || i || ' is no node name!'"
    statement = f"SELECT pg_notify(%s, {payload}) FROM generate_series(%s::int, %s::int) i"  # noqa: S608
    with psycopg.connect(dsn, autocommit=True) as conn:
        say("ready")
        for line in sys.stdin:
            _, first, count = line.split()
            start, end = int(first), int(first) + int(count)
            for lo in range(start, end, batch):
                conn.execute(statement, (channel, lo, min(end, lo + batch) - 1))
            say(f"done {time.monotonic():.6f}")


def backlog(dsn: str, channel: str, first: int, count: int) -> None:
    """One session per node; on `go BEATS` each node beats BEATS times, one transaction each."""
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(count)]
    # One simple query of BEGIN; NOTIFY; COMMIT; … runs each NOTIFY in its own transaction,
    # so identical payloads are not folded into one, without a round trip per beat.
    beats = [
        sql.SQL("BEGIN; NOTIFY {}, {}; COMMIT; ")
        .format(sql.Identifier(channel), sql.Literal(node(first + i)))
        .as_string(conns[0])
        .encode()
        for i in range(count)
    ]
    say("ready")
    for line in sys.stdin:
        total = int(line.split()[1])
        left = total
        while left > 0:
            now = min(10, left)
            for conn, one in zip(conns, beats, strict=True):
                conn.execute(one * now)
            left -= now
        say(f"done {time.monotonic():.6f}")


def listen(dsn: str, channel: str) -> None:
    """Bare psycopg: LISTEN, then take each notification and nothing else until stdin closes."""

    async def run() -> int:
        heard = 0
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        say("ready")
        loop = asyncio.get_running_loop()
        closed = asyncio.Event()
        stdin_done = stdin_closed()
        threading.Thread(
            target=lambda: (stdin_done.wait(), loop.call_soon_threadsafe(closed.set)), daemon=True
        ).start()

        async def take() -> None:
            nonlocal heard
            async for _ in conn.notifies():
                heard += 1

        taking = asyncio.ensure_future(take())
        await closed.wait()
        taking.cancel()
        await conn.close()
        return heard

    say(f"heard {asyncio.run(run())}")


def main() -> None:
    """Dispatch on the mode."""
    mode, dsn, channel, *rest = sys.argv[1:]
    if mode == "beat":
        first, count, rate, sessions = rest
        beat(dsn, channel, int(first), int(count), float(rate), int(sessions))
    elif mode == "markers":
        prefix, every = rest
        markers(dsn, channel, prefix, float(every))
    elif mode == "distinct":
        kind, batch = rest
        distinct(dsn, channel, kind, int(batch))
    elif mode == "backlog":
        first, count = rest
        backlog(dsn, channel, int(first), int(count))
    elif mode == "listen":
        listen(dsn, channel)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
