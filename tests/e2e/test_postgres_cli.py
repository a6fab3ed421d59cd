"""The ``conveyor`` CLI on PostgreSQL, as real subprocesses: migrate, the store commands,
workers that refuse an old schema, a worker killed mid-batch, and four worker
processes (standing for four machines) sharing one database."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import pytest

from conveyor import Job, Stats
from tests.e2e.support import Project
from tests.postgres_schemas import fresh_postgres_schema_sync

APP = ("--app", "e2e_app:app")


def test_migrate_then_every_store_command(tmp_path: Path, postgres_url: str) -> None:
    with fresh_postgres_schema_sync(postgres_url, migrate=False) as url:
        project = Project(tmp_path, url)
        try:
            assert project.ok("migrate").splitlines() == ["applied 0001_init"]
            assert project.ok("migrate", "--url", url) == "up to date\n"

            job_id = project.ok("enqueue", *APP, "echo", '{"text": "hi"}').strip()
            job = Job.model_validate_json(project.ok("status", job_id))
            assert (job.id, job.state, job.payload) == (job_id, "queued", {"text": "hi"})
            ids = project.store.enqueue("echo", [{"text": f"job {i}"} for i in range(20)])

            done = project.run("worker", *APP, "--burst", "--concurrency", "4")
            assert done.returncode == 0, done.stderr

            jobs = [project.store.get(job_id) for job_id in ids]
            assert [(j.state, j.result) for j in jobs] == [
                ("succeeded", f"job {i}") for i in range(20)
            ]
            stats = Stats.model_validate_json(project.ok("stats", "--json"))
            assert stats.states["succeeded"] == 21
            listed = json.loads(project.ok("jobs", "--json", "--state", "succeeded"))
            assert {item["id"] for item in listed["items"]} == {job_id, *ids}
        finally:
            project.close()


def test_worker_refuses_an_unmigrated_schema_and_says_to_migrate(
    tmp_path: Path, postgres_url: str
) -> None:
    with fresh_postgres_schema_sync(postgres_url, migrate=False) as url:
        project = Project(tmp_path, url)
        try:
            for args in (("worker", *APP), ("worker", *APP, "--processes", "2")):
                done = project.run(*args)
                assert done.returncode == 1, done.stderr
                assert "Traceback" not in done.stderr
                assert "conveyor migrate --url" in done.stderr
        finally:
            project.close()


@pytest.mark.slow
def test_sigkill_mid_batch_jobs_run_again_after_lease_expiry(pg_project: Project) -> None:
    jobs = 100
    ids = pg_project.store.enqueue("hold_first_attempt", [{"seconds": 120}] * jobs)
    lease = ("--concurrency", str(jobs), "--lease-seconds", "2")
    first = pg_project.start_worker(*lease)
    pg_project.store.wait_for_count("running", jobs, timeout=30)

    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    second = pg_project.start_worker(*lease)
    pg_project.store.wait_for_count("succeeded", jobs, timeout=45)

    done = pg_project.store.all_jobs()
    assert sorted(job.id for job in done) == sorted(ids)
    assert all(job.attempts >= 2 and job.result == job.attempts for job in done)
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=20) == 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_four_worker_processes_drain_20000_jobs_each_exactly_once(pg_project: Project) -> None:
    workers = [pg_project.start_worker("--concurrency", "50") for _ in range(4)]
    ids = pg_project.store.enqueue("echo", [{"text": str(n)} for n in range(20_000)])

    pg_project.store.wait_for_count("succeeded", 20_000, timeout=240)

    done = pg_project.store.all_jobs()
    assert sorted(job.id for job in done) == sorted(ids)
    # Exactly once: one attempt each, and every result is its own payload's.
    assert all(job.attempts == 1 and job.result == job.payload["text"] for job in done)
    per_worker = Counter(job.worker_id for job in done)
    assert len(per_worker) == 4, per_worker  # all four took part
    assert all(worker.popen.poll() is None for worker in workers)  # and none died
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    assert [worker.wait(timeout=30) for worker in workers] == [0, 0, 0, 0]
