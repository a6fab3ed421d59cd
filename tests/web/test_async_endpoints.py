"""``async_endpoint`` and ``create_router`` in a user's FastAPI app, on a real server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from conveyor import Conveyor
from conveyor.web import Problem, WebSettings, async_endpoint, create_router
from tests.web.conftest import Echo, Live, StartServer, build_app, serve_in_thread
from tests.web.test_jobs_api import assert_problem


def add_echo_endpoint(web: FastAPI, app: Conveyor) -> None:
    def validate(payload: Echo, request: Request) -> Response | None:
        if payload.text == "teapot":
            return JSONResponse({"detail": "no teapots"}, status_code=418)
        if payload.text == "shout":
            raise Problem(422, "rejected", "Say it quietly.")
        return None

    async_endpoint(
        web,
        "/api/echo/{who}",
        job=app.registry["echo.request"],
        validate=validate,
        settings=WebSettings(redact_headers=frozenset({"X-Secret"}), max_waiting_per_queue=50),
        tenant=lambda request: request.headers.get("x-tenant"),
    )


def test_async_endpoint_queues_the_job_with_the_captured_request(
    start_server: StartServer,
) -> None:
    live = start_server(customise=add_echo_endpoint)
    with live.client(None) as client:
        response = client.post(
            "/api/echo/bob",
            params={"lang": "en"},
            json={"text": "hi"},
            headers={
                "Authorization": "Bearer s3cret",
                "Cookie": "session=abc",
                "X-Secret": "hush",
                "X-Trace": "t-1",
            },
        )
        assert response.status_code == 202, response.text
        job = response.json()
        assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    live.app.portal.call(live.app.drain(timeout=20))
    with live.client() as admin:
        done = admin.get(response.headers["location"]).json()
    assert done["state"] == "succeeded", done
    result: dict[str, Any] = done["result"]
    assert (result["text"], result["method"], result["path"]) == ("hi", "POST", "/api/echo/bob")
    assert result["path_params"] == {"who": "bob"}
    assert result["query_params"] == {"lang": "en"}
    headers = result["headers"]
    assert headers["authorization"] == headers["cookie"] == headers["x-secret"] == "[redacted]"
    assert headers["x-trace"] == "t-1"
    assert "s3cret" not in str(done)
    assert "hush" not in str(done)


def test_async_endpoint_validation_hook_and_idempotency(start_server: StartServer) -> None:
    live = start_server(customise=add_echo_endpoint)
    with live.client(None) as client:
        invalid = client.post("/api/echo/bob", json={"txt": "hi"})
        malformed = client.post(
            "/api/echo/bob", content=b"{", headers={"Content-Type": "application/json"}
        )
        teapot = client.post("/api/echo/bob", json={"text": "teapot"})
        shout = client.post("/api/echo/bob", json={"text": "shout"})
        first = client.post("/api/echo/bob", json={"text": "a"}, headers={"Idempotency-Key": "e1"})
        again = client.post("/api/echo/bob", json={"text": "a"}, headers={"Idempotency-Key": "e1"})
        changed = client.post(
            "/api/echo/bob", json={"text": "b"}, headers={"Idempotency-Key": "e1"}
        )
    errors = assert_problem(invalid, 422, "invalid-request")["errors"]
    assert [(e["loc"], e["pointer"]) for e in errors] == [(["text"], "/text")]
    assert_problem(malformed, 400, "malformed-json")
    assert teapot.status_code == 418
    assert_problem(shout, 422, "rejected")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert_problem(changed, 422, "idempotency-key-reused")
    jobs = live.app.portal.call(live.app.list(type="echo.request", limit=100)).items
    assert len(jobs) == 1  # nothing else was queued


class Note(BaseModel):
    text: str


def test_create_router_mounts_the_api_into_an_existing_app(live: Live) -> None:
    # A Conveyor of its own, opened and closed on the server's loop, as a host app would.
    served = build_app(live.store_url)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with served:
            yield

    user_app = FastAPI(lifespan=lifespan)

    @user_app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    user_app.include_router(create_router(served, WebSettings(auth=False)), prefix="/jobs-api")
    with (
        serve_in_thread(user_app) as (base, _server),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        assert client.get("/hello").json() == {"hello": "world"}
        created = client.post(
            "/jobs-api/v1/jobs", json={"type": "math.add", "payload": {"a": 2, "b": 3}}
        )
        malformed = client.post(
            "/jobs-api/v1/jobs", content=b"{", headers={"Content-Type": "application/json"}
        )
        invalid = client.post("/jobs-api/v1/jobs", json={"type": "math.add", "payload": {}})
        fetched = client.get(created.headers["location"])
    assert created.status_code == 202
    assert created.headers["location"].startswith("/jobs-api/v1/jobs/")
    assert fetched.json()["id"] == created.json()["id"]
    # Problem details even though the host app installed no handlers of ours.
    assert_problem(malformed, 400, "malformed-json")
    assert_problem(invalid, 422, "invalid-payload")


def test_async_endpoint_jobs_can_belong_to_a_tenant(start_server: StartServer) -> None:
    live = start_server(customise=add_echo_endpoint)
    with live.client(None) as client:
        acme = client.post("/api/echo/a", json={"text": "x"}, headers={"X-Tenant": "acme"})
        nobody = client.post("/api/echo/b", json={"text": "x"})
    assert (acme.json()["tenant"], nobody.json()["tenant"]) == ("acme", None)
    with live.client("acme") as owner, live.client("globex") as other:
        assert owner.get(acme.headers["location"]).status_code == 200
        assert_problem(other.get(acme.headers["location"]), 404, "job-not-found")
