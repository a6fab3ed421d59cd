"""Shared fixtures: service URLs from the environment, and the services check.

Tests that need PostgreSQL or Redis ask for ``postgres_url``/``redis_url``: where the
service is missing they skip with a reason, except when ``CONVEYOR_REQUIRE_SERVICES=1``
(set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "CONVEYOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CONVEYOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _require(url: str, default_port: int, name: str) -> str:
    if _reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url}"
    if os.environ.get("CONVEYOR_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (CONVEYOR_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server (skip or fail if it is down)."""
    return _require(POSTGRES_URL, 5432, "PostgreSQL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis server (skip or fail if it is down)."""
    return _require(REDIS_URL, 6379, "Redis")
