"""Read every client session's last statement from pg_stat_activity, for the census."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from pgcluster_tui.core.census import Session
from pgcluster_tui.pg.connection import bounded, one_off

# A session our role may not see shows NULL as backend_type and '<insufficient privilege>'
# as its query, but still its database, role and application.
SESSIONS = sql.SQL(
    "SELECT pid, coalesce(datname, ''), coalesce(usename::text, ''),"
    " coalesce(application_name, ''),"
    " CASE WHEN client_port = -1 THEN 'local' ELSE coalesce(host(client_addr), '') END,"
    " coalesce(state, ''),"
    " CASE WHEN backend_type IS NULL THEN NULL ELSE coalesce(query, '') END"
    " FROM pg_stat_activity"
    " WHERE pid <> pg_backend_pid()"
    " AND (backend_type = %s OR (backend_type IS NULL AND datname IS NOT NULL))"
    " ORDER BY datname, pid"
)
WHO = sql.SQL("SELECT current_user::text")
GRANT = sql.SQL("GRANT pg_read_all_stats TO {};")


@dataclass(frozen=True, slots=True)
class Activity:
    """What the server shows us: our role, the statement that would show us more, sessions."""

    user: str
    grant: str
    sessions: list[Session]


async def read_activity(
    conninfo: str, *, timeout: float = 5.0, application_name: str = "pgcluster-tui"
) -> Activity:
    """Connect, read every client session (ours left out), close; WorkerError on any problem."""
    async with one_off(conninfo, f"{application_name} census", timeout) as conn:
        cursor = await bounded(conn.execute(WHO), timeout, "current_user")
        row = await cursor.fetchone()
        user = str(row[0]) if row else ""
        grant = GRANT.format(sql.Identifier(user)).as_string(conn)
        cursor = await bounded(conn.execute(SESSIONS, ("client backend",)), timeout, "census")
        rows = await cursor.fetchall()
    sessions = [
        Session(int(r[0]), r[1], r[2], r[3], r[4], r[5], None if r[6] is None else str(r[6]))
        for r in rows
    ]
    return Activity(user, grant, sessions)
