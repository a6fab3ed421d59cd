"""Transactional enqueue: ``enqueue(..., connection=conn)`` writes the job inside the
caller's transaction, so it exists if and only if the caller commits (async and sync
twins), and the NOTIFY that wakes workers goes out only at that commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from pydantic import BaseModel

from conveyor import Conveyor
from conveyor.backends.postgres.connection import parse_url
from conveyor.errors import ConfigurationError, JobNotFoundError
from conveyor.jobs import JobType
from conveyor.testing import drain
from tests.postgres_schemas import fresh_postgres_schema


class Signup(BaseModel):
    email: str


def build(url: str) -> tuple[Conveyor, JobType[Signup, str]]:
    app = Conveyor(url)

    @app.job("welcome")
    async def welcome(payload: Signup) -> str:
        return f"hello {payload.email}"

    return app, welcome


@pytest.fixture
async def url(postgres_url: str) -> AsyncIterator[str]:
    async with fresh_postgres_schema(postgres_url) as url:
        yield url


@pytest.mark.parametrize("commit", [True, False])
async def test_async_enqueue_exists_iff_the_caller_commits(url: str, commit: bool) -> None:
    app, welcome = build(url)
    async with app, await psycopg.AsyncConnection.connect(parse_url(url).conninfo) as conn:
        async with conn.transaction(force_rollback=not commit):
            await conn.execute("SELECT 1")  # the caller's own work in the same transaction
            job = await welcome.enqueue(Signup(email="a@example.com"), connection=conn)
            assert job.state == "queued"
            # Not visible outside the transaction before it commits.
            with pytest.raises(JobNotFoundError):
                await app.get(job.id)

        if commit:
            assert await drain(app, timeout=10) == 1
            assert (await app.get(job.id)).result == "hello a@example.com"
        else:
            with pytest.raises(JobNotFoundError):
                await app.get(job.id)
            assert await drain(app, timeout=10) == 0


async def test_enqueue_many_in_a_transaction_is_all_or_nothing(url: str) -> None:
    app, welcome = build(url)
    async with app, await psycopg.AsyncConnection.connect(parse_url(url).conninfo) as conn:
        payloads = [{"email": f"{n}@example.com"} for n in range(50)]
        async with conn.transaction(force_rollback=True):
            jobs = await welcome.enqueue_many(payloads, connection=conn)
        assert len(jobs) == 50
        assert (await app.stats()).states["queued"] == 0
        async with conn.transaction():
            await welcome.enqueue_many(payloads, connection=conn)
        assert (await app.stats()).states["queued"] == 50


async def test_commit_wakes_an_idle_worker(url: str) -> None:
    app, welcome = build(url)
    async with app, await psycopg.AsyncConnection.connect(parse_url(url).conninfo) as conn:
        wakeups = app.backend.wakeups(["default"])
        try:
            async with asyncio.timeout(5):
                await anext(wakeups)
            async with conn.transaction():
                await welcome.enqueue({"email": "b@example.com"}, connection=conn)
            async with asyncio.timeout(0.8):  # well within the 1 s safety net
                await anext(wakeups)
        finally:
            await wakeups.aclose()


@pytest.mark.parametrize("commit", [True, False])
def test_sync_enqueue_exists_iff_the_caller_commits(url: str, commit: bool) -> None:
    app, welcome = build(url)
    try:
        with psycopg.connect(parse_url(url).conninfo) as conn:
            with conn.transaction(force_rollback=not commit):
                job = welcome.enqueue_sync({"email": "c@example.com"}, connection=conn)
                [other] = welcome.enqueue_many_sync([{"email": "d@example.com"}], connection=conn)
                with pytest.raises(JobNotFoundError):
                    app.get_sync(job.id)
            if commit:
                assert app.get_sync(job.id).state == "queued"
                assert app.get_sync(other.id).payload == {"email": "d@example.com"}
            else:
                for missing in (job, other):
                    with pytest.raises(JobNotFoundError):
                        app.get_sync(missing.id)
    finally:
        app.portal.call(app.close())
        app.portal.stop()


async def test_idempotency_key_inside_a_transaction_returns_the_existing_job(url: str) -> None:
    app, welcome = build(url)
    async with app, await psycopg.AsyncConnection.connect(parse_url(url).conninfo) as conn:
        first = await welcome.enqueue({"email": "e@example.com"}, idempotency_key="k1")
        async with conn.transaction():
            again = await welcome.enqueue(
                {"email": "e@example.com"}, idempotency_key="k1", connection=conn
            )
        assert again == first


async def test_connection_on_another_store_is_a_clear_error(tmp_path: Path) -> None:
    app, welcome = build(f"sqlite:///{tmp_path / 'jobs.db'}")
    with pytest.raises(ConfigurationError, match="needs a PostgreSQL store"):
        await welcome.enqueue({"email": "f@example.com"}, connection=object())
    with pytest.raises(ConfigurationError, match="needs a PostgreSQL store"):
        welcome.enqueue_sync({"email": "f@example.com"}, connection=object())
    await app.close()
    app.portal.stop()


async def test_connection_of_the_wrong_kind_is_a_type_error(url: str) -> None:
    app, welcome = build(url)
    with (
        psycopg.connect(parse_url(url).conninfo) as sync_conn,
        pytest.raises(TypeError, match="AsyncConnection"),
    ):
        await welcome.enqueue({"email": "g@example.com"}, connection=sync_conn)
    async with await psycopg.AsyncConnection.connect(parse_url(url).conninfo) as conn:
        with pytest.raises(TypeError, match=r"psycopg\.Connection"):
            welcome.enqueue_sync({"email": "g@example.com"}, connection=conn)
    await app.close()
    app.portal.stop()
