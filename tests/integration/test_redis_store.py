"""The Redis store's own promises beyond the protocol: its key layout, what it says about
the server's persistence, script reloading, and connection errors. Servers that the
tests reconfigure or break are private ones (``tests.redis_server``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from conveyor.backends import open_backend
from conveyor.backends.base import JobQuery
from conveyor.errors import ConfigurationError, SchemaOutOfDateError, StoreUnavailableError
from conveyor.states import JobState
from tests.backends.conformance import T0, at, claim, enqueue, new_job, outcome
from tests.redis_prefix import redis_prefix_url
from tests.redis_server import PrivateRedis, free_port

REDIS_LOG = "conveyor.backends.redis"


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "redis"
    directory.mkdir()
    return directory


@pytest.fixture
def shared_url(redis_url: str) -> Iterator[str]:
    with redis_prefix_url(redis_url) as url:
        yield url


def _server(directory: Path, *options: str) -> PrivateRedis:
    server = PrivateRedis(directory, options)
    server.start()
    return server


async def _open_and_capture(url: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    backend = open_backend(url)
    with caplog.at_level(logging.WARNING, logger=REDIS_LOG):
        await backend.open()
    await backend.close()
    return [r.getMessage() for r in caplog.records if r.name == REDIS_LOG]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--appendonly", "no"), "persistence off"),
        (("--appendonly", "no", "--save", "3600 1"), "AOF persistence off"),
        (("--appendonly", "yes"), None),
    ],
    ids=["nothing", "rdb-only", "aof"],
)
async def test_open_warns_when_persistence_would_lose_jobs(
    private_dir: Path, caplog: pytest.LogCaptureFixture, options: tuple[str, ...], expected: str
) -> None:
    server = _server(private_dir, *options)
    try:
        messages = await _open_and_capture(server.url, caplog)
    finally:
        server.close()

    if expected is None:
        assert messages == []
    else:
        [message] = messages
        assert expected in message
        assert "appendonly yes" in message


async def test_open_works_where_config_is_disabled(
    private_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = _server(private_dir, "--appendonly", "no", "--rename-command", "CONFIG", "")
    try:
        assert await _open_and_capture(server.url, caplog) == []
    finally:
        server.close()


async def test_every_key_sits_under_the_prefix_hash_tag_and_pruning_leaves_none(
    shared_url: str,
) -> None:
    prefix = shared_url.rpartition("prefix=")[2]
    backend = open_backend(shared_url)
    await backend.open()
    client = redis.Redis.from_url(shared_url.partition("?")[0], decode_responses=True)
    try:
        baseline = set(client.scan_iter(match="{" + prefix + "}:*"))
        job = await enqueue(backend, new_job(tenant="acme", idempotency_key="k", queue="q"))
        [claimed] = await claim(backend, queues=["q"], now=T0)
        await backend.finish_many([outcome(claimed, JobState.SUCCEEDED)], now=at(1))
        assert await backend.get(job.id) is not None

        keys = set(client.scan_iter(match="{" + prefix + "}:*"))
        assert any(job.id in key for key in keys)
        assert await backend.prune_finished(older_than=at(2), limit=10) == 1

        left = set(client.scan_iter(match="{" + prefix + "}:*")) - baseline
        # Only the event sequence stays: event ids must never be reused.
        assert left == {"{" + prefix + "}:event_seq"}
        assert (await backend.list_jobs(JobQuery())).items == []
    finally:
        client.close()
        await backend.close()


async def test_scripts_are_loaded_again_after_the_server_forgets_them(
    private_dir: Path,
) -> None:
    server = _server(private_dir)
    backend = open_backend(server.url + "?prefix=reload")
    try:
        await backend.open()
        client = redis.Redis(port=server.port)
        client.script_flush()
        client.close()

        job = await enqueue(backend, now=T0)  # NOSCRIPT, then loaded and run again

        assert await backend.get(job.id) == job
    finally:
        await backend.close()
        server.close()


async def test_unreachable_redis_is_store_unavailable() -> None:
    backend = open_backend(f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=1")
    with pytest.raises(StoreUnavailableError, match="unavailable"):
        await backend.open()
    await backend.close()


async def test_calls_during_an_outage_are_store_unavailable_then_work_again(
    private_dir: Path,
) -> None:
    server = _server(private_dir, "--appendonly", "yes", "--appendfsync", "always")
    backend = open_backend(server.url + "?prefix=outage&socket_connect_timeout=1")
    try:
        await backend.open()
        job = await enqueue(backend, now=T0)
        server.kill()
        with pytest.raises(StoreUnavailableError):
            await backend.get(job.id)
        server.start()
        assert await backend.get(job.id) == job
    finally:
        await backend.close()
        server.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost/0?prefix=a{b",
        "redis://localhost/0?prefix=",
        "redis://h/0?prefix=a&prefix=b",
    ],
)
def test_bad_prefix_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        open_backend(url)


async def test_a_batch_bigger_than_one_script_call_is_stored_in_order(shared_url: str) -> None:
    # 2,500 jobs: three enqueue script calls sent in one pipeline; an idempotency key
    # repeated across the first call's boundary resolves to the first job.
    backend = open_backend(shared_url)
    await backend.open()
    try:
        jobs = [new_job(queue="big") for _ in range(2500)]
        first, again = new_job(idempotency_key="k"), new_job(idempotency_key="k")
        jobs[10], jobs[1500] = first, again

        results = await backend.enqueue_many(jobs, now=T0)

        assert [r.job.id for r in results][:10] == [j.id for j in jobs[:10]]
        assert results[1500].existing
        assert results[1500].job.id == first.id
        assert sum(r.existing for r in results) == 1
        assert (await backend.stats()).states["queued"] == 2499
        assert [job.id for job in await claim(backend, queues=["big"], limit=3)] == [
            j.id for j in jobs[:3]
        ]
    finally:
        await backend.close()


async def test_a_pipelined_batch_survives_a_script_cache_flush(private_dir: Path) -> None:
    server = _server(private_dir)
    backend = open_backend(server.url + "?prefix=reload-many")
    try:
        await backend.open()
        client = redis.Redis(port=server.port)
        client.script_flush()
        client.close()

        results = await backend.enqueue_many([new_job() for _ in range(1500)], now=T0)

        assert not any(r.existing for r in results)
        assert (await backend.stats()).states["queued"] == 1500
    finally:
        await backend.close()
        server.close()


async def test_an_older_key_layout_is_refused_until_migrated(shared_url: str) -> None:
    prefix = shared_url.rpartition("prefix=")[2]
    client = redis.Redis.from_url(shared_url.partition("?")[0])
    client.set("{" + prefix + "}:schema", 0)  # as a release before layout 1 would leave it
    client.close()
    backend = open_backend(shared_url)

    with pytest.raises(SchemaOutOfDateError, match="conveyor migrate"):
        await backend.open()
    assert await backend.migrate() == ["0001_init"]
    assert await backend.migrate() == []
    await backend.open()
    await backend.ping()
    await backend.close()


async def test_wakeups_survive_a_redis_restart(
    private_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = _server(private_dir, "--appendonly", "yes", "--appendfsync", "always")
    url = server.url + "?prefix=wake&socket_connect_timeout=1"
    listener, producer = open_backend(url), open_backend(url)
    await listener.open()
    await producer.open()
    wakeups = listener.wakeups(["default"])
    try:
        async with asyncio.timeout(5):
            await anext(wakeups)  # the first wake-up comes at once
        with caplog.at_level(logging.INFO, logger=REDIS_LOG):
            waiting = asyncio.ensure_future(anext(wakeups))
            server.kill()
            async with asyncio.timeout(10):
                await waiting  # the lost subscription wakes its consumer to look
            server.start()
            # Once subscribed again, an enqueue wakes the iterator well before the
            # one-second safety net would.
            async with asyncio.timeout(20):
                while not any("restored" in r.getMessage() for r in caplog.records):
                    await anext(wakeups)
            loop = asyncio.get_running_loop()
            await enqueue(producer, now=T0)
            started = loop.time()
            async with asyncio.timeout(5):
                await anext(wakeups)
            assert loop.time() - started < 0.8
        messages = [r.getMessage() for r in caplog.records if r.name == REDIS_LOG]
        assert any("lost the wake-up subscription" in m for m in messages)
    finally:
        await wakeups.aclose()
        await listener.close()
        await producer.close()
        server.close()
