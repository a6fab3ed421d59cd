"""Schema migrations seen through the protocol: open migrates (embedded stores) or finds
the schema current, and running them again changes nothing."""

from __future__ import annotations

import asyncio

from conveyor.backends import open_backend
from conveyor.backends.base import Backend
from tests.backends.conformance import T0, BackendFactory, enqueue


async def test_migrate_on_a_current_store_applies_nothing(backend: Backend) -> None:
    assert await backend.migrate() == []
    assert await backend.migrate() == []


async def test_opening_the_store_again_keeps_its_data(
    backend: Backend, backend_factory: BackendFactory
) -> None:
    job = await enqueue(backend, now=T0)

    again = await backend_factory()

    assert await again.migrate() == []
    assert await again.get(job.id) == job


async def test_reopening_a_closed_backend_instance_works(backend: Backend) -> None:
    job = await enqueue(backend, now=T0)
    await backend.close()
    await backend.close()  # idempotent

    await backend.open()

    assert await backend.get(job.id) == job


async def test_concurrent_opens_of_one_store_all_succeed(store_url: str) -> None:
    instances = [open_backend(store_url) for _ in range(4)]
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*(instance.open() for instance in instances))
        assert all([await instance.migrate() == [] for instance in instances])
    finally:
        for instance in instances:
            await instance.close()
