"""Workers on Redis when Redis itself fails, and many workers on one Redis.

The restart test runs a private redis-server (its own port and directory), never the
shared one. Its AOF is fsynced on every write (``appendfsync always``), so a SIGKILL of
the server loses nothing that was acknowledged and the test can require every job to
finish after the restart.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import Project
from tests.redis_server import PrivateRedis

APP = ("--app", "e2e_app:app")


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = PrivateRedis(directory, ["--appendonly", "yes", "--appendfsync", "always"])
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.slow
def test_redis_restarted_under_running_workers_loses_no_job(
    tmp_path: Path, durable_redis: PrivateRedis
) -> None:
    (tmp_path / "project").mkdir()
    project = Project(tmp_path / "project", url=durable_redis.url + "?prefix=restart")
    try:
        gate = project.path / "gate"
        gates = project.store.enqueue("gate", [{"path": str(gate)}] * 4)
        echoes = project.store.enqueue("echo", [{"text": f"{i}"} for i in range(200)])
        worker = project.start_worker("--concurrency", "4")
        project.store.wait_for_count("running", 4, timeout=20)
        assert "persistence off" not in worker.stderr

        durable_redis.kill()
        gate.touch()  # the running jobs end while Redis is down: outcomes must wait
        worker.wait_for_log("could not record", timeout=20)
        durable_redis.start()

        project.store.wait_for_count("succeeded", len(gates) + len(echoes), timeout=60)
        assert worker.popen.poll() is None, worker.stderr  # survived the outage
        jobs = project.store.all_jobs()
        assert sorted(job.id for job in jobs) == sorted(gates + echoes)
        assert all(job.state == "succeeded" for job in jobs)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, worker.stderr
        assert "lost the wake-up subscription" in worker.stderr
    finally:
        project.close()


@pytest.mark.slow
@pytest.mark.parametrize("project", ["redis"], indirect=True)
def test_four_worker_processes_drain_20000_jobs_each_exactly_once(project: Project) -> None:
    jobs = 20_000
    ids = project.store.enqueue("echo", [{"text": str(i)} for i in range(jobs)])

    done = project.run(
        "worker", *APP, "--processes", "4", "--concurrency", "64", "--burst", timeout=180
    )

    assert done.returncode == 0, done.stderr
    assert "restarting" not in done.stderr  # no child died and was replaced
    assert project.store.counts()["succeeded"] == jobs
    stored = project.store.all_jobs()
    assert sorted(job.id for job in stored) == sorted(ids)
    # attempts counts claims: 1 everywhere means no job was handed out twice.
    assert all(job.attempts == 1 and job.state == "succeeded" for job in stored)
    assert {job.result for job in stored} == {str(i) for i in range(jobs)}


def test_worker_warns_at_start_when_redis_persistence_is_off(tmp_path: Path) -> None:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = PrivateRedis(directory, ["--appendonly", "no"])
    server.start()
    (tmp_path / "project").mkdir()
    project = Project(tmp_path / "project", url=server.url + "?prefix=volatile")
    try:
        worker = project.run("worker", *APP, "--burst")
        stats = project.run("stats", "--json")

        assert worker.returncode == 0, worker.stderr
        assert "persistence off" in worker.stderr
        assert "appendonly yes" in worker.stderr
        assert stats.returncode == 0, stats.stderr
        assert stats.stderr == ""  # the warning is for the worker's log only
    finally:
        project.close()
        server.close()
