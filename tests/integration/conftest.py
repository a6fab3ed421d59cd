"""Fixtures for in-process tests: an app on a fresh store of each kind, with a fake
clock. The store-generic worker tests run on every store (SQLite: a file in
``tmp_path``; Redis: a key prefix of the test's own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock
from tests.redis_prefix import redis_prefix_url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store of the test's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
    else:
        with redis_prefix_url(request.getfixturevalue("redis_url")) as url:
            yield url


@pytest.fixture
async def app(store_url: str, clock: FakeClock) -> AsyncIterator[Conveyor]:
    """An app with no job types yet; tests register their own."""
    app = Conveyor(store_url, clock=clock)
    yield app
    await app.close()
    app.portal.stop()
