"""The HTTP examples run as written: the README's curl session against the command
`make run` runs, and the async endpoints example."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.support import CLI, Background, wait_until
from tests.e2e.test_examples import run_example
from tests.e2e.test_serve import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="the README session uses curl")
def test_readme_curl_session_against_make_run(tmp_path: Path) -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "conveyor serve --app examples.service:app --insecure-no-auth --port $(PORT)" in makefile
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_URL"] = f"sqlite:///{tmp_path / 'service.db'}"
    # What `make run` runs (Makefile), on a free port; the repo root is the working
    # directory, as for `make run`, so that examples.service imports.
    server = Background(
        ["serve", "--app", "examples.service:app", "--insecure-no-auth", "--port", str(port)],
        cwd=REPO,
        env=env,
    )
    try:
        server.wait_for_log("Application startup complete")
        session = subprocess.run(
            ["bash", str(REPO / "examples" / "http_session.sh")],
            env={**env, "CONVEYOR_API": f"http://127.0.0.1:{port}"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert session.returncode == 0, session.stderr
        out = session.stdout
        assert '"name":"images.resize"' in out
        assert "HTTP/1.1 202 Accepted" in out
        assert '"state":"succeeded"' in out
        assert '"result":{"image":"cat.png","width":320,"attempt":1}' in out
        assert "\n200\n" in out  # the idempotent replay
        assert '"pointer":"/payload/width"' in out
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        server.close()
    wait_until(lambda: (tmp_path / "service.db").exists(), timeout=5, what="the store file")


def test_async_endpoints_example_runs_as_written(tmp_path: Path) -> None:
    result = run_example("async_reports.py", tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("202 Location: /v1/jobs/")
    assert lines[1] == "422 {'detail': 'test customers get no reports'}"
    assert lines[2] == "422 ['/customer', '/months']"
    assert lines[3].startswith("succeeded {'customer': 'acme', 'months': 6, 'region': 'emea'")
    assert "'authorization_seen_as': '[redacted]'" in lines[3]
    assert (tmp_path / "reports.db").exists()


def test_serve_runs_the_async_endpoints_example_with_a_worker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_URL"] = f"sqlite:///{tmp_path / 'reports.db'}"
    created = subprocess.run(
        [*CLI, "keys", "create", "--admin"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = created.stdout.strip()
    port = free_port()
    server = Background(
        ["serve", "--app", "examples.async_reports:api", "--port", str(port)], cwd=REPO, env=env
    )
    try:
        server.wait_for_log("Application startup complete")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            accepted = client.post(
                "/api/apac/reports",
                params={"format": "csv"},
                json={"customer": "acme"},
                headers={"X-User": "lin"},
            )
            assert accepted.status_code == 202, accepted.text
            location = accepted.headers["location"]
            assert client.get(location).status_code == 401  # the /v1 API wants a key
            auth = {"Authorization": f"Bearer {key}"}

            def finished() -> dict[str, Any] | None:
                job: dict[str, Any] = client.get(location, headers=auth).json()
                return job if job["state"] == "succeeded" else None

            job = wait_until(finished, timeout=30, what="the report job to succeed")
        assert job is not None
        assert job["result"]["region"] == "apac"
        assert job["result"]["format"] == "csv"
        assert job["result"]["requested_by"] == "lin"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        server.close()
