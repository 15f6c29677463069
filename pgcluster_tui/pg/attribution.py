"""Who sent a notification: pg_stat_activity look-ups per backend pid, cached and bounded."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import psycopg
from psycopg import sql

from pgcluster_tui.core.events import SenderAttributed

LOOKUP = sql.SQL(
    "SELECT pid, CASE WHEN client_port = -1 THEN 'local' ELSE coalesce(host(client_addr), '') END,"
    " coalesce(application_name, ''), coalesce(usename::text, ''),"
    " coalesce(to_char(backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"
    " FROM pg_stat_activity WHERE pid = ANY(%s)"
)
CACHE_SIZE = 4096
BATCH_SIZE = 500


class SenderLookup:
    """Remembers which pids were looked up and which still need a look-up."""

    def __init__(self) -> None:
        self._known: OrderedDict[int, None] = OrderedDict()
        self._wanted: dict[int, None] = {}

    def reset(self) -> None:
        """Forget everything (pids are reused after a server restart)."""
        self._known.clear()
        self._wanted.clear()

    def saw(self, pid: int) -> bool:
        """Note a sending pid; queue an unseen one for a look-up and return True."""
        if pid in self._known or pid in self._wanted or len(self._wanted) >= BATCH_SIZE * 4:
            return False
        self._wanted[pid] = None
        return True

    def waiting(self) -> bool:
        """Whether any pid awaits a look-up."""
        return bool(self._wanted)

    def take(self) -> list[int]:
        """Take up to one batch of pids to look up."""
        pids = list(self._wanted)[:BATCH_SIZE]
        for pid in pids:
            del self._wanted[pid]
            self._known[pid] = None
        while len(self._known) > CACHE_SIZE:
            self._known.popitem(last=False)
        return pids

    async def fetch(
        self, conn: psycopg.AsyncConnection[Any], pids: list[int], now: float
    ) -> list[SenderAttributed]:
        """Look the pids up; a pid that is gone (or hidden from our role) gets blanks."""
        cursor = await conn.execute(LOOKUP, (pids,))
        rows = await cursor.fetchall()
        found = {
            int(row[0]): SenderAttributed(now, int(row[0]), row[1], row[2], row[3], row[4])
            for row in rows
        }
        return [found.get(pid) or SenderAttributed(now, pid, "", "", "", "") for pid in pids]
