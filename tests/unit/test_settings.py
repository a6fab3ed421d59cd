"""Settings precedence and error messages."""

import datetime as dt

import pytest

from conveyor.errors import ConfigurationError
from conveyor.settings import DEFAULT_URL, Settings


def test_defaults() -> None:
    settings = Settings.load(environ={})
    assert settings.url == DEFAULT_URL == "sqlite:///conveyor.db"
    assert settings.lease_seconds == 30
    assert settings.heartbeat_seconds == 10
    assert settings.result_ttl == dt.timedelta(days=7)


def test_environment_is_read() -> None:
    settings = Settings.load(
        environ={"CONVEYOR_URL": "sqlite:///x.db", "CONVEYOR_LEASE_SECONDS": "6"}
    )
    assert settings.url == "sqlite:///x.db"
    assert settings.lease_seconds == 6
    assert settings.heartbeat_seconds == 2  # a third of a short lease


def test_arguments_win_over_environment() -> None:
    settings = Settings.load(
        url="sqlite:///arg.db",
        lease_seconds=60,
        environ={"CONVEYOR_URL": "sqlite:///env.db", "CONVEYOR_LEASE_SECONDS": "6"},
    )
    assert settings.url == "sqlite:///arg.db"
    assert settings.lease_seconds == 60
    assert settings.heartbeat_seconds == 10


def test_bad_variable_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="CONVEYOR_LEASE_SECONDS"):
        Settings.load(environ={"CONVEYOR_LEASE_SECONDS": "soon"})


def test_heartbeat_must_be_shorter_than_lease() -> None:
    with pytest.raises(ConfigurationError, match="heartbeat_seconds"):
        Settings.load(lease_seconds=5, heartbeat_seconds=5, environ={})


def test_result_ttl_in_seconds() -> None:
    assert Settings.load(result_ttl=60, environ={}).result_ttl == dt.timedelta(minutes=1)
