"""list_jobs: filters, newest-first order, cursor pagination; and stats."""

from __future__ import annotations

import pytest

from conveyor.backends.base import Backend, JobQuery
from conveyor.errors import InvalidCursorError
from conveyor.models import Job
from conveyor.states import JobState
from tests.backends.conformance import REACHABLE_STATES, T0, enqueue, job_in_state, new_job


async def _all_pages(backend: Backend, query: JobQuery) -> tuple[list[Job], int]:
    """Every job of a listing, following cursors; and how many pages it took."""
    jobs: list[Job] = []
    pages = 0
    cursor: str | None = None
    while True:
        page = await backend.list_jobs(
            JobQuery(
                state=query.state,
                type=query.type,
                queue=query.queue,
                tenant=query.tenant,
                idempotency_key=query.idempotency_key,
                limit=query.limit,
                cursor=cursor,
            )
        )
        pages += 1
        jobs.extend(page.items)
        assert len(page.items) <= query.limit
        if page.next_cursor is None:
            return jobs, pages
        cursor = page.next_cursor
        assert pages < 100, "pagination does not end"


async def test_list_is_newest_first(backend: Backend) -> None:
    jobs = [await enqueue(backend, now=T0) for _ in range(3)]

    page = await backend.list_jobs(JobQuery())

    assert [job.id for job in page.items] == [job.id for job in reversed(jobs)]
    assert page.items == list(reversed(jobs))
    assert page.next_cursor is None


async def test_cursor_pagination_has_no_duplicates_or_misses(backend: Backend) -> None:
    jobs = [await enqueue(backend, now=T0) for _ in range(23)]

    listed, pages = await _all_pages(backend, JobQuery(limit=5))

    assert pages == 5
    assert [job.id for job in listed] == [job.id for job in reversed(jobs)]


async def test_exact_multiple_of_the_limit_ends_without_an_empty_page(backend: Backend) -> None:
    for _ in range(4):
        await enqueue(backend, now=T0)

    first = await backend.list_jobs(JobQuery(limit=2))
    assert first.next_cursor is not None
    second = await backend.list_jobs(JobQuery(limit=2, cursor=first.next_cursor))

    assert len(second.items) == 2
    assert second.next_cursor is None


async def test_new_jobs_do_not_shift_later_pages(backend: Backend) -> None:
    jobs = [await enqueue(backend, now=T0) for _ in range(6)]
    first = await backend.list_jobs(JobQuery(limit=3))
    await enqueue(backend, now=T0)  # arrives between two page reads

    second = await backend.list_jobs(JobQuery(limit=3, cursor=first.next_cursor))

    assert [job.id for job in first.items + second.items] == [job.id for job in reversed(jobs)]


async def test_filters_select_matching_jobs(backend: Backend) -> None:
    a = await enqueue(backend, new_job(type="email.send", queue="emails", tenant="acme"), now=T0)
    b = await enqueue(backend, new_job(type="email.send", queue="emails", tenant="globex"), now=T0)
    c = await enqueue(backend, new_job(type="report.build", queue="reports", tenant="acme"), now=T0)
    d = await enqueue(backend, new_job(type="report.build", idempotency_key="r-1"), now=T0)
    await backend.cancel(b.id, now=T0)

    async def ids(query: JobQuery) -> set[str]:
        listed, _ = await _all_pages(backend, query)
        return {job.id for job in listed}

    assert await ids(JobQuery()) == {a.id, b.id, c.id, d.id}
    assert await ids(JobQuery(type="email.send")) == {a.id, b.id}
    assert await ids(JobQuery(queue="reports")) == {c.id}
    assert await ids(JobQuery(tenant="acme")) == {a.id, c.id}
    assert await ids(JobQuery(state=JobState.CANCELLED)) == {b.id}
    assert await ids(JobQuery(state=JobState.QUEUED)) == {a.id, c.id, d.id}
    assert await ids(JobQuery(idempotency_key="r-1")) == {d.id}
    assert await ids(JobQuery(type="email.send", tenant="acme")) == {a.id}
    assert await ids(JobQuery(state=JobState.QUEUED, type="report.build", queue="reports")) == {
        c.id
    }
    assert await ids(JobQuery(type="email.send", state=JobState.SUCCEEDED)) == set()
    assert await ids(JobQuery(tenant="nobody")) == set()


