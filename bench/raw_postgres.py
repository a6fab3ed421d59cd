"""The raw PostgreSQL ceilings every PostgreSQL figure is compared with: what the store
itself allows on this machine, with no job system in the way.

    python -m bench.raw_postgres insert --n 5000 --url postgresql://...
    python -m bench.raw_postgres copy --n 50000 --url ...
    python -m bench.raw_postgres claim-ack --n 20000 --url ...

- ``insert``: one-row ``INSERT`` per autocommit transaction (each commit waits for its
  WAL flush): the ceiling of one-at-a-time enqueue.
- ``copy``: ``COPY`` of n rows in one transaction: the ceiling of bulk enqueue.
- ``claim-ack``: on one connection, claim 100 rows with ``FOR UPDATE SKIP LOCKED`` and
  acknowledge them with a second statement, two commits per 100 jobs: the ceiling of a
  batching worker's store traffic.

Each runs in a fresh table of its own schema, and prints one JSON line
``{"n": ..., "seconds": ...}``.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Sequence

import psycopg
from psycopg import sql

BATCH = 100

_TABLE = """
CREATE TABLE {table} (
    id bigserial PRIMARY KEY,
    state text NOT NULL DEFAULT 'queued',
    payload json NOT NULL
)
"""
_INDEX = "CREATE INDEX ON {table} (id) WHERE state = 'queued'"
_INSERT = "INSERT INTO {table} (payload) VALUES (%s)"
_COPY = "COPY {table} (payload) FROM STDIN"
_CLAIM = """
UPDATE {table} SET state = 'running'
WHERE id IN (
    SELECT id FROM {table} WHERE state = 'queued' ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
)
RETURNING id
"""
_ACK = "UPDATE {table} SET state = 'done' WHERE id = ANY(%s)"


def _run(kind: str, n: int, url: str) -> float:
    schema = f"raw_{uuid.uuid4().hex[:12]}"
    table = sql.Identifier(schema, "jobs")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            conn.execute(sql.SQL(_TABLE).format(table=table))
            conn.execute(sql.SQL(_INDEX).format(table=table))
            return _measure(conn, kind, n, table)
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _measure(
    conn: psycopg.Connection[tuple[object, ...]], kind: str, n: int, table: sql.Identifier
) -> float:
    payload = '{"i": 1}'
    if kind == "insert":
        insert = sql.SQL(_INSERT).format(table=table)
        start = time.perf_counter()
        for _ in range(n):
            conn.execute(insert, [payload], prepare=True)
        return time.perf_counter() - start
    if kind == "copy":
        start = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(sql.SQL(_COPY).format(table=table)) as copy:
            for _ in range(n):
                copy.write_row([payload])
        return time.perf_counter() - start
    with conn.transaction(), conn.cursor().copy(sql.SQL(_COPY).format(table=table)) as copy:
        for _ in range(n):
            copy.write_row([payload])
    conn.execute(sql.SQL("ANALYZE {table}").format(table=table))
    claim, ack = sql.SQL(_CLAIM).format(table=table), sql.SQL(_ACK).format(table=table)
    done = 0
    start = time.perf_counter()
    while done < n:
        ids = [row[0] for row in conn.execute(claim, [BATCH], prepare=True).fetchall()]
        conn.execute(ack, [ids], prepare=True)
        done += len(ids)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.raw_postgres")
    parser.add_argument("kind", choices=("insert", "copy", "claim-ack"))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--url", required=True)
    args = parser.parse_args(argv)
    print(json.dumps({"n": args.n, "seconds": _run(args.kind, args.n, args.url)}))


if __name__ == "__main__":
    main()
