"""PostgreSQL restarted under running workers (a private server, never the shared one):
the workers log the outage, reconnect with backoff by themselves, and finish every
job; none is lost."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.backends.postgres.connection import migrate_blocking, parse_url
from tests.e2e.support import Project, wait_until
from tests.private_postgres import PrivatePostgres, private_postgres

JOBS = 400


@pytest.fixture
def server() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_workers_survive_a_postgres_restart_and_lose_no_job(
    tmp_path: Path, server: PrivatePostgres
) -> None:
    migrate_blocking(parse_url(server.url))
    project = Project(tmp_path, server.url)
    try:
        workers = [project.start_worker("--concurrency", "100") for _ in range(2)]
        # Each first attempt holds its slot for a moment, so the restart finds jobs
        # running, outcomes waiting to be recorded, and jobs still queued.
        before = project.store.enqueue("hold_first_attempt", [{"seconds": 1.0}] * JOBS)
        wait_until(lambda: project.store.count("running") > 0, timeout=30, what="running jobs")

        server.restart()

        for worker in workers:  # each saw the outage, said so, and reconnected by itself
            worker.wait_for_log("LISTEN connection for schema conveyor lost", timeout=30)
            worker.wait_for_log("LISTEN connection to conveyor is back", timeout=30)
        after = project.store.enqueue("echo", [{"text": "after"}] * 50)
        project.store.wait_for_count("succeeded", JOBS + 50, timeout=120)

        jobs = project.store.all_jobs()
        assert sorted(job.id for job in jobs) == sorted(before + after)
        assert all(job.state == "succeeded" for job in jobs)
        assert all(worker.popen.poll() is None for worker in workers)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        assert [worker.wait(timeout=30) for worker in workers] == [0, 0]
    finally:
        project.close()