@pytest.mark.parametrize(
    "query",
    [
        JobQuery(state=JobState.SUCCEEDED, limit=2),
        JobQuery(type="paged", limit=2),
        JobQuery(tenant="paged", limit=2),
        JobQuery(queue="paged", limit=2),
    ],
    ids=["state", "type", "tenant", "queue"],
)
async def test_filtered_listing_paginates(backend: Backend, query: JobQuery) -> None:
    matching = [
        await job_in_state(backend, JobState.SUCCEEDED, now=T0)
        if query.state
        else await enqueue(backend, new_job(type="paged", tenant="paged", queue="paged"), now=T0)
        for _ in range(5)
    ]
    for _ in range(3):
        await enqueue(backend, new_job(type="noise", queue="noise"), now=T0)

    listed, pages = await _all_pages(backend, query)

    assert pages == 3
    assert [job.id for job in listed] == [job.id for job in reversed(matching)]


@pytest.mark.parametrize("by_type", [False, True], ids=["no filter", "type"])
async def test_listing_interleaves_running_jobs_with_the_others(
    backend: Backend, by_type: bool
) -> None:
    # A store may read running jobs apart from the others (PostgreSQL does): the pages
    # still hold every job once, newest first, whatever state each one is in.
    made = [
        await job_in_state(backend, state, now=T0) for _ in range(2) for state in REACHABLE_STATES
    ]

    query = JobQuery(type=made[0].type if by_type else None, limit=3)
    listed, _ = await _all_pages(backend, query)

    ids = [job.id for job in listed]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)
    assert {job.id for job in made} <= set(ids)
    running = {job.id for job in made if job.state is JobState.RUNNING}
    assert len(running) == 2
    assert running <= set(ids)


@pytest.mark.parametrize("state", REACHABLE_STATES, ids=lambda state: state.value)
async def test_listing_by_each_state_paginates_newest_first(
    backend: Backend, state: JobState
) -> None:
    matching = [await job_in_state(backend, state, now=T0) for _ in range(5)]
    for other in REACHABLE_STATES:
        if other is not state:
            await job_in_state(backend, other, now=T0)

    listed, pages = await _all_pages(backend, JobQuery(state=state, limit=2))

    assert pages == 3
    assert [job.id for job in listed] == [job.id for job in reversed(matching)]
    assert all(job.state is state for job in listed)
    one = matching[2]
    page = await backend.list_jobs(JobQuery(state=state, queue=one.queue))
    assert [job.id for job in page.items] == [one.id]


@pytest.mark.parametrize("cursor", ["", "not a cursor", "%%%", "AAAA", "bm9wZQ"])
async def test_invalid_cursor_is_rejected(backend: Backend, cursor: str) -> None:
    await enqueue(backend, now=T0)

    with pytest.raises(InvalidCursorError):
        await backend.list_jobs(JobQuery(cursor=cursor))


async def test_stats_count_every_state_in_total_and_per_queue(backend: Backend) -> None:
    empty = await backend.stats()
    assert empty.states == dict.fromkeys((state.value for state in JobState), 0)
    assert empty.queues == {}

    await enqueue(backend, new_job(queue="a"), now=T0)
    await enqueue(backend, new_job(queue="a"), now=T0)
    await enqueue(backend, new_job(queue="b"), now=T0)
    dead = await job_in_state(backend, JobState.DEAD, now=T0)

    stats = await backend.stats()

    assert set(stats.states) == {state.value for state in JobState}
    assert stats.states["queued"] == 3
    assert stats.states["dead"] == 1
    assert sum(stats.states.values()) == 4
    assert stats.queues["a"]["queued"] == 2
    assert stats.queues["b"]["queued"] == 1
    assert stats.queues[dead.queue]["dead"] == 1
    assert all(counts.get("running", 0) == 0 for counts in stats.queues.values())
