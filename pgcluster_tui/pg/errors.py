"""One-line, password-free descriptions of connection problems."""

from __future__ import annotations

import re

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pgcluster_tui.core.backoff import Failure

_SPACE = re.compile(r"\s+")
_URI_USERINFO = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://([^@/?#]*)@")
_KEYWORD_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'?|[^\s']+)")


_BY_SQLSTATE = {
    "53300": Failure.LOAD,  # too_many_connections
    "28000": Failure.CONFIG,  # invalid_authorization_specification
    "28P01": Failure.CONFIG,  # invalid_password
    "3D000": Failure.CONFIG,  # invalid_catalog_name: the database does not exist
    "42501": Failure.CONFIG,  # insufficient_privilege
    "57P03": Failure.REFUSED,  # cannot_connect_now: starting up, shutting down, recovering
}
_BY_SQLSTATE_CLASS = {"53": Failure.LOAD, "28": Failure.CONFIG, "3D": Failure.CONFIG}
# libpq reports a failed connect without an SQLSTATE: only its (English) message says why.
_BY_MESSAGE = [
    ("too many clients", Failure.LOAD),
    ("too many connections", Failure.LOAD),
    ("remaining connection slots", Failure.LOAD),
    ("authentication failed", Failure.CONFIG),
    ("no pg_hba.conf entry", Failure.CONFIG),
    ("permission denied", Failure.CONFIG),
    ("does not exist", Failure.CONFIG),
    ("connection refused", Failure.REFUSED),
    ("no such file or directory", Failure.REFUSED),
    ("starting up", Failure.REFUSED),
    ("shutting down", Failure.REFUSED),
    ("in recovery mode", Failure.REFUSED),
    ("server closed the connection", Failure.REFUSED),
    ("timeout", Failure.REFUSED),
    ("no answer within", Failure.REFUSED),
]


def classify(exc: BaseException) -> Failure:
    """Why a connection attempt failed, for the retry timing; anything unknown counts as refused."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        by_state = _BY_SQLSTATE.get(sqlstate) or _BY_SQLSTATE_CLASS.get(sqlstate[:2])
        if by_state is not None:
            return by_state
    # Load and configuration first: with several hosts, one that answers says more.
    message = str(exc).lower()
    for needle, failure in _BY_MESSAGE:
        if needle in message:
            return failure
    return Failure.REFUSED


class WorkerError(Exception):
    """A database problem described in one line that holds no secret."""


def conninfo_is_valid(conninfo: str) -> bool:
    """Whether libpq can parse the connection string."""
    try:
        conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return False
    return True


def describe_target(conninfo: str) -> str:
    """Say where a connection string points (user@host:port/db), never the password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "(unparseable connection string)"
    host = str(params.get("host") or params.get("hostaddr") or "")
    port = str(params.get("port") or "")
    db = str(params.get("dbname") or "")
    user = str(params.get("user") or "")
    return format_target(user, host, port, db)


def format_target(user: str, host: str, port: str, db: str) -> str:
    """Format user@host:port/db, leaving out what is unknown."""
    where = host or "(libpq default)"
    if host.startswith("/"):
        where = f"socket {host}"
    if port:
        where = f"{where}:{port}"
    if db:
        where = f"{where}/{db}"
    return f"{user}@{where}" if user else where


class Redactor:
    """Removes the password (and the whole connection string) from any text."""

    def __init__(self, conninfo: str) -> None:
        secrets = {conninfo} if conninfo else set()
        try:
            password = conninfo_to_dict(conninfo).get("password")
        except psycopg.ProgrammingError:
            password = None
        if password:
            secrets.add(str(password))
        # libpq quotes pieces of a string it cannot parse (or their raw, encoded form),
        # so find the password by its syntax as well.
        uri = _URI_USERINFO.match(conninfo)
        if uri and ":" in uri.group(1):
            secrets.add(uri.group(1).split(":", 1)[1])
        for match in _KEYWORD_PASSWORD.finditer(conninfo):
            value = match.group(1)
            secrets.add(value)
            if value.startswith("'"):
                secrets.add(value.strip("'").replace("\\'", "'").replace("\\\\", "\\"))
        self._secrets = sorted((s for s in secrets if s), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def one_line(self, exc: BaseException) -> str:
        """Describe an exception in one line with every secret removed."""
        message = str(exc) or type(exc).__name__
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        text = "; ".join(lines) if lines else type(exc).__name__
        return _SPACE.sub(" ", self(text))[:500]
