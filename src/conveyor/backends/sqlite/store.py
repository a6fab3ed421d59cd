"""The synchronous side of the SQLite backend: a connection and every transition on it.

A backend has two ``SQLiteStore`` objects (see ``backend.py``): one confined to its
executor thread, and one that callers use on their own threads, one at a time under the
backend's write lock. Neither connection is used by two threads at once, so neither
needs locking of its own. Each write method is exactly one ``BEGIN IMMEDIATE``
transaction, conditioned on the job's state (and lease token for running jobs), and
returns what actually changed. Timestamps arrive as integer microseconds, already
resolved against the store's clock.

``attempts`` counts attempts started: a lease given back at shutdown (outcome
``queued``) or lost to the reaper still counts, so a job that keeps crashing its
worker ends in ``dead`` instead of looping.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager

from conveyor.backends import records
from conveyor.backends.base import ClaimedJob, Enqueued, Lease, NewApiKey, NewJob, Outcome
from conveyor.backends.sqlite import queries
from conveyor.backends.sqlite.connection import connect, immediate_transaction, migrate
from conveyor.backends.sqlite.rows import (
    api_key_from_row,
    job_from_new,
    job_from_row,
    optional_to_us,
    to_us,
)
from conveyor.models import ApiKey, Job, JobId
from conveyor.states import TERMINAL_STATES, JobState

#: The job's error when its lease expired (the attempt ended without a word from it).
LEASE_EXPIRED_ERROR = "lease expired: the worker stopped heartbeating (crashed or was killed)"

#: Most jobs one claim expires, and most it promotes (see queries.EXPIRE_FOR_CLAIM).
CLAIM_HOUSEKEEPING_LIMIT = 500

#: The next states a worker may report for a running job.
_FINISH_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.RETRYING, JobState.DEAD, JobState.CANCELLED, JobState.QUEUED}
)


class SQLiteStore:
    """One connection of a backend instance and every transition on it.

    ``fail_fast``: the connection does not wait for another connection's write lock;
    its transitions raise ``WriteLockBusy`` (having done nothing) instead.
    """

    def __init__(self, path: str, *, fail_fast: bool = False) -> None:
        self.path = path
        self.fail_fast = fail_fast
        connection = connect(path)
        try:
            connection.executescript(queries.CONFIGURE_STORE_CONNECTION)
            if fail_fast:
                connection.execute(queries.NO_BUSY_WAIT)
        except BaseException:
            connection.close()
            raise
        self.connection = connection
        self._changes_seen = connection.total_changes

    def in_wal_mode(self) -> bool:
        """Whether the file is in WAL mode (see ``queries.JOURNAL_MODE``)."""
        return str(self.connection.execute(queries.JOURNAL_MODE).fetchone()[0]).lower() == "wal"

    def take_changes(self) -> int:
        """Rows changed on this connection (triggers included) since the last call."""
        total = self.connection.total_changes
        # sqlite3_total_changes() is a C int: it wraps after 2**31 rows.
        changes, self._changes_seen = (total - self._changes_seen) % 2**32, total
        return changes

    def _transaction(self) -> AbstractContextManager[None]:
        return immediate_transaction(self.connection, fail_fast=self.fail_fast)

    def close(self) -> None:
        """Close the connection. Idempotent."""
        self.connection.close()

    def migrate(self, now_us: int) -> list[str]:
        """Apply pending migrations; return the names applied."""
        return migrate(self.connection, now_us)

    def enqueue_many(self, jobs: Sequence[NewJob], now_us: int) -> list[Enqueued]:
        """Insert ``jobs`` in one transaction, in order; see ``Backend.enqueue_many``."""
        params: list[dict[str, object]] = []
        for job in jobs:
            run_at_us = now_us if job.run_at is None else to_us(job.run_at, name="run_at")
            state = JobState.SCHEDULED if run_at_us > now_us else JobState.QUEUED
            params.append(
                {
                    "id": job.id,
                    "type": job.type,
                    "state": state.value,
                    "payload": job.payload_json,
                    "max_attempts": job.max_attempts,
                    "queue": job.queue,
                    "priority": job.priority,
                    "tenant": job.tenant,
                    "idempotency_key": job.idempotency_key,
                    "now": now_us,
                    "run_at": run_at_us,
                    "expire_at": optional_to_us(job.expire_at, name="expire_at"),
                    "meta": job.meta_json,
                }
            )
        # None: inserted as given; a row: the job that already held the idempotency key
        # (possibly one inserted earlier in this same batch).
        existing: list[sqlite3.Row | None] = [None] * len(jobs)
        connection = self.connection
        with self._transaction():
            if all(job.idempotency_key is None for job in jobs):
                # Nothing can conflict, so one executemany call does the whole batch.
                connection.executemany(queries.ENQUEUE_JOB, params)
            else:
                for index, row_params in enumerate(params):
                    if connection.execute(queries.ENQUEUE_JOB, row_params).rowcount == 0:
                        existing[index] = connection.execute(
                            queries.FIND_BY_IDEMPOTENCY_KEY, row_params
                        ).fetchone()
        # Built after COMMIT, so the write lock is held only for the statements.
        results: list[Enqueued] = []
        for job, row in zip(jobs, existing, strict=True):
            if row is None:
                stored = job_from_new(job, now_us=now_us)
                results.append(Enqueued(stored, existing=False))
            else:
                results.append(Enqueued(job_from_row(row), existing=True))
        return results

    def claim_batch(
        self, queues_json: str, limit: int, worker_id: str, lease_expires_us: int, now_us: int
    ) -> list[ClaimedJob]:
        """Expire, promote and claim in one transaction; see ``ClaimParams``.

        Every job of the batch gets the same fresh lease token.
        """
        token = secrets.token_hex(16)
        connection = self.connection
        bound = {"queues": queues_json, "now": now_us, "step_limit": CLAIM_HOUSEKEEPING_LIMIT}
        with self._transaction():
            connection.execute(queries.EXPIRE_FOR_CLAIM, bound)
            connection.execute(queries.PROMOTE_DUE_FOR_CLAIM, bound)
            rows = connection.execute(
                queries.CLAIM_BATCH,
                {
                    "queues": queues_json,
                    "now": now_us,
                    "limit": limit,
                    "worker_id": worker_id,
                    "lease_token": token,
                    "lease_expires_at": lease_expires_us,
                },
            ).fetchall()
        return records.claimed_jobs(rows, token)

    def extend_leases(self, leases: Sequence[Lease], lease_expires_us: int) -> list[JobId]:
        """Renew the leases still held; return their job ids."""
        renewed: list[JobId] = []
        connection = self.connection
        with self._transaction():
            for lease in leases:
                bound = {
                    "id": lease.job_id,
                    "lease_token": lease.token,
                    "lease_expires_at": lease_expires_us,
                }
                if connection.execute(queries.EXTEND_LEASE, bound).rowcount:
                    renewed.append(lease.job_id)
        return renewed

    def finish_many(self, outcomes: Sequence[Outcome], now_us: int) -> list[JobId]:
        """Apply the outcomes whose lease still holds; return their job ids.

        Raises ``ValueError`` (before touching the store) for a next state that a
        running job cannot move to.
        """
        params = [_finish_params(outcome, now_us) for outcome in outcomes]
        applied: list[JobId] = []
        connection = self.connection
        with self._transaction():
            for outcome, bound in zip(outcomes, params, strict=True):
                if not connection.execute(queries.FINISH_JOB, bound).rowcount:
                    continue  # lease lost (reaped, finished already, or a stale token)
                applied.append(outcome.job_id)
                error = outcome.error
                if error is not None:
                    connection.execute(
                        queries.RECORD_ATTEMPT_ERROR,
                        {
                            "id": outcome.job_id,
                            "error_type": error.type,
                            "error_message": error.message,
                            "traceback": error.traceback,
                        },
                    )
        return applied

    def reap_expired_leases(self, limit: int, now_us: int) -> list[JobId]:
        """Requeue (or bury) running jobs whose lease expired; return their ids."""
        bound = {"now": now_us, "limit": limit, "error": LEASE_EXPIRED_ERROR}
        with self._transaction():
            rows = self.connection.execute(queries.REAP_EXPIRED_LEASES, bound).fetchall()
        return [row[0] for row in rows]

    def promote_due(self, limit: int, now_us: int) -> int:
        """Queue due scheduled/retrying jobs of every queue; return how many."""
        with self._transaction():
            cursor = self.connection.execute(queries.PROMOTE_DUE, {"now": now_us, "limit": limit})
        return cursor.rowcount

    def cancel(self, job_id: JobId, reason: str, now_us: int) -> Job | None:
        """Cancel a waiting job, or flag a running one; return the job after the step."""
        bound = {"id": job_id, "reason": reason, "now": now_us}
        connection = self.connection
        with self._transaction():
            if not connection.execute(queries.CANCEL_WAITING, bound).rowcount and (
                connection.execute(queries.REQUEST_CANCEL, bound).rowcount
            ):
                connection.execute(queries.APPEND_CANCEL_REQUESTED_EVENT, bound)
            row = connection.execute(queries.GET_JOB, bound).fetchone()
        return None if row is None else job_from_row(row)

    def requeue_dead(self, job_id: JobId, now_us: int) -> tuple[Job | None, bool]:
        """Queue a dead job again; return the job after the step and whether it moved."""
        bound = {"id": job_id, "now": now_us}
        connection = self.connection
        with self._transaction():
            moved = bool(connection.execute(queries.REQUEUE_DEAD, bound).rowcount)
            row = connection.execute(queries.GET_JOB, bound).fetchone()
        return (None if row is None else job_from_row(row)), moved

    def delete_job(self, job_id: JobId) -> Job | None:
        """Delete a terminal job with its history; return it (unchanged if not terminal)."""
        bound = {"id": job_id}
        connection = self.connection
        with self._transaction():
            row = connection.execute(queries.DELETE_FINISHED_JOB, bound).fetchone()
            if row is None:
                row = connection.execute(queries.GET_JOB, bound).fetchone()
        return None if row is None else job_from_row(row)

    def prune_finished(self, older_than_us: int, limit: int) -> int:
        """Delete up to ``limit`` terminal jobs finished before ``older_than_us``."""
        bound = {"older_than": older_than_us, "limit": limit}
        with self._transaction():
            cursor = self.connection.execute(queries.PRUNE_FINISHED, bound)
        return cursor.rowcount

    def create_api_key(self, key: NewApiKey, now_us: int) -> ApiKey:
        """Insert an API key; return it as stored."""
        bound = {
            "id": key.id,
            "key_hash": key.key_hash,
            "tenant": key.tenant,
            "admin": int(key.admin),
            "name": key.name,
            "now": now_us,
        }
        with self._transaction():
            row = self.connection.execute(queries.CREATE_API_KEY, bound).fetchone()
        return api_key_from_row(row)

    def revoke_api_key(self, key_id: str, now_us: int) -> ApiKey | None:
        """Revoke a key (idempotent); return it after the step, ``None`` if unknown."""
        with self._transaction():
            row = self.connection.execute(
                queries.REVOKE_API_KEY, {"id": key_id, "now": now_us}
            ).fetchone()
        return None if row is None else api_key_from_row(row)


def _finish_params(outcome: Outcome, now_us: int) -> dict[str, object]:
    state = JobState(outcome.state)  # also accepts the plain string
    if state not in _FINISH_STATES:
        raise ValueError(
            f"Outcome of job {outcome.job_id!r} moves it to {state!r}, but a running job can "
            f"only become one of {sorted(s.value for s in _FINISH_STATES)}"
        )
    if state is JobState.RETRYING:
        run_at: int | None = now_us + round(max(outcome.retry_in, 0.0) * 1_000_000)
    elif state is JobState.QUEUED:
        run_at = now_us
    else:
        run_at = None
    error = outcome.error
    return {
        "id": outcome.job_id,
        "lease_token": outcome.lease_token,
        "state": state.value,
        "reason": outcome.reason,
        "result": outcome.result_json if state is JobState.SUCCEEDED else None,
        "error": None if error is None else error.summary(),
        "finished_at": now_us if state in TERMINAL_STATES else None,
        "run_at": run_at,
        "now": now_us,
    }
