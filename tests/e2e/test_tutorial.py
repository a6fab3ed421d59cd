"""docs/tutorial.md replayed: examples/tasks.py driven through the CLI, as the page shows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def conveyor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONVEYOR_URL": f"sqlite:///{cwd / 'conveyor.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tutorial_enqueue_work_and_status(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "tasks.py", tmp_path / "tasks.py")
    payload = '{"email": "ada@example.com", "name": "Ada"}'
    enqueued = conveyor("enqueue", "--app", "tasks:app", "emails.welcome", payload, cwd=tmp_path)
    assert enqueued.returncode == 0, enqueued.stderr
    job_id = enqueued.stdout.strip()

    worked = conveyor("worker", "--app", "tasks:app", "--burst", cwd=tmp_path)
    assert worked.returncode == 0, worked.stderr
    assert "hello Ada <ada@example.com>, attempt 1" in worked.stdout

    status = conveyor("status", job_id, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    job = json.loads(status.stdout)
    assert job["state"] == "succeeded"
    assert job["result"] == {"sent_to": "ada@example.com"}


def test_tutorial_bad_payload_is_refused(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "tasks.py", tmp_path / "tasks.py")
    refused = conveyor(
        "enqueue", "--app", "tasks:app", "emails.welcome", '{"email": 1}', cwd=tmp_path
    )
    assert refused.returncode != 0
    assert "name: Field required" in refused.stderr
    assert "Traceback" not in refused.stderr
