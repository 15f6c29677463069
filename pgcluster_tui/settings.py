"""The one settings tree: CLI flags > PGCLUSTER_* environment > --env-file > defaults."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import Any, Self

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from pgcluster_tui.core.membership import Thresholds
from pgcluster_tui.core.protocol import (
    ProtocolError,
    channel_from_cookie,
    cookie_warning,
    validate_channel,
    validate_node_name,
)

LIBPQ_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")
"""libpq variables whose presence means "a database is configured"."""


def default_node_name() -> str:
    """Our node name when none is configured: a long name, as real clusters use.

    `pgcluster_tui@<FQDN>` when the host has a dotted name, else `pgcluster_tui@<primary IP>`:
    a short name (`@vm`) makes every long-name node log "Hostname vm is illegal".
    """
    return f"pgcluster_tui@{_long_host()}"


def _long_host() -> str:
    fqdn = socket.getfqdn()
    if "." in fqdn and not fqdn.endswith((".localdomain", ".local")) and fqdn != "localhost":
        return fqdn
    return _primary_address() or "127.0.0.1"


def _primary_address() -> str | None:
    # connect() on a UDP socket only picks the route: no packet is sent.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("203.0.113.1", 9))
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith(("0.", "127.")) else address


class Settings(BaseSettings):
    """Everything pgcluster-tui can be told, validated once."""

    model_config = SettingsConfigDict(
        allow_inf_nan=False,
        env_prefix="PGCLUSTER_",
        env_file=None,
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    dsn: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("dsn", "PGCLUSTER_DSN", "DATABASE_URL"),
    )
    """PostgreSQL URI or conninfo; unset: libpq PG* variables, else the embedded server."""

    channel: str = "cluster"
    """The LISTEN/NOTIFY channel, taken verbatim (case kept), at most 63 bytes."""

    cookie: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("cookie", "PGCLUSTER_COOKIE", "RELEASE_COOKIE"),
    )
    """Erlang cookie; derives the channel as libcluster_postgres does when none is set."""

    node: str = Field(default_factory=default_node_name)
    """Our node name, sent when we heartbeat or announce."""

    interval: float = Field(default=5.0, gt=0, le=3600)
    """Heartbeat interval in seconds, ours and the one assumed for nodes until estimated."""

    heartbeat: bool = False
    """Send our node name every interval (a full peer) instead of only observing."""

    late_after: float = Field(default=1.5, ge=1.0)
    """A node is late after this many of its intervals without a heartbeat."""

    suspect_after: float = 3.0
    """A node is suspect after this many of its intervals without a heartbeat."""

    stale_after: float = 6.0
    """A node is stale after this many of its intervals without a heartbeat."""

    log_size: int = Field(default=1000, ge=10, le=1_000_000)
    """How many lines the event log keeps."""

    max_nodes: int = Field(default=10_000, ge=1, le=1_000_000)
    """How many nodes are tracked; beyond it the stalest are evicted."""

    probe_interval: float = Field(default=2.0, gt=0, le=60)
    """Seconds between listener probes on our private side channel."""

    reconnect_max: float = Field(default=30.0, ge=0.5, le=3600)
    """Upper bound in seconds of the reconnect backoff."""

    connect_timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds to wait for a connection or a statement before giving it up."""

    application_name: str = "pgcluster-tui"
    """application_name of our sessions, as pg_stat_activity shows them."""

    export_dir: Path = Path("exports")
    """Where the dashboard writes node-table exports (created when needed)."""

    reveal_channel: bool = False
    """Show a channel derived from the cookie as it is; it IS the cookie, non-word bytes aside."""

    keys: dict[str, str] = Field(default_factory=dict)
    """Dashboard key remaps by binding id, e.g. {"announce": "n"}."""

    _channel_derived: bool = PrivateAttr(default=False)

    @field_validator("channel")
    @classmethod
    def _channel_is_valid(cls, value: str) -> str:
        try:
            return validate_channel(value)
        except ProtocolError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("node")
    @classmethod
    def _node_is_valid(cls, value: str) -> str:
        try:
            return validate_node_name(value)
        except ProtocolError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("application_name")
    @classmethod
    def _application_name_fits(cls, value: str) -> str:
        if len(value.encode()) > 63 or any(ord(ch) < 32 for ch in value):
            raise ValueError("must be at most 63 bytes without control characters")
        return value

    @model_validator(mode="after")
    def _derive_and_check(self) -> Self:
        if self.cookie is not None and "channel" not in self.model_fields_set:
            derived = channel_from_cookie(self.cookie.get_secret_value())
            try:
                validate_channel(derived)
            except ProtocolError as exc:
                raise ValueError(f"cookie: the derived channel is unusable: {exc}") from None
            self.channel = derived
            self._channel_derived = True
        self.thresholds()
        return self

    def warnings(self) -> list[str]:
        """What the user should know at start about these settings, one line each."""
        out: list[str] = []
        if self.cookie is not None and self._channel_derived:
            warning = cookie_warning(self.cookie.get_secret_value())
            if warning is not None:
                out.append(warning)
        return out

    def with_channel(self, channel: str) -> Settings:
        """These settings on another channel; it counts as from the cookie only if it is."""
        copy = self.model_copy(update={"channel": validate_channel(channel)})
        cookie = self.cookie.get_secret_value() if self.cookie is not None else None
        copy._channel_derived = cookie is not None and channel == channel_from_cookie(cookie)
        return copy

    @property
    def channel_shown(self) -> str:
        """The channel as output may show it (still untrusted text): masked if from the cookie."""
        if not self._channel_derived or self.reveal_channel:
            return self.channel
        digest = hashlib.sha256(self.channel.encode()).hexdigest()[:8]
        return f"(from the cookie, {len(self.channel)} chars, sha256 {digest}…)"

    @property
    def channel_derived(self) -> bool:
        """Whether the channel was derived from the cookie."""
        return self._channel_derived

    def thresholds(self) -> Thresholds:
        """The membership thresholds these settings describe."""
        try:
            return Thresholds(self.interval, self.late_after, self.suspect_after, self.stale_after)
        except ValueError:
            raise ValueError(
                "late_after < suspect_after < stale_after must hold (multiples of the interval)"
            ) from None

    def database_configured(self) -> bool:
        """Whether a database is configured anywhere (else the embedded server is used)."""
        return self.dsn is not None or any(os.environ.get(v) for v in LIBPQ_ENV)

    def conninfo(self) -> str:
        """The connection string to use ('' lets libpq read its PG* variables)."""
        return self.dsn.get_secret_value() if self.dsn is not None else ""


