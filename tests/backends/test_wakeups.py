"""wakeups(): idle consumers hear about new work quickly, from this instance or another.

The iterator may wake spuriously and (on some stores) at once when it starts, so each
test first takes one wake-up, then makes the change and requires the next wake-up well
within the one-second safety-net interval that every store also keeps.
"""

from __future__ import annotations

import asyncio

from conveyor.backends.base import Backend
from tests.backends.conformance import T0, closing, enqueue, new_job

#: A change must wake an idle iterator within this many seconds (safety net: 1 s).
PROMPT = 0.8


async def test_enqueue_on_another_instance_wakes_an_idle_iterator(
    backend: Backend, other_backend: Backend
) -> None:
    async with closing(backend.wakeups(["default"])) as wakeups:
        async with asyncio.timeout(5):
            await anext(wakeups)

        await enqueue(other_backend, new_job(queue="default"), now=T0)

        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(5):
            await anext(wakeups)
        assert loop.time() - started < PROMPT


async def test_enqueue_on_the_same_instance_wakes_an_idle_iterator(backend: Backend) -> None:
    async with closing(backend.wakeups(["default"])) as wakeups:
        async with asyncio.timeout(5):
            await anext(wakeups)
        waiting = asyncio.ensure_future(anext(wakeups))

        await enqueue(backend, new_job(queue="default"), now=T0)

        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(5):
            await waiting
        assert loop.time() - started < PROMPT


async def test_closing_the_backend_ends_the_iterator(backend: Backend) -> None:
    wakeups = backend.wakeups(["default"])
    async with asyncio.timeout(5):
        await anext(wakeups)
    consumed: list[None] = []

    async def consume() -> None:
        async for wakeup in wakeups:
            consumed.append(wakeup)

    consumer = asyncio.ensure_future(consume())
    await backend.close()

    async with asyncio.timeout(5):
        await consumer  # ends by itself, without an error


async def test_an_abandoned_iterator_can_be_closed(backend: Backend) -> None:
    wakeups = backend.wakeups(["default"])
    async with asyncio.timeout(5):
        await anext(wakeups)

    async with asyncio.timeout(5), closing(wakeups):
        pass
