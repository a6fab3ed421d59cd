"""Two processes enqueueing under one idempotency key at once store exactly one job."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.support import REPO_ROOT, Project

ROUNDS = 100


def test_two_processes_racing_on_one_key_store_one_job(project: Project) -> None:
    go = project.path / "go"
    command = [sys.executable, "-m", "tests.e2e.apps.enqueue_same_key", project.url, "same-key"]
    command += [str(ROUNDS), str(go)]
    racers = [
        subprocess.Popen(
            command,
            cwd=project.path,
            env={**project.env, "PYTHONPATH": str(REPO_ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for racer in racers:  # both have the store open before either starts
            assert racer.stdout is not None
            assert racer.stdout.readline() == "ready\n"
        go.touch()
        outputs = [racer.communicate(timeout=60) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.communicate()

    ids: set[str] = set()
    for racer, (out, err) in zip(racers, outputs, strict=True):
        assert racer.returncode == 0, err
        returned = json.loads(out)
        assert len(returned) == ROUNDS
        ids.update(returned)
    assert len(ids) == 1
    assert [job.id for job in project.store.all_jobs()] == list(ids)
