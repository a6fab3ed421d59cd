"""Fixtures for in-process tests: an app on a fresh store (a SQLite file, a migrated
PostgreSQL schema of its own, or a Redis key prefix of its own), with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock
from tests.postgres_schemas import fresh_postgres_schema
from tests.redis_prefix import redis_prefix_url

#: The stores the worker tests run on.
STORES = ["sqlite", "postgres", "redis"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=STORES)
async def app_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a fresh store of this test alone."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
    elif request.param == "redis":
        with redis_prefix_url(request.getfixturevalue("redis_url")) as url:
            yield url
    else:
        async with fresh_postgres_schema(request.getfixturevalue("postgres_url")) as url:
            yield url


@pytest.fixture
async def app(app_url: str, clock: FakeClock) -> AsyncIterator[Conveyor]:
    """An app with no job types yet; tests register their own."""
    app = Conveyor(app_url, clock=clock)
    yield app
    await app.close()
    app.portal.stop()
