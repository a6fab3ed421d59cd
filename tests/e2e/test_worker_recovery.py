"""A worker killed with SIGKILL mid-flight loses no job: once its leases expire, the
reaper of another worker requeues the jobs and they run again (at-least-once)."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.support import Project

pytestmark = pytest.mark.parametrize("project", ["sqlite", "redis"], indirect=True)

JOBS = 200


@pytest.mark.slow
def test_sigkill_in_the_middle_of_200_running_jobs_loses_none(project: Project) -> None:
    ids = project.store.enqueue("hold_first_attempt", [{"seconds": 120}] * JOBS)
    lease = ("--concurrency", str(JOBS), "--lease-seconds", "2")
    first = project.start_worker(*lease)
    assert "lease 2s (heartbeat 0.666667s)" in first.stderr  # renewed well within the lease
    project.store.wait_for_count("running", JOBS, timeout=30)

    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    second = project.start_worker(*lease)
    project.store.wait_for_count("succeeded", JOBS, timeout=45)

    jobs = project.store.all_jobs()
    assert sorted(job.id for job in jobs) == sorted(ids)
    # The killed run counts as an attempt; the handler returns the attempt it ran in.
    assert all(job.state == "succeeded" and job.attempts >= 2 for job in jobs)
    assert all(job.result == job.attempts for job in jobs)
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=20) == 0
