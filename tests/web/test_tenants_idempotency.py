"""Tenant isolation, idempotent submission (also from 20 concurrent clients) and
backpressure, against a real server."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx

from conveyor.web import WebSettings
from conveyor.web.auth import issue_key
from tests.web.conftest import Live, StartServer
from tests.web.test_jobs_api import assert_problem, submit

ADD = {"type": "math.add", "payload": {"a": 1, "b": 2}}


def test_a_tenant_sees_and_changes_only_its_own_jobs(live: Live) -> None:
    with live.client("acme") as acme, live.client("globex") as globex, live.client() as admin:
        mine = submit(acme, ADD).json()
        theirs = submit(globex, ADD).json()
        assert (mine["tenant"], theirs["tenant"]) == ("acme", "globex")
        job = f"/v1/jobs/{mine['id']}"
        for response in (
            globex.get(job),
            globex.get(f"{job}/attempts"),
            globex.post(f"{job}/cancel"),
            globex.post(f"{job}/retry"),
            globex.delete(job),
        ):
            assert_problem(response, 404, "job-not-found")
        assert [j["id"] for j in globex.get("/v1/jobs").json()["items"]] == [theirs["id"]]
        # A tenant cannot widen its listing with the admin-only tenant filter.
        widened = globex.get("/v1/jobs", params={"tenant": "acme"}).json()["items"]
        assert [j["id"] for j in widened] == [theirs["id"]]
        assert acme.get(job).status_code == 200
        assert {j["id"] for j in admin.get("/v1/jobs").json()["items"]} == {
            mine["id"],
            theirs["id"],
        }
        only_acme = admin.get("/v1/jobs", params={"tenant": "acme"}).json()["items"]
        assert [j["id"] for j in only_acme] == [mine["id"]]
        assert admin.post(f"{job}/cancel").json()["state"] == "cancelled"
    assert live.app.portal.call(live.app.get(mine["id"])).state == "cancelled"


def test_same_key_same_request_returns_the_original_job(live: Live) -> None:
    with live.client("acme") as acme:
        first = submit(acme, ADD, headers={"Idempotency-Key": "order-1"})
        again = submit(acme, ADD, headers={"Idempotency-Key": '"order-1"'})  # sf-string form
        by_body = submit(acme, {**ADD, "idempotency_key": "order-1"})
        listed = acme.get("/v1/jobs").json()["items"]
    assert first.status_code == 202
    assert (again.status_code, by_body.status_code) == (200, 200)
    assert again.json()["id"] == by_body.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert len(listed) == 1


def test_same_key_different_payload_is_422(live: Live) -> None:
    with live.client("acme") as acme:
        submit(acme, ADD, headers={"Idempotency-Key": "order-2"})
        other = submit(
            acme,
            {"type": "math.add", "payload": {"a": 5, "b": 5}},
            headers={"Idempotency-Key": "order-2"},
        )
        mismatch = submit(acme, {**ADD, "idempotency_key": "x"}, headers={"Idempotency-Key": "y"})
        listed = acme.get("/v1/jobs").json()["items"]
    assert_problem(other, 422, "idempotency-key-reused")
    assert_problem(mismatch, 422, "invalid-idempotency-key")
    assert len(listed) == 1


def test_idempotency_keys_are_scoped_per_tenant(live: Live) -> None:
    with live.client("acme") as acme, live.client("globex") as globex:
        a = submit(acme, ADD, headers={"Idempotency-Key": "shared"})
        g = submit(
            globex,
            {"type": "math.add", "payload": {"a": 7, "b": 7}},
            headers={"Idempotency-Key": "shared"},
        )
    assert (a.status_code, g.status_code) == (202, 202)
    assert a.json()["id"] != g.json()["id"]


async def test_twenty_concurrent_idempotent_posts_store_one_job(live: Live) -> None:
    barrier = asyncio.Barrier(20)
    headers = {"Authorization": f"Bearer {live.keys.acme}", "Idempotency-Key": "burst"}

    async def post(client: httpx.AsyncClient) -> httpx.Response:
        await barrier.wait()
        return await client.post("/v1/jobs", json=ADD, headers=headers)

    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=live.url, timeout=30, limits=limits) as client:
        async with asyncio.timeout(60):
            responses = await asyncio.gather(*(post(client) for _ in range(20)))
        listed = await client.get("/v1/jobs", headers={"Authorization": headers["Authorization"]})
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [202], [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(listed.json()["items"]) == 1


def test_backpressure_per_queue_answers_429_and_stores_nothing(start_server: StartServer) -> None:
    live = start_server(WebSettings(max_waiting_per_queue=2, retry_after=7))
    with live.client("acme") as acme, live.client("globex") as globex:
        assert [submit(acme, ADD).status_code for _ in range(2)] == [202, 202]
        refused = submit(globex, ADD)
        other_queue = submit(acme, {**ADD, "queue": "elsewhere"})
        keyed = submit(acme, {**ADD, "queue": "elsewhere", "idempotency_key": "k"})
        # 'elsewhere' is full now, yet a retried submission gets its job back.
        replayed = submit(acme, {**ADD, "queue": "elsewhere", "idempotency_key": "k"})
        full = submit(acme, {**ADD, "queue": "elsewhere"})
    body = assert_problem(refused, 429, "too-many-waiting-jobs")
    assert refused.headers["retry-after"] == "7"
    assert "'default'" in body["detail"]
    assert other_queue.status_code == 202
    assert (keyed.status_code, replayed.status_code) == (202, 200)
    assert replayed.json()["id"] == keyed.json()["id"]
    assert_problem(full, 429, "too-many-waiting-jobs")
    stats = live.app.portal.call(live.app.stats())
    assert stats.queues["default"]["queued"] == 2
    assert stats.queues["elsewhere"]["queued"] == 2


def test_backpressure_per_tenant(start_server: StartServer) -> None:
    live = start_server(WebSettings(max_waiting_per_tenant=1))
    with live.client("acme") as acme, live.client("globex") as globex:
        first = submit(acme, ADD)
        second = submit(acme, ADD)
        other_tenant = submit(globex, ADD)
        live.app.portal.call(live.app.drain(timeout=20))  # acme's job runs: room again
        after_drain = submit(acme, ADD)
    assert first.status_code == 202
    assert_problem(second, 429, "too-many-waiting-jobs")
    assert int(second.headers["retry-after"]) >= 1
    assert other_tenant.status_code == 202
    assert after_drain.status_code == 202


def test_a_key_without_tenant_that_is_not_admin_is_refused(live: Live) -> None:
    issued = issue_key(tenant="placeholder")
    tenantless = dataclasses.replace(issued.record, tenant=None)
    live.app.portal.call(live.app.backend.create_api_key(tenantless))
    with live.client(issued.secret) as client:
        assert_problem(client.get("/v1/jobs"), 401, "unauthorized")
