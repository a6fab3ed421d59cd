"""The PostgreSQL store's own promises: URLs, schema checks, migrations from several
processes, the claim plan, event ids that never skip a late commit, heartbeats that do
not queue behind a busy pool.

Store-specific on purpose (the conformance suite in tests/backends/ never looks inside
a store): these tests talk to PostgreSQL with psycopg directly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import sql

from conveyor.backends import open_backend
from conveyor.backends.base import ClaimParams, Lease, LeaseParams, Outcome
from conveyor.backends.postgres import PostgresBackend
from conveyor.backends.postgres.backend import HOUSEKEEPING_INTERVAL_SECONDS, _finish_document
from conveyor.backends.postgres.connection import migrations, parse_url
from conveyor.backends.postgres.pools import POOL_MAX_SIZE
from conveyor.clock import SystemClock
from conveyor.errors import ConfigurationError, SchemaOutOfDateError, StoreUnavailableError
from conveyor.states import JobState
from tests.backends.conformance import T0, claim, enqueue, new_job, outcome
from tests.postgres_schemas import fresh_postgres_schema, with_schema

ALL_MIGRATIONS = [migration.name for migration in migrations()]


@pytest.fixture
async def url(postgres_url: str) -> AsyncIterator[str]:
    async with fresh_postgres_schema(postgres_url) as url:
        yield url


@pytest.fixture
async def backend(url: str) -> AsyncIterator[PostgresBackend]:
    backend = open_backend(url)
    assert isinstance(backend, PostgresBackend)
    await backend.open()
    yield backend
    await backend.close()


def test_url_schema_option_is_taken_out_of_the_libpq_url() -> None:
    target = parse_url("postgresql://u:p@db.example:5433/app?sslmode=require&schema=myapp")
    assert target.schema == "myapp"
    assert target.conninfo == "postgresql://u:p@db.example:5433/app?sslmode=require"
    assert parse_url("postgres://localhost/app").schema == "conveyor"
    assert parse_url("postgres://localhost/app").channel == "conveyor:conveyor"


@pytest.mark.parametrize("schema", ["MyApp", "1abc", "a-b", "x" * 49, ""])
def test_url_with_an_invalid_schema_is_a_configuration_error(schema: str) -> None:
    with pytest.raises(ConfigurationError, match="schema"):
        open_backend(f"postgresql://localhost/app?schema={schema}")


async def test_open_refuses_an_unmigrated_schema_saying_to_run_migrate(postgres_url: str) -> None:
    async with fresh_postgres_schema(postgres_url, migrate=False) as url:
        backend = open_backend(url)
        with pytest.raises(SchemaOutOfDateError, match="conveyor migrate --url"):
            await backend.open()
        await backend.close()


async def test_open_refuses_a_schema_older_than_the_code(url: str) -> None:
    schema = parse_url(url).schema
    async with await psycopg.AsyncConnection.connect(parse_url(url).conninfo) as conn:
        await conn.execute(
            sql.SQL("DELETE FROM {}.conveyor_migrations WHERE name = %s").format(
                sql.Identifier(schema)
            ),
            [ALL_MIGRATIONS[-1]],
        )
    backend = open_backend(url)
    with pytest.raises(SchemaOutOfDateError, match=ALL_MIGRATIONS[-1]) as caught:
        await backend.open()
    assert "conveyor migrate --url" in str(caught.value)


async def test_unreachable_server_is_store_unavailable() -> None:
    # Port 9 (discard) on localhost: nothing listens there.
    backend = open_backend("postgresql://postgres@127.0.0.1:9/test?connect_timeout=2")
    with pytest.raises(StoreUnavailableError):
        await backend.open()
    with pytest.raises(StoreUnavailableError):
        await backend.migrate()


def test_migrate_from_several_processes_at_once_applies_each_file_once(
    postgres_url: str,
) -> None:
    async def run() -> None:
        async with fresh_postgres_schema(postgres_url, migrate=False) as url:
            command = [sys.executable, "-m", "conveyor", "migrate", "--url", url]
            processes = [
                subprocess.Popen(  # noqa: ASYNC220  # started together, on purpose
                    command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
                for _ in range(4)
            ]
            outputs = [process.communicate(timeout=60) for process in processes]
            assert [process.returncode for process in processes] == [0] * 4, outputs
            # Exactly one process applied each migration; the others found it applied.
            applied = [out for out, _ in outputs if ALL_MIGRATIONS[0] in out]
            assert len(applied) == 1, outputs
            backend = open_backend(url)
            await backend.open()
            assert await backend.migrate() == []
            await backend.close()

    asyncio.run(run())


async def test_claim_walks_the_claim_index(backend: PostgresBackend, url: str) -> None:
    # Enough rows, and statistics, for the planner to prefer an index to a scan.
    jobs = [new_job(queue="busy", priority=n % 3) for n in range(5000)]
    await backend.enqueue_many([*jobs, *(new_job(queue=f"q{n}") for n in range(100))], now=T0)
    target = parse_url(url)
    async with await psycopg.AsyncConnection.connect(target.conninfo, autocommit=True) as conn:
        await conn.execute(sql.SQL("ANALYZE {}.jobs").format(sql.Identifier(target.schema)))
        explain = "EXPLAIN (FORMAT TEXT) " + backend.statements.CLAIM_WALK
        cursor = await conn.execute(
            explain.encode(), {"queue": "busy", "now": T0, "limit": 100}, prepare=False
        )
        plan = "\n".join(row[0] for row in await cursor.fetchall())
    assert "jobs_claim" in plan, plan
    assert "Sort" not in plan, plan  # the index yields claim order: no sort of the backlog


async def test_finish_and_heartbeat_look_jobs_up_by_key_without_statistics(
    backend: PostgresBackend, url: str
) -> None:
    # Never analyzed (autovacuum off or not yet run): the planner then costs 100 key
    # probes above a scan of the whole table, unless told the batch is small.
    await backend.enqueue_many([new_job() for _ in range(20_000)], now=T0)
    claimed = await claim(backend, limit=100, now=T0)
    outcomes = [
        Outcome(job_id=j.id, lease_token=j.lease_token, state=JobState.SUCCEEDED, reason="ok")
        for j in claimed
    ]
    bound_finish = _finish_document(outcomes) | {"now": T0}
    bound_heartbeat = {
        "now": T0,
        "lease_seconds": 30.0,
        "ids": [j.id for j in claimed],
        "tokens": [j.lease_token for j in claimed],
    }
    target = parse_url(url)
    async with await psycopg.AsyncConnection.connect(target.conninfo, autocommit=True) as conn:
        for statement, bound in (
            (backend.statements.FINISH_MANY, bound_finish),
            (backend.statements.EXTEND_LEASES, bound_heartbeat),
        ):
            cursor = await conn.execute(("EXPLAIN " + statement).encode(), bound, prepare=False)
            plan = "\n".join(row[0] for row in await cursor.fetchall())
            assert "jobs_pkey" in plan, plan
            assert "Seq Scan on jobs" not in plan, plan


async def test_claims_between_housekeeping_steps_never_take_an_expired_job(
    backend: PostgresBackend,
) -> None:
    # The database's clock (now=None), as in production: the first claim runs the
    # housekeeping step, the next ones within HOUSEKEEPING_INTERVAL_SECONDS do not.
    params = ClaimParams(queues=["default"], limit=10, worker_id="w", lease_seconds=30)
    assert await backend.claim_batch(params) == []
    past = SystemClock().now() - dt.timedelta(minutes=1)
    [expired] = await backend.enqueue_many([new_job(expire_at=past)])
    [fresh] = await backend.enqueue_many([new_job()])

    claimed = await backend.claim_batch(params)  # no housekeeping step: too soon

    assert [job.id for job in claimed] == [fresh.job.id]
    still = await backend.get(expired.job.id)
    assert still is not None
    assert still.state is JobState.QUEUED  # not run, and not yet cancelled either
    await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS)
    assert await backend.claim_batch(params) == []
    gone = await backend.get(expired.job.id)
    assert gone is not None
    assert (gone.state, gone.reason) == (JobState.CANCELLED, "expired")


async def test_a_retry_due_at_once_is_claimed_by_the_next_claim(backend: PostgresBackend) -> None:
    params = ClaimParams(queues=["default"], limit=10, worker_id="w", lease_seconds=30)
    await backend.enqueue_many([new_job()])
    [first] = await backend.claim_batch(params)
    await backend.finish_many([outcome(first, JobState.RETRYING, retry_in=0)])

    [again] = await backend.claim_batch(params)  # within the interval, yet promoted

    assert (again.id, again.attempt) == (first.id, 2)


async def test_connections_of_ended_event_loops_are_closed(
    backend: PostgresBackend, url: str
) -> None:
    """One asyncio.run() per call (a script, a sync web view) is a new loop each time:
    the connections of the loops that ended are closed when the next loop arrives, not
    kept until the server refuses new ones."""
    pids: list[int] = []

    async def one_call() -> None:
        await backend.get("no-such-job")
        async with backend._connection() as connection:
            pids.append(connection.info.backend_pid)

    def five_loops() -> None:
        for _ in range(5):
            asyncio.run(one_call())

    await asyncio.to_thread(five_loops)

    target = parse_url(url)
    async with await psycopg.AsyncConnection.connect(target.conninfo, autocommit=True) as conn:
        cursor = await conn.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
        alive = {row[0] for row in await cursor.fetchall()}
    assert len(set(pids)) == 5
    assert alive <= {pids[-1]}  # only the last loop's, until the next loop or close()
    await backend.close()
    async with await psycopg.AsyncConnection.connect(target.conninfo, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
        )
        assert await cursor.fetchone() == (0,)


async def test_read_events_never_skips_an_event_that_commits_late(
    backend: PostgresBackend, url: str
) -> None:
    target = parse_url(url)
    async with await psycopg.AsyncConnection.connect(target.conninfo) as early:
        # An event taken first, committed last: a transaction left open.
        [slow] = await backend.enqueue_many_in_transaction(early, [new_job()], now=T0)
        fast = await enqueue(backend, now=T0)

        seen = await backend.read_events(limit=100)
        assert slow.job.id not in {event.job_id for event in seen}
        # The reader holds back events after the open transaction's, not only its own.
        assert fast.id not in {event.job_id for event in seen}
        last = seen[-1].id if seen else 0
        await early.commit()

    later = await backend.read_events(after=last, limit=100)
    assert [event.job_id for event in later] == [slow.job.id, fast.id]


async def test_heartbeats_do_not_wait_for_a_busy_pool(backend: PostgresBackend, url: str) -> None:
    await enqueue(backend, new_job(queue="held"), now=T0)
    [running] = await claim(backend, queues=["held"], now=T0)
    blocked = await enqueue(backend, new_job(queue="blocked"), now=T0)
    target = parse_url(url)
    async with (
        await psycopg.AsyncConnection.connect(target.conninfo) as holder,
        # pg_stat_activity is read once per transaction: watch it in autocommit.
        await psycopg.AsyncConnection.connect(target.conninfo, autocommit=True) as watcher,
    ):
        # Lock one job's row, then fill the whole pool with cancels waiting for it.
        await holder.execute(
            sql.SQL("SELECT 1 FROM {}.jobs WHERE id = %s FOR UPDATE").format(
                sql.Identifier(target.schema)
            ),
            [blocked.id],
        )
        waiting = [
            asyncio.ensure_future(backend.cancel(blocked.id, now=T0)) for _ in range(POOL_MAX_SIZE)
        ]
        async with asyncio.timeout(10):
            # Polling a fact in the server (no event to wait on): the cancels wait.
            while not all(await _waiting_on_locks(watcher, target.schema, POOL_MAX_SIZE)):  # noqa: ASYNC110
                await asyncio.sleep(0.01)

        async with asyncio.timeout(5):
            renewed = await backend.extend_leases(
                LeaseParams(
                    leases=[Lease(running.id, running.lease_token)], lease_seconds=30, now=T0
                )
            )
        assert renewed == [running.id]
        await holder.rollback()
    async with asyncio.timeout(10):
        await asyncio.gather(*waiting)


async def _waiting_on_locks(
    conn: psycopg.AsyncConnection[tuple[object, ...]], schema: str, count: int
) -> list[bool]:
    cursor = await conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
        [f"%{schema}%"],
    )
    row = await cursor.fetchone()
    assert row is not None
    return [int(str(row[0])) >= count]


async def test_schema_urls_keep_stores_apart(postgres_url: str) -> None:
    async with (
        fresh_postgres_schema(postgres_url) as first_url,
        fresh_postgres_schema(postgres_url) as second_url,
    ):
        first, second = open_backend(first_url), open_backend(second_url)
        await first.open()
        await second.open()
        job = await enqueue(first, now=T0)
        assert await second.get(job.id) is None
        assert (await first.get(job.id)) == job
        await first.close()
        await second.close()
    assert with_schema("postgresql://h/db", "x") == "postgresql://h/db?schema=x"
