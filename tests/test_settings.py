"""The settings tree: precedence, derivation, validation and secrecy."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgcluster_tui.core.protocol import is_long_name
from pgcluster_tui.settings import SettingsError, load_settings


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.channel == "cluster"
    assert settings.node.startswith("pgcluster_tui@")
    assert settings.interval == 5.0
    assert settings.heartbeat is False
    assert settings.dsn is None
    assert not settings.database_configured()


def test_our_default_name_is_a_long_name() -> None:
    node = load_settings({}).node
    assert is_long_name(node), node
    assert not node.endswith(("@localhost", "@vm"))


def test_flags_beat_environment_beat_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "x.env"
    env_file.write_text("PGCLUSTER_INTERVAL=7\nPGCLUSTER_CHANNEL=file\n")
    assert load_settings({}, env_file).interval == 7
    monkeypatch.setenv("PGCLUSTER_INTERVAL", "9")
    assert load_settings({}, env_file).interval == 9
    assert load_settings({"interval": 3}, env_file).interval == 3
    assert load_settings({}, env_file).channel == "file"


def test_cookie_derives_channel_unless_a_channel_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELEASE_COOKIE", "my-random-#123-long-cookie")
    derived = load_settings({})
    assert derived.channel == "my_random__123_long_cookie"
    assert derived.channel_derived
    assert load_settings({"channel": "Explicit"}).channel == "Explicit"
    monkeypatch.setenv("PGCLUSTER_CHANNEL", "FromEnv")
    assert load_settings({}).channel == "FromEnv"


def test_dsn_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@h/db")
    settings = load_settings({})
    assert settings.database_configured()
    assert settings.conninfo() == "postgresql://u:pw@h/db"
    assert "pw" not in repr(settings)
    assert "pw" not in str(settings.model_dump())
    monkeypatch.setenv("PGCLUSTER_DSN", "host=other")
    assert load_settings({}).conninfo() == "host=other"
    assert load_settings({"dsn": "host=flag"}).conninfo() == "host=flag"


def test_libpq_variables_count_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "db.internal")
    settings = load_settings({})
    assert settings.database_configured()
    assert settings.conninfo() == ""


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"channel": ""}, "invalid setting channel"),
        ({"channel": "é" * 32}, "64 bytes"),
        ({"node": "nohost@"}, "invalid setting node"),
        ({"interval": 0}, "invalid setting interval"),
        ({"late_after": 4.0}, "late_after < suspect_after < stale_after"),
        ({"cookie": ""}, "cookie"),
        ({"log_size": 1}, "invalid setting log_size"),
    ],
)
def test_wrong_values_name_the_setting(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(overrides)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_error_never_echoes_a_secret() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"dsn": 12345678, "interval": "x"})
    assert "12345678" not in str(caught.value)


def test_another_channel_counts_as_from_the_cookie_only_if_it_is() -> None:
    settings = load_settings({"cookie": "abc-def-ghi"})
    assert settings.channel_shown.startswith("(from the cookie, 11 chars")
    other = settings.with_channel("other")
    assert other.channel_shown == "other"
    assert other.with_channel("abc_def_ghi").channel_shown == settings.channel_shown
    assert settings.model_copy(update={"heartbeat": True}).channel_derived
