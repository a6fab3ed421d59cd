"""SIGTERM/SIGINT on a worker: stop claiming, let running jobs finish within the
shutdown timeout, release the rest (state ``queued``, reason ``released``), exit 0."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.support import Project

pytestmark = pytest.mark.parametrize("project", ["sqlite", "redis"], indirect=True)

RUNNING = 3


def test_sigterm_stops_claiming_and_lets_running_jobs_finish(project: Project) -> None:
    gate = project.path / "gate"
    ids = project.store.enqueue("gate", [{"path": str(gate)}] * RUNNING)
    worker = project.start_worker("--concurrency", "10")
    project.store.wait_for_count("running", RUNNING, timeout=20)

    worker.send_signal(signal.SIGTERM)
    worker.wait_for_log("SIGTERM: no new jobs")  # logged once the worker stopped claiming
    [late] = project.store.enqueue("echo", [{"text": "after SIGTERM"}])
    gate.touch()

    assert worker.wait(timeout=20) == 0
    jobs = [project.store.get(job_id) for job_id in ids]
    assert all((j.state, j.attempts, j.result) == ("succeeded", 1, "opened") for j in jobs)
    assert project.store.get(late).state == "queued"
    assert "exited" in worker.stderr


@pytest.mark.parametrize(
    ("options", "signals"),
    [
        pytest.param(("--shutdown-timeout", "0.2"), [signal.SIGTERM], id="timeout"),
        pytest.param((), [signal.SIGINT, signal.SIGINT], id="second-signal"),
    ],
)
def test_jobs_still_running_at_shutdown_are_released(
    project: Project, options: tuple[str, ...], signals: list[signal.Signals]
) -> None:
    gate = project.path / "gate"
    ids = project.store.enqueue("gate", [{"path": str(gate)}] * RUNNING)
    worker = project.start_worker("--concurrency", "10", *options)
    project.store.wait_for_count("running", RUNNING, timeout=20)

    for count, signum in enumerate(signals, start=1):
        worker.send_signal(signum)
        worker.wait_for_log(f"{signum.name}", count=count)

    assert worker.wait(timeout=20) == 0
    released = [project.store.get(job_id) for job_id in ids]
    assert all((job.state, job.reason) == ("queued", "released") for job in released)
    gate.touch()
    done = project.run("worker", "--app", "e2e_app:app", "--burst")
    assert done.returncode == 0, done.stderr
    finished = [project.store.get(job_id) for job_id in ids]
    assert all((job.state, job.result) == ("succeeded", "opened") for job in finished)
