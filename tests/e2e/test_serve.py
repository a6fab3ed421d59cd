"""``conveyor serve`` and ``conveyor keys`` as real subprocesses: a key created by the
CLI authenticates, a job submitted over HTTP is answered with its result by the
worker in the same process, SIGTERM stops it cleanly, and the safety rules hold."""

from __future__ import annotations

import signal
import socket

import httpx

from tests.e2e.support import Background, Project, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_serve(project: Project, *args: str) -> tuple[Background, str]:
    port = free_port()
    server = project.start("serve", "--app", "e2e_app:app", "--port", str(port), *args)
    server.wait_for_log("Application startup complete")
    return server, f"http://127.0.0.1:{port}"


def test_serve_answers_a_submitted_job_with_its_result(project: Project) -> None:
    key = project.ok("keys", "create", "--tenant", "acme", "--name", "e2e").strip()
    assert key.startswith("cvk_")
    assert len(key) >= 40
    server, base = start_serve(project)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        assert client.get("/v1/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401
        submitted = client.post("/v1/jobs", json={"type": "echo", "payload": {"text": "hi"}})
        assert submitted.status_code == 202, submitted.text
        location = submitted.headers["location"]

        def finished() -> dict[str, object] | None:
            job: dict[str, object] = client.get(location).json()
            return job if job["state"] == "succeeded" else None

        job = wait_until(finished, timeout=30, what="the job to succeed")
        assert job is not None
    assert job["result"] == "hi"
    assert job["tenant"] == "acme"
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert "conveyor serve" in server.stderr
    assert "exited" in server.stderr


def test_keys_list_and_revoke(project: Project) -> None:
    key = project.ok("keys", "create", "--admin", "--name", "ops").strip()
    listed = project.ok("keys", "list", "--json")
    assert '"admin":true' in listed
    assert key not in listed  # the secret is never shown again
    key_id = listed.split('"id":"')[1].split('"')[0]
    server, base = start_serve(project, "--no-worker")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        assert client.get("/v1/stats").status_code == 200
        assert "revoked" in project.run("keys", "revoke", key_id).stderr
        assert client.get("/v1/stats").status_code == 401
    assert project.run("keys", "revoke", key_id).returncode == 0  # idempotent
    missing = project.run("keys", "revoke", "key_nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no API key with id 'key_nope'")
    no_tenant = project.run("keys", "create")
    assert no_tenant.returncode == 2
    assert "needs a tenant" in no_tenant.stderr
    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=30) == 0


def test_insecure_no_auth_only_on_loopback_and_loudly(project: Project) -> None:
    everywhere = "0.0.0.0"  # noqa: S104 (the test checks that this is refused)
    refused = project.run(
        "serve", "--app", "e2e_app:app", "--host", everywhere, "--insecure-no-auth"
    )
    assert refused.returncode == 2
    assert "only allowed when binding 127.0.0.1" in refused.stderr
    server, base = start_serve(project, "--insecure-no-auth", "--no-worker")
    assert "AUTHENTICATION IS OFF" in server.stderr
    with httpx.Client(base_url=base) as client:
        assert client.get("/v1/jobs").status_code == 200
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0


def test_serve_reports_a_port_in_use(project: Project) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = project.run("serve", "--app", "e2e_app:app", "--port", str(port), timeout=60)
    assert done.returncode == 1
    assert f"error: could not serve HTTP on 127.0.0.1:{port}" in done.stderr
