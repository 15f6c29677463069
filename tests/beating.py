"""Real peers for tests and scripts: node names sent on a channel from sessions of their own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def beating(dsn: str, channel: str, names: list[str], every: float = 0.3) -> Iterator[None]:
    """Send each name on the channel every `every` seconds from its own session."""
    stop = threading.Event()

    def beat() -> None:
        conns = [psycopg.connect(dsn, autocommit=True) for _ in names]
        try:
            while not stop.is_set():
                for conn, name in zip(conns, names, strict=True):
                    conn.execute("SELECT pg_notify(%s, %s)", (channel, name))
                stop.wait(every)
        finally:
            for conn in conns:
                conn.close()

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
