"""Store URLs: an unknown scheme is a clear error when the app is created."""

import pytest

from conveyor import Conveyor
from conveyor.backends import check_url, open_backend
from conveyor.errors import ConfigurationError, UnknownSchemeError


@pytest.mark.parametrize("url", ["mysql://localhost/db", "jobs.db", "sqlite3:///x.db"])
def test_unknown_scheme_names_the_supported_ones(url: str) -> None:
    with pytest.raises(UnknownSchemeError, match=r"supported: .*sqlite://"):
        Conveyor(url)
    with pytest.raises(UnknownSchemeError):
        open_backend(url)


def test_unknown_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        check_url("ftp://example.com")


def test_known_scheme_builds_a_backend_without_io() -> None:
    assert check_url("SQLite:///x.db") == "sqlite"
    backend = open_backend("sqlite:///does/not/exist/yet.db")
    assert backend.url == "sqlite:///does/not/exist/yet.db"


def test_postgres_schemes_build_a_backend_without_io() -> None:
    assert check_url("postgresql://localhost/app") == "postgresql"
    assert check_url("postgres://localhost/app") == "postgres"
    backend = open_backend("postgresql://localhost/app?schema=myapp")
    assert backend.url == "postgresql://localhost/app?schema=myapp"