class SettingsError(Exception):
    """A setting is wrong; the message is one line that names it."""


_FLAG_OF = {
    "dsn": "--dsn",
    "cookie": "--cookie",
    "node": "--node",
    "channel": "--channel",
    "interval": "--interval",
    "heartbeat": "--heartbeat",
    "reveal_channel": "--reveal-channel",
}
"""Settings that have a command-line flag; the others are set by environment or env file."""


def load_settings(overrides: dict[str, Any], env_file: Path | None = None) -> Settings:
    """Build the settings from CLI overrides, the environment and an optional env file."""
    if env_file is not None:
        check_env_file(env_file)
    clean = {k: v for k, v in overrides.items() if v is not None}
    # python-dotenv logs unparsable lines itself; env_file_warnings() says it in one line.
    logging.getLogger("dotenv.main").setLevel(logging.ERROR)
    try:
        return Settings(_env_file=env_file, **clean)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None
    except PydanticSettingsError as exc:
        # A complex value (keys) that is not JSON: pydantic-settings names the field only.
        field = str(exc).partition('field "')[2].partition('"')[0] or "settings"
        env = "PGCLUSTER_" + field.upper()
        raise SettingsError(f"invalid setting {field} ({env}): not valid JSON") from None


def check_env_file(path: Path) -> None:
    """Refuse an env file that cannot be read; return quietly otherwise."""
    if path.is_dir():
        raise SettingsError(f"--env-file: {path} is a directory, not a file")
    if not path.is_file():
        raise SettingsError(f"--env-file: no such file: {path}")
    try:
        path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"--env-file: cannot read {path}: {exc.strerror}") from None


def env_file_warnings(path: Path) -> list[str]:
    """Lines of an env file that set nothing: unknown PGCLUSTER_ names (typos) and garbage."""
    known = {"PGCLUSTER_" + name.upper() for name in Settings.model_fields}
    known |= {"DATABASE_URL", "RELEASE_COOKIE", "PGCLUSTER_TEST_DSN"}
    out: list[str] = []
    text = path.read_text(errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip().removeprefix("export ").strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, equals, _ = stripped.partition("=")
        name = name.strip()
        if not equals or not name.isidentifier():
            out.append(f"--env-file {path}, line {number}: not NAME=value; ignored")
        elif name.upper().startswith("PGCLUSTER_") and name.upper() not in known:
            out.append(f"--env-file {path}, line {number}: unknown setting {name}; ignored")
    return out


def describe(exc: ValidationError) -> str:
    """One line naming the first wrong setting and why, never echoing its value."""
    error = exc.errors(include_input=False, include_url=False)[0]
    name = ".".join(str(part) for part in error["loc"]) or "settings"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "finite_number":
        message = "must be a finite number"
    if name == "settings":
        return f"invalid settings: {message}"
    env = "PGCLUSTER_" + name.upper()
    flag = _FLAG_OF.get(name)
    where = f"{flag} / {env}" if flag else env
    return f"invalid setting {name} ({where}): {message}"
