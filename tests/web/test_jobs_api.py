"""The REST API against a real server: every route, and every error as problem+json."""

from __future__ import annotations

from typing import Any

import httpx

from conveyor.states import JobState
from tests.web.conftest import Live

PROBLEM = "application/problem+json"


def submit(client: httpx.Client, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return client.post("/v1/jobs", json=body, **kwargs)


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].endswith(f"/problems/{slug}"), body
    assert body["title"]
    return body


def test_submit_answers_202_with_location_and_the_job(live: Live) -> None:
    with live.client() as client:
        response = submit(client, {"type": "math.add", "payload": {"a": 1, "b": 2}})
        assert response.status_code == 202
        job = response.json()
        assert job["state"] == "queued"
        assert job["payload"] == {"a": 1, "b": 2}
        assert response.headers["location"] == f"/v1/jobs/{job['id']}"
        fetched = client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json()["id"] == job["id"]


def test_submit_options_are_applied(live: Live) -> None:
    body = {
        "type": "math.add",
        "payload": {"a": 1, "b": 2},
        "delay": 3600,
        "max_attempts": 7,
        "queue": "other",
        "priority": 5,
    }
    with live.client() as client:
        job = submit(client, body).json()
        assert (job["state"], job["max_attempts"], job["queue"], job["priority"]) == (
            "scheduled",
            7,
            "other",
            5,
        )
        run_at = "2031-01-02T03:04:05+00:00"
        later = submit(client, {"type": "math.add", "payload": {"a": 1, "b": 1}, "run_at": run_at})
    assert later.json()["run_at"].startswith("2031-01-02T03:04:05")


def test_the_job_runs_and_its_result_and_attempts_are_served(live: Live) -> None:
    with live.client() as client:
        job = submit(client, {"type": "math.add", "payload": {"a": 20, "b": 22}}).json()
        live.app.portal.call(live.app.drain(timeout=20))
        done = client.get(f"/v1/jobs/{job['id']}").json()
        attempts = client.get(f"/v1/jobs/{job['id']}/attempts")
    assert (done["state"], done["result"]) == ("succeeded", 42)
    assert attempts.status_code == 200
    assert [(a["number"], a["outcome"]) for a in attempts.json()] == [(1, "succeeded")]


def test_malformed_json_is_400(live: Live) -> None:
    with live.client() as client:
        response = client.post(
            "/v1/jobs",
            content=b'{"type": "math.add",',
            headers={"Content-Type": "application/json"},
        )
    assert_problem(response, 400, "malformed-json")


def test_unknown_type_is_422(live: Live) -> None:
    with live.client() as client:
        response = submit(client, {"type": "no.such", "payload": {}})
    body = assert_problem(response, 422, "unknown-job-type")
    assert "math.add" in body["detail"]


def test_invalid_payload_is_422_with_field_paths(live: Live) -> None:
    with live.client() as client:
        response = submit(client, {"type": "math.add", "payload": {"a": "x"}})
        listed = client.get("/v1/jobs").json()
    body = assert_problem(response, 422, "invalid-payload")
    fields = {tuple(e["loc"]): e for e in body["errors"]}
    assert set(fields) == {("payload", "a"), ("payload", "b")}
    assert fields[("payload", "b")]["pointer"] == "/payload/b"
    assert fields[("payload", "b")]["type"] == "missing"
    assert listed["items"] == []  # nothing stored


def test_invalid_envelope_is_422_with_field_paths(live: Live) -> None:
    with live.client() as client:
        extra = submit(client, {"type": "math.add", "payload": {}, "colour": "red"})
        both = submit(
            client,
            {
                "type": "math.add",
                "payload": {"a": 1, "b": 1},
                "delay": 5,
                "run_at": "2031-01-01T00:00:00Z",
            },
        )
        naive = submit(
            client, {"type": "math.add", "payload": {"a": 1, "b": 1}, "run_at": "2031-01-01T00:00"}
        )
        bad_limit = client.get("/v1/jobs", params={"limit": 0})
        bad_state = client.get("/v1/jobs", params={"state": "sleeping"})
    assert assert_problem(extra, 422, "invalid-request")["errors"][0]["pointer"] == "/colour"
    assert_problem(both, 422, "invalid-request")
    assert_problem(naive, 422, "invalid-request")
    limit_error = assert_problem(bad_limit, 422, "invalid-request")["errors"][0]
    assert limit_error["loc"] == ["query", "limit"]
    assert_problem(bad_state, 422, "invalid-request")


