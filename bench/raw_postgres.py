"""The raw ceiling of PostgreSQL on this machine, so every figure reads as a fraction.

Run as ``python -m bench.raw_postgres insert|copy|claim-ack --n N --url URL`` in
conveyor's venv (psycopg 3), on a fresh database per run (the harness makes one),
printing ``{"n": ..., "seconds": ...}``. Server settings are the server's own (this
machine's: ``synchronous_commit`` on, so every commit waits for the WAL flush).

- ``insert``: one-row ``INSERT`` per autocommit statement into a minimal table: the cost
  of one commit, the most any one-commit-per-job enqueue can reach.
- ``copy``: ``COPY ... FROM STDIN`` of ``n`` job-shaped rows in one transaction.
- ``claim-ack``: ``n`` jobs queued first (``COPY``, not timed), then claimed 100 at a
  time with one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``
  and acknowledged with one ``UPDATE`` per batch, each its own transaction, on one
  connection: what a worker that batches both can at best reach.

No Python per job beyond the driver: these are ceilings, not job systems.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Sequence

import psycopg

BATCH = 100

CONFIGURE = """
CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    state text NOT NULL,
    queue text NOT NULL,
    priority integer NOT NULL,
    run_at timestamptz NOT NULL,
    payload jsonb NOT NULL,
    lease_token text,
    result jsonb
);
CREATE INDEX jobs_claim ON jobs (queue, state, priority DESC, run_at, id);
CREATE TABLE commits (id bigserial PRIMARY KEY, payload text NOT NULL);
"""

INSERT_ROW = "INSERT INTO commits (payload) VALUES (%s)"

COPY_JOBS = "COPY jobs (id, state, queue, priority, run_at, payload) FROM STDIN"

CLAIM_BATCH = """
UPDATE jobs SET state = 'running', lease_token = %(token)s
WHERE id IN (
    SELECT id FROM jobs
    WHERE queue = 'default' AND state = 'queued'
    ORDER BY priority DESC, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""

ACK_BATCH = """
UPDATE jobs SET state = 'succeeded', result = 'null', lease_token = NULL
WHERE id = ANY(%(ids)s) AND state = 'running' AND lease_token = %(token)s
"""


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    connection = psycopg.connect(url, autocommit=True)
    connection.execute(CONFIGURE)
    return connection


def _copy(connection: psycopg.Connection[tuple[object, ...]], n: int) -> None:
    with (
        connection.transaction(),
        connection.cursor() as cursor,
        cursor.copy(COPY_JOBS) as copy,
    ):
        for i in range(n):
            copy.write_row((uuid.uuid4(), "queued", "default", 0, "now", json.dumps({"i": i})))


def insert_loop(url: str, n: int) -> float:
    """Seconds for ``n`` one-row autocommit INSERTs."""
    with _connect(url) as connection:
        payloads = [json.dumps({"i": i}) for i in range(n)]
        start = time.perf_counter()
        for payload in payloads:
            connection.execute(INSERT_ROW, (payload,))
        return time.perf_counter() - start


def copy_rows(url: str, n: int) -> float:
    """Seconds to COPY ``n`` job rows in one transaction."""
    with _connect(url) as connection:
        start = time.perf_counter()
        _copy(connection, n)
        return time.perf_counter() - start


def claim_ack_loop(url: str, n: int) -> float:
    """Seconds to claim and acknowledge ``n`` queued jobs in batches of ``BATCH``."""
    with _connect(url) as connection:
        _copy(connection, n)
        connection.execute("VACUUM ANALYZE jobs")
        done = 0
        start = time.perf_counter()
        while True:
            token = uuid.uuid4().hex
            rows = connection.execute(CLAIM_BATCH, {"token": token, "limit": BATCH}).fetchall()
            if not rows:
                break
            ids = [row[0] for row in rows]
            connection.execute(ACK_BATCH, {"ids": ids, "token": token})
            done += len(ids)
        elapsed = time.perf_counter() - start
    if done != n:
        raise RuntimeError(f"claimed {done} jobs, expected {n}")
    return elapsed


def main(argv: Sequence[str] | None = None) -> None:
    """Run one loop on the given (fresh) database and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.raw_postgres")
    parser.add_argument("loop", choices=("insert", "copy", "claim-ack"))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--url", required=True)
    args = parser.parse_args(argv)
    loops = {"insert": insert_loop, "copy": copy_rows, "claim-ack": claim_ack_loop}
    seconds = loops[args.loop](args.url, args.n)
    print(json.dumps({"n": args.n, "seconds": seconds}))


if __name__ == "__main__":
    main()
