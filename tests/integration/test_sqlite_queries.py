"""Query-plan guards for the SQLite store: the statements on the hot path and the
scheduler's duties walk their index instead of scanning ``jobs`` (pgqueuer's EXPLAIN
guard). Store-specific on purpose: the conformance suite never looks inside a store."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from conveyor.backends import open_backend
from conveyor.backends.sqlite import queries

# statement -> the index its plan must use
EXPECTED_INDEX = {
    "CLAIM_BATCH": "jobs_claim",
    "EXPIRE_FOR_CLAIM": "jobs_expiry",
    "PROMOTE_DUE_FOR_CLAIM": "jobs_due_by_queue",
    "PROMOTE_DUE": "jobs_due",
    "REAP_EXPIRED_LEASES": "jobs_lease",
    "PRUNE_FINISHED": "jobs_finished",
    "FIND_BY_IDEMPOTENCY_KEY": "jobs_idempotency",
    "LIST_JOBS_BY_STATE": "jobs_state",
    "LIST_QUEUED_JOBS": "jobs_claim",
    "LIST_RUNNING_JOBS": "jobs_lease",
    "LIST_JOBS_BY_TYPE": "jobs_type",
    "LIST_JOBS_BY_TENANT": "jobs_tenant",
    "LIST_JOBS_BY_IDEMPOTENCY_KEY": "jobs_idempotency",
    "READ_JOB_EVENTS": "events_job",
    "COUNT_WAITING_OF_TENANT": "jobs_waiting_by_tenant",
}

# The queued and running listings read their partial index whole by design (jobs_state
# leaves those states out): a scan of that index is expected, never of the table.
WALK_WHOLE_INDEX = {"LIST_QUEUED_JOBS", "LIST_RUNNING_JOBS"}

_BINDINGS: dict[str, object] = {
    "queues": '["default", "emails"]',
    "ids": '["a", "b"]',
    "now": 1_000_000,
    "limit": 100,
    "step_limit": 500,
    "lease_token": "token",
    "lease_expires_at": 2_000_000,
    "worker_id": "worker",
    "older_than": 1_000_000,
    "error": None,
    "state": "queued",
    "type": "t",
    "queue": None,
    "tenant": "acme",
    "idempotency_key": "k",
    "before": "\U0010ffff",
    "after": 0,
    "job_id": "a",
    "id": "a",
    "cap": 1000,
}


@pytest.fixture
async def database(tmp_path: Path) -> Path:
    path = tmp_path / "plans.db"
    backend = open_backend(f"sqlite:///{path}")
    await backend.open()
    await backend.close()
    return path


@pytest.mark.parametrize(("name", "index"), sorted(EXPECTED_INDEX.items()))
def test_statement_uses_its_index(database: Path, name: str, index: str) -> None:
    statement = getattr(queries, name)
    with contextlib.closing(sqlite3.connect(database)) as connection:
        plan = [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + statement, _BINDINGS)]

    assert any(f"INDEX {index} " in step or step.endswith(f"INDEX {index}") for step in plan), plan
    scans = [step for step in plan if step.startswith("SCAN jobs")]
    if name in WALK_WHOLE_INDEX:
        assert all(step.endswith(f"INDEX {index}") for step in scans), plan
    else:
        assert not scans, plan


# The backpressure counts read two partial indexes each (queued jobs, and waiting ones
# that are not queued), and stop at :cap in both.
COUNTS_OVER_TWO_INDEXES = {
    "COUNT_WAITING_IN_QUEUE": ("jobs_claim", "jobs_due_by_queue"),
    "COUNT_WAITING": ("jobs_claim", "jobs_due"),
}


@pytest.mark.parametrize(("name", "indexes"), sorted(COUNTS_OVER_TWO_INDEXES.items()))
def test_waiting_counts_read_only_their_partial_indexes(
    database: Path, name: str, indexes: tuple[str, str]
) -> None:
    statement = getattr(queries, name)
    bindings = {"queue": "default", "cap": 1000}
    with contextlib.closing(sqlite3.connect(database)) as connection:
        plan = [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + statement, bindings)]

    steps_on_jobs = [step for step in plan if " jobs " in f"{step} "]
    assert steps_on_jobs, plan
    for index in indexes:
        assert any(f"INDEX {index}" in step for step in steps_on_jobs), plan
    assert all("INDEX" in step for step in steps_on_jobs), plan
