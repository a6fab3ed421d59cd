"""The raw ceiling of SQLite on this machine, so every figure reads as a fraction of it.

Run as ``python -m bench.raw_sqlite insert|claim-ack --n N --db PATH`` (one fresh file
per run, printing ``{"n": ..., "seconds": ...}``), with the settings conveyor uses: WAL,
``synchronous=NORMAL``, explicit transactions, and a jobs table shaped like a job
system's (text id, state, queue, priority, run time, payload) with its claim index.

- ``insert``: one-row ``INSERT`` + ``COMMIT`` per row into a minimal table (integer
  key, small text): the cost of one commit, so the most that any one-commit-per-job
  enqueue can reach (payloads are made before the clock starts).
- ``claim-ack``: jobs are queued first (not timed), then claimed 100 at a time with one
  ``UPDATE ... RETURNING`` and acknowledged with one ``UPDATE`` per batch, each in its
  own ``BEGIN IMMEDIATE`` transaction: what a worker that batches both can at best reach.

No Python per job beyond the driver: these are ceilings, not job systems.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

BATCH = 100

CONFIGURE = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    payload TEXT NOT NULL,
    lease_token TEXT,
    result TEXT
);
CREATE INDEX jobs_claim ON jobs (queue, state, priority DESC, run_at, id);
CREATE TABLE commits (id INTEGER PRIMARY KEY, payload TEXT NOT NULL);
"""

# One row, nothing else: the cheapest write a commit can carry.
INSERT_ROW = "INSERT INTO commits (payload) VALUES (?)"

# Insert one queued job (claim-ack fills the table with these, in one transaction).
INSERT_JOB = (
    "INSERT INTO jobs (id, state, queue, priority, run_at, payload) "
    "VALUES (?, 'queued', 'default', 0, ?, ?)"
)

# queued -> running for the next BATCH jobs by priority, run time, id (index jobs_claim).
CLAIM_BATCH = """
UPDATE jobs SET state = 'running', lease_token = :token
WHERE id IN (
    SELECT id FROM jobs
    WHERE queue = 'default' AND state = 'queued'
    ORDER BY priority DESC, run_at, id
    LIMIT :limit
)
RETURNING id
"""

# running -> succeeded for the ids of one batch (a JSON array), fenced by the lease token.
ACK_BATCH = """
UPDATE jobs SET state = 'succeeded', result = 'null', lease_token = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'running' AND lease_token = :token
"""


def _open(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(CONFIGURE)
    return connection


def _rows(n: int) -> list[tuple[str, int, str]]:
    return [(str(uuid.uuid4()), i, json.dumps({"i": i})) for i in range(n)]


def insert_loop(path: Path, n: int) -> float:
    """Seconds for ``n`` one-row INSERT + COMMIT transactions."""
    connection = _open(path)
    payloads = [(json.dumps({"i": i}),) for i in range(n)]
    start = time.perf_counter()
    for payload in payloads:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(INSERT_ROW, payload)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def claim_ack_loop(path: Path, n: int) -> float:
    """Seconds to claim and acknowledge ``n`` queued jobs in batches of ``BATCH``."""
    connection = _open(path)
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(INSERT_JOB, _rows(n))
    connection.execute("COMMIT")
    done = 0
    start = time.perf_counter()
    while True:
        token = uuid.uuid4().hex
        connection.execute("BEGIN IMMEDIATE")
        ids = [row[0] for row in connection.execute(CLAIM_BATCH, {"token": token, "limit": BATCH})]
        connection.execute("COMMIT")
        if not ids:
            break
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(ACK_BATCH, {"ids": json.dumps(ids), "token": token})
        connection.execute("COMMIT")
        done += len(ids)
    elapsed = time.perf_counter() - start
    connection.close()
    if done != n:
        raise RuntimeError(f"claimed {done} jobs, expected {n}")
    return elapsed


def main(argv: Sequence[str] | None = None) -> None:
    """Run one loop on a new file and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.raw_sqlite")
    parser.add_argument("loop", choices=("insert", "claim-ack"))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args(argv)
    loop = insert_loop if args.loop == "insert" else claim_ack_loop
    seconds = loop(args.db, args.n)
    print(json.dumps({"n": args.n, "seconds": seconds, "sqlite": sqlite3.sqlite_version}))


if __name__ == "__main__":
    main()