def test_body_over_the_limit_is_413_whether_declared_or_streamed(live: Live) -> None:
    big = b'{"type": "math.add", "payload": {"pad": "' + b"x" * (1024 * 1024) + b'"}}'

    def chunks() -> Any:  # no Content-Length: the limit must hold while reading
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    with live.client() as client:
        declared = client.post(
            "/v1/jobs", content=big, headers={"Content-Type": "application/json"}
        )
        streamed = client.post(
            "/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"}
        )
        listed = client.get("/v1/jobs").json()
    assert_problem(declared, 413, "body-too-large")
    assert_problem(streamed, 413, "body-too-large")
    assert listed["items"] == []


def test_missing_wrong_or_revoked_key_is_401(live: Live) -> None:
    with live.client(None) as anonymous, live.client("cvk_not-a-key") as wrong:
        missing = anonymous.get("/v1/jobs")
        basic = anonymous.get("/v1/jobs", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        unknown = wrong.get("/v1/jobs")
    for response in (missing, basic, unknown):
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"

    async def revoke_acme() -> None:
        for key in await live.app.backend.list_api_keys(tenant="acme"):
            await live.app.backend.revoke_api_key(key.id)

    with live.client("acme") as acme:
        assert acme.get("/v1/jobs").status_code == 200
        live.app.portal.call(revoke_acme())
        assert_problem(acme.get("/v1/jobs"), 401, "unauthorized")


def test_unknown_job_is_404(live: Live) -> None:
    with live.client() as client:
        for response in (
            client.get("/v1/jobs/nope"),
            client.get("/v1/jobs/nope/attempts"),
            client.post("/v1/jobs/nope/cancel"),
            client.post("/v1/jobs/nope/retry"),
            client.delete("/v1/jobs/nope"),
        ):
            assert_problem(response, 404, "job-not-found")
        assert_problem(client.get("/v1/no-such-route"), 404, "not-found")


def test_cancel_retry_delete_and_their_409s(live: Live) -> None:
    with live.client() as client:
        waiting = submit(client, {"type": "math.add", "payload": {"a": 1, "b": 1}, "delay": 600})
        waiting_id = waiting.json()["id"]
        assert_problem(client.delete(f"/v1/jobs/{waiting_id}"), 409, "wrong-state")
        assert_problem(client.post(f"/v1/jobs/{waiting_id}/retry"), 409, "wrong-state")
        cancelled = client.post(f"/v1/jobs/{waiting_id}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["state"] == "cancelled"

        failing = submit(client, {"type": "always.fails", "payload": {"text": "t"}}).json()
        live.app.portal.call(live.app.drain(timeout=20))
        assert client.get(f"/v1/jobs/{failing['id']}").json()["state"] == "dead"
        assert_problem(client.post(f"/v1/jobs/{failing['id']}/cancel"), 409, "wrong-state")
        retried = client.post(f"/v1/jobs/{failing['id']}/retry")
        assert retried.status_code == 200
        assert retried.json()["state"] == "queued"

        deleted = client.delete(f"/v1/jobs/{waiting_id}")
        assert deleted.status_code == 204
        assert_problem(client.get(f"/v1/jobs/{waiting_id}"), 404, "job-not-found")


def test_list_filters_and_cursor_pagination(live: Live) -> None:
    with live.client() as client:
        ids = [
            submit(client, {"type": "math.add", "payload": {"a": i, "b": i}}).json()["id"]
            for i in range(5)
        ]
        submit(client, {"type": "always.fails", "payload": {"text": "x"}, "queue": "q2"})
        submit(
            client,
            {"type": "math.add", "payload": {"a": 9, "b": 9}},
            headers={"Idempotency-Key": "k9"},
        )
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"type": "math.add", "limit": 2, "state": "queued"}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/jobs", params=params).json()
            seen += [job["id"] for job in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        by_queue = client.get("/v1/jobs", params={"queue": "q2"}).json()["items"]
        by_key = client.get("/v1/jobs", params={"idempotency_key": "k9"}).json()["items"]
        bad_cursor = client.get("/v1/jobs", params={"cursor": "garbage"})
    assert len(seen) == 6
    assert len(set(seen)) == 6
    assert set(ids) <= set(seen)
    assert [job["type"] for job in by_queue] == ["always.fails"]
    assert [job["payload"] for job in by_key] == [{"a": 9, "b": 9}]
    assert_problem(bad_cursor, 400, "invalid-cursor")


def test_job_types_publish_payload_schemas(live: Live) -> None:
    with live.client("acme") as client:
        types = {t["name"]: t for t in client.get("/v1/job-types").json()}
    assert set(types) == {"math.add", "always.fails", "echo.request"}
    schema = types["math.add"]["payload_schema"]
    assert schema["required"] == ["a", "b"]
    assert schema["properties"]["a"]["type"] == "integer"
    assert types["echo.request"]["queue"] == "echo"


def test_stats_for_admins_and_403_for_tenants(live: Live) -> None:
    with live.client() as admin, live.client("acme") as acme:
        submit(acme, {"type": "math.add", "payload": {"a": 1, "b": 1}})
        stats = admin.get("/v1/stats")
        forbidden = acme.get("/v1/stats")
    assert stats.status_code == 200
    assert stats.json()["states"][JobState.QUEUED.value] == 1
    assert stats.json()["queues"]["default"]["queued"] == 1
    assert_problem(forbidden, 403, "admin-only")


def test_health_and_readiness(live: Live) -> None:
    with live.client(None) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
        docs = client.get("/docs")
        schema = client.get("/openapi.json")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert docs.status_code == 200
    assert "/v1/jobs/{job_id}/cancel" in schema.json()["paths"]


def test_a_body_that_is_not_json_is_415(live: Live) -> None:
    with live.client() as client:
        form = client.post(
            "/v1/jobs",
            content=b"type=math.add",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        missing = client.post("/v1/jobs", content=b'{"type": "math.add", "payload": {}}')
        problem_json = client.post(
            "/v1/jobs",
            content=b'{"type": "math.add", "payload": {"a": 1, "b": 1}}',
            headers={"Content-Type": "application/merge-patch+json; charset=utf-8"},
        )
    assert_problem(form, 415, "unsupported-media-type")
    assert_problem(missing, 415, "unsupported-media-type")
    assert problem_json.status_code == 202


def test_json_that_python_would_bend_is_refused_not_stored_as_something_else(live: Live) -> None:
    bodies = [
        b'{"type": "math.add", "payload": {"a": NaN, "b": 1}}',
        b'{"type": "math.add", "payload": {"a": 1e999, "b": 1}}',
        b'{"type": "math.add", "payload": {"a": 1, "b": 1}, "x": "\xff"}',
        b'{"type": "math.add", "payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"type": "math.add", "payload": {"a": ' + b"9" * 5000 + b', "b": 1}}',
    ]
    with live.client() as client:
        for body in bodies:
            response = client.post(
                "/v1/jobs", content=body, headers={"Content-Type": "application/json"}
            )
            assert_problem(response, 400, "malformed-json")
        assert client.get("/v1/jobs").json()["items"] == []


def test_nul_characters_are_refused_at_the_edge(live: Live) -> None:
    with live.client() as client:
        in_payload = submit(client, {"type": "echo.request", "payload": {"text": "a\x00b"}})
        literal = submit(client, {"type": "echo.request", "payload": {"text": "\\u0000"}})
        in_queue = submit(
            client, {"type": "math.add", "payload": {"a": 1, "b": 1}, "queue": "q\x00"}
        )
        in_filter = client.get("/v1/jobs", params={"type": "math\x00add"})
        in_id = client.get("/v1/jobs/a%00b")
    assert_problem(in_payload, 422, "invalid-payload")
    assert literal.status_code == 202  # the six characters \u0000, not a NUL
    assert_problem(in_queue, 422, "invalid-request")
    assert_problem(in_filter, 422, "invalid-request")
    assert_problem(in_id, 404, "job-not-found")
