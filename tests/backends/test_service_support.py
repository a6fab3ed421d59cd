"""What the HTTP service needs from every store: job metadata, backpressure counts,
a health check and API keys."""

from __future__ import annotations

import hashlib
import json
import secrets

import uuid_utils

from conveyor.backends.base import Backend, JobQuery, NewApiKey
from conveyor.states import JobState
from tests.backends.conformance import (
    BackendFactory,
    at,
    claim,
    enqueue,
    job_in_state,
    new_job,
    require,
)

# --- meta ---------------------------------------------------------------------------

META = {"request": {"headers": {"x-trace": "abc"}, "path_params": {"id": "7"}}, "n": [1, 2.5]}


async def test_meta_is_stored_verbatim_and_read_back_everywhere(backend: Backend) -> None:
    job = new_job(meta_json=json.dumps(META))

    stored = await enqueue(backend, job)

    assert stored.meta == META
    assert (await require(backend, job.id)).meta == META
    [listed] = (await backend.list_jobs(JobQuery(queue=job.queue))).items
    assert listed.meta == META
    [claimed] = await claim(backend)
    assert claimed.meta_json is not None
    assert json.loads(claimed.meta_json) == META


async def test_job_without_meta_has_an_empty_one(backend: Backend) -> None:
    job = new_job()

    stored = await enqueue(backend, job)

    assert stored.meta == {}
    assert (await require(backend, job.id)).meta == {}
    [claimed] = await claim(backend)
    assert json.loads(claimed.meta_json or "{}") == {}


async def test_meta_survives_retry_and_idempotent_lookup(backend: Backend) -> None:
    job = new_job(meta_json=json.dumps(META), idempotency_key="k-meta")
    await enqueue(backend, job)

    [again] = await backend.enqueue_many([new_job(idempotency_key="k-meta")], now=at(1))

    assert again.existing
    assert again.job.meta == META


# --- count_waiting ------------------------------------------------------------------

NOT_WAITING = [JobState.RUNNING, JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED]
WAITING = [JobState.RETRYING, JobState.SCHEDULED, JobState.QUEUED]


async def _fill(backend: Backend, places: list[tuple[str, str | None]]) -> None:
    """One job in every state at each (queue, tenant). The states reached through a
    claim come first everywhere, so each claim finds only its own job."""
    claimed_path = [*NOT_WAITING, JobState.RETRYING]
    for states in (claimed_path, [JobState.SCHEDULED, JobState.QUEUED]):
        for queue, tenant in places:
            for state in states:
                await job_in_state(backend, state, queue=queue, tenant=tenant)


async def test_count_waiting_counts_only_waiting_states(backend: Backend) -> None:
    await _fill(backend, [("q1", None)])

    assert await backend.count_waiting(queue="q1", cap=100) == len(WAITING)
    assert await backend.count_waiting(cap=100) == len(WAITING)


async def test_count_waiting_filters_by_queue_and_tenant(backend: Backend) -> None:
    await _fill(backend, [("q1", "acme"), ("q2", "acme"), ("q1", "globex"), ("q1", None)])

    assert await backend.count_waiting(queue="q1", cap=100) == 3 * len(WAITING)
    assert await backend.count_waiting(queue="q2", cap=100) == len(WAITING)
    assert await backend.count_waiting(queue="nothing-here", cap=100) == 0
    assert await backend.count_waiting(tenant="acme", cap=100) == 2 * len(WAITING)
    assert await backend.count_waiting(tenant="acme", queue="q2", cap=100) == len(WAITING)
    assert await backend.count_waiting(tenant="globex", queue="q2", cap=100) == 0
    assert await backend.count_waiting(tenant="initech", cap=100) == 0
    assert await backend.count_waiting(cap=100) == 4 * len(WAITING)


