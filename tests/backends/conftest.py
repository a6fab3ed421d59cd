"""Fixtures of the conformance suite: one fresh store per test, for every store.

``store_url`` is parametrized over the stores; each param gives the test a store of
its own (SQLite: a file in ``tmp_path``). Tests receive opened ``Backend`` instances
and speak only the protocol, so adding a store means adding a param here and nothing
in the tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.backends import open_backend
from conveyor.backends.base import Backend
from tests.backends.conformance import BackendFactory
from tests.postgres_schemas import fresh_postgres_schema
from tests.redis_prefix import redis_prefix_url

#: Every store the suite runs on.
STORES = ["sqlite", "postgres", "redis"]


@pytest.fixture(params=STORES)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a fresh, empty store that belongs to this test alone."""
    store: str = request.param
    if store == "sqlite":
        yield f"sqlite:///{tmp_path / 'conveyor.db'}"
    elif store == "postgres":
        async with fresh_postgres_schema(request.getfixturevalue("postgres_url")) as url:
            yield url
    elif store == "redis":
        # A key prefix of its own, whose keys (and only those) go afterwards.
        with redis_prefix_url(request.getfixturevalue("redis_url")) as url:
            yield url
    else:
        raise AssertionError(f"no fixture for store {store!r}")


@pytest.fixture
async def backend_factory(store_url: str) -> AsyncIterator[BackendFactory]:
    """Opens independent backend instances on the test's store (each with connections
    of its own, as separate worker processes would have); closes them afterwards."""
    opened: list[Backend] = []

    async def make() -> Backend:
        backend = open_backend(store_url)
        await backend.open()
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        await backend.close()


@pytest.fixture
async def backend(backend_factory: BackendFactory) -> Backend:
    """An opened backend on the test's fresh store."""
    return await backend_factory()


@pytest.fixture
async def other_backend(backend_factory: BackendFactory) -> Backend:
    """A second, independent backend instance on the same store as ``backend``."""
    return await backend_factory()
