"""The happy path of every ``conveyor`` command, run as a real subprocess."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from conveyor import Job, Stats
from tests.e2e.support import Project

pytestmark = pytest.mark.parametrize("project", ["sqlite", "redis"], indirect=True)

JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
APP = ("--app", "e2e_app:app")


def test_help_lists_every_command(project: Project) -> None:
    out = project.ok("--help")
    for command in ("worker", "enqueue", "status", "jobs", "stats", "migrate"):
        assert command in out


def test_migrate_applies_the_schema_then_is_up_to_date(project: Project) -> None:
    first = project.ok("migrate").splitlines()
    assert first
    assert all(line.startswith("applied ") for line in first)
    assert project.ok("migrate", "--url", project.url) == "up to date\n"


def test_enqueue_prints_only_the_id_and_status_prints_the_job(project: Project) -> None:
    options = ["--delay", "3600", "--tenant", "acme", "--queue", "emails", "--priority", "5"]
    options += ["--max-attempts", "7", "--idempotency-key", "order-1"]
    out = project.ok("enqueue", *APP, "echo", '{"text": "hi"}', *options)

    job_id = out.strip()
    assert out == f"{job_id}\n"
    assert JOB_ID.fullmatch(job_id)
    job = Job.model_validate_json(project.ok("status", job_id))
    assert (job.id, job.type, job.payload) == (job_id, "echo", {"text": "hi"})
    assert (job.state, job.tenant, job.queue, job.priority) == ("scheduled", "acme", "emails", 5)
    assert (job.max_attempts, job.idempotency_key) == (7, "order-1")
    # Same tenant and key: the existing job's id, and nothing new is stored.
    assert project.ok("enqueue", *APP, "echo", '{"text": "hi"}', *options) == out
    assert len(project.store.all_jobs()) == 1


def test_url_points_the_app_at_another_store(project: Project) -> None:
    other = f"sqlite:///{project.path / 'other.db'}"
    job_id = project.ok("enqueue", *APP, "--url", other, "echo", '{"text": "elsewhere"}').strip()

    assert Job.model_validate_json(project.ok("status", "--url", other, job_id)).id == job_id
    assert project.store.all_jobs() == []  # nothing went to CONVEYOR_URL's store


def test_app_from_the_environment_and_the_console_script(project: Project) -> None:
    # The console script, unlike `python -m`, does not put the working directory on
    # sys.path by itself: the CLI must, for `--app e2e_app:app` to resolve.
    script = Path(sys.executable).with_name("conveyor")
    project.env["CONVEYOR_APP"] = "e2e_app:app"
    done = project.run("enqueue", "echo", '{"text": "env"}', executable=[str(script)])

    assert done.returncode == 0, done.stderr
    assert project.store.get(done.stdout.strip()).payload == {"text": "env"}


def test_worker_burst_drains_the_queue_and_exits_0(project: Project) -> None:
    ids = project.store.enqueue("echo", [{"text": f"job {i}"} for i in range(20)])

    done = project.run("worker", *APP, "--burst", "--concurrency", "4")

    assert done.returncode == 0, done.stderr
    assert "starting" in done.stderr
    assert "exited" in done.stderr
    jobs = [project.store.get(job_id) for job_id in ids]
    assert [(j.state, j.result) for j in jobs] == [("succeeded", f"job {i}") for i in range(20)]


def test_jobs_pages_through_a_table_and_json(project: Project) -> None:
    ids = project.store.enqueue("echo", [{"text": "a"}, {"text": "b"}, {"text": "c"}])

    table = project.run("jobs", "--limit", "2")
    assert table.returncode == 0, table.stderr
    first_page = set(JOB_ID.findall(table.stdout))
    assert len(first_page) == 2
    cursor = re.fullmatch(r"next page: --cursor (\S+)\n", table.stderr)
    assert cursor, table.stderr
    rest = json.loads(project.ok("jobs", "--limit", "2", "--cursor", cursor[1], "--json"))
    assert rest["next_cursor"] is None
    assert first_page | {item["id"] for item in rest["items"]} == set(ids)

    def listed(*filters: str) -> list[str]:
        return [item["id"] for item in json.loads(project.ok("jobs", "--json", *filters))["items"]]

    assert sorted(listed("--state", "queued", "--type", "echo", "--queue", "default")) == sorted(
        ids
    )
    assert listed("--state", "succeeded") == []
    assert listed("--tenant", "nobody") == []


def test_stats_counts_per_state_and_queue(project: Project) -> None:
    project.store.enqueue("echo", [{"text": "a"}, {"text": "b"}])
    project.store.enqueue("echo", [{"text": "c"}], queue="other")

    stats = Stats.model_validate_json(project.ok("stats", "--json"))
    assert stats.states["queued"] == 3
    assert stats.queues["default"]["queued"] == 2
    assert stats.queues["other"]["queued"] == 1
    table = project.ok("stats")
    assert "queued" in table
    assert "other" in table