async def test_count_waiting_stops_at_the_cap(backend: Backend) -> None:
    await backend.enqueue_many(
        [new_job(queue="q1", tenant="acme") for _ in range(5)]
        + [new_job(queue="q1", tenant="acme", run_at=at(3600)) for _ in range(5)],
        now=at(0),
    )

    assert await backend.count_waiting(queue="q1", cap=3) == 3
    assert await backend.count_waiting(tenant="acme", cap=7) == 7
    assert await backend.count_waiting(cap=10) == 10
    assert await backend.count_waiting(cap=1000) == 10
    assert await backend.count_waiting(cap=0) == 0


async def test_count_waiting_sees_another_instances_jobs(
    backend: Backend, other_backend: Backend
) -> None:
    await enqueue(other_backend, new_job(queue="q1", tenant="acme"))

    assert await backend.count_waiting(queue="q1", tenant="acme", cap=10) == 1


# --- ping ---------------------------------------------------------------------------


async def test_ping_answers_on_an_open_store(backend: Backend) -> None:
    await backend.ping()


# --- API keys -----------------------------------------------------------------------


def _new_key(*, tenant: str | None, admin: bool = False, name: str | None = None) -> NewApiKey:
    secret = secrets.token_urlsafe(32)
    return NewApiKey(
        id=f"key_{uuid_utils.uuid7().hex}",
        key_hash=hashlib.sha256(secret.encode()).hexdigest(),
        tenant=tenant,
        admin=admin,
        name=name,
    )


async def test_created_key_is_found_by_its_hash(backend: Backend, other_backend: Backend) -> None:
    new = _new_key(tenant="acme", name="ci")

    created = await backend.create_api_key(new, now=at(0))

    assert created.id == new.id
    assert (created.tenant, created.admin, created.name) == ("acme", False, "ci")
    assert created.created_at == at(0)
    assert created.revoked_at is None
    assert await other_backend.find_api_key(new.key_hash) == created
    assert await backend.find_api_key(hashlib.sha256(b"wrong").hexdigest()) is None


async def test_admin_key_may_have_no_tenant(backend: Backend) -> None:
    new = _new_key(tenant=None, admin=True)

    created = await backend.create_api_key(new, now=at(0))

    found = await backend.find_api_key(new.key_hash)
    assert found == created
    assert found is not None
    assert found.admin
    assert found.tenant is None


async def test_keys_are_listed_oldest_first_and_by_tenant(backend: Backend) -> None:
    first = await backend.create_api_key(_new_key(tenant="acme"), now=at(0))
    second = await backend.create_api_key(_new_key(tenant="globex"), now=at(1))
    third = await backend.create_api_key(_new_key(tenant="acme", admin=True), now=at(2))

    assert await backend.list_api_keys() == [first, second, third]
    assert await backend.list_api_keys(tenant="acme") == [first, third]
    assert await backend.list_api_keys(tenant="initech") == []


async def test_revoked_key_no_longer_authenticates_and_stays_listed(backend: Backend) -> None:
    new = _new_key(tenant="acme")
    await backend.create_api_key(new, now=at(0))

    revoked = await backend.revoke_api_key(new.id, now=at(5))
    again = await backend.revoke_api_key(new.id, now=at(9))

    assert revoked is not None
    assert revoked.revoked_at == at(5)
    assert again == revoked  # idempotent: the first revocation time stays
    assert await backend.find_api_key(new.key_hash) is None
    [listed] = await backend.list_api_keys(tenant="acme")
    assert listed.revoked_at == at(5)


async def test_revoking_an_unknown_key_returns_none(backend: Backend) -> None:
    assert await backend.revoke_api_key("key_missing", now=at(0)) is None


async def test_keys_live_apart_from_jobs(backend_factory: BackendFactory) -> None:
    backend = await backend_factory()
    await backend.create_api_key(_new_key(tenant="acme"), now=at(0))

    assert (await backend.stats()).states[JobState.QUEUED.value] == 0
    assert (await backend.list_jobs(JobQuery())).items == []
