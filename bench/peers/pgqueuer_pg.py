"""PgQueuer's side of the PostgreSQL workloads, run in the peers' venv as
``python -m bench.peers.pgqueuer_pg``. The same subcommands and JSON line as
``bench.workloads_conveyor``, plus ``install`` and ``worker``.

- ``install``: PgQueuer's schema, in the schema named by ``PGQUEUER_SCHEMA``.
- ``enqueue``: ``await queries.enqueue("noop", payload)`` one job per call.
- ``enqueue-many --chunk C``: its batch form (lists), in chunks (0: one call).
- ``fill``: queue jobs for the drain workload (not timed).
- ``produce``: W3's paced producer.
- ``worker --batch-size B [--drain]``: a ``QueueManager`` over one psycopg connection,
  its handlers calling the completion probe; ``--drain`` exits once the queue is empty
  (PgQueuer's ``QueueExecutionMode.drain``).

The driver is psycopg 3 (autocommit), as conveyor's. Not type-checked with conveyor's
venv (PgQueuer is installed only in the peers' venv).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from pgqueuer import PgQueuer, Queries
from pgqueuer.models import Job
from pgqueuer.types import QueueExecutionMode

from bench.pacing import produce_async
from bench.probe import probe_from_env

URL_ENV = "BENCH_PG_URL"


async def _connect() -> Any:
    return await psycopg.AsyncConnection.connect(os.environ[URL_ENV], autocommit=True)


async def install() -> float:
    async with await _connect() as conn:
        await Queries.from_psycopg_connection(conn).install()
    return 0.0


async def enqueue(n: int, warmup: int) -> float:
    async with await _connect() as conn:
        queries = Queries.from_psycopg_connection(conn)
        for i in range(warmup):
            await queries.enqueue("noop", json.dumps({"i": i}).encode())
        start = time.perf_counter()
        for i in range(n):
            await queries.enqueue("noop", json.dumps({"i": i}).encode())
        return time.perf_counter() - start


async def enqueue_many(n: int, chunk: int) -> float:
    size = chunk or n
    async with await _connect() as conn:
        queries = Queries.from_psycopg_connection(conn)
        start = time.perf_counter()
        for low in range(0, n, size):
            count = min(low + size, n) - low
            payloads: list[bytes | None] = [
                json.dumps({"i": i}).encode() for i in range(low, low + count)
            ]
            await queries.enqueue(["noop"] * count, payloads, [0] * count)
        return time.perf_counter() - start


async def produce(n: int, rate: float, probe_dir: Path, idle: float) -> float:
    async with await _connect() as conn:
        queries = Queries.from_psycopg_connection(conn)

        async def enqueue_one(seq: int, t: float) -> object:
            return await queries.enqueue("stamped", json.dumps({"seq": seq, "t": t}).encode())

        return await produce_async(
            enqueue_one, n=n, rate=rate, probe_dir=probe_dir, idle_seconds=idle
        )


async def worker(batch_size: int, drain: bool) -> float:
    probe = probe_from_env()
    async with await _connect() as conn:
        pgq = PgQueuer.from_psycopg_connection(conn)

        @pgq.entrypoint("noop")  # type: ignore[untyped-decorator]  # not installed for mypy
        async def noop(job: Job) -> None:
            probe.hit()

        @pgq.entrypoint("stamped")  # type: ignore[untyped-decorator]  # not installed for mypy
        async def stamped(job: Job) -> None:
            data = json.loads(job.payload or b"{}")
            probe.hit(int(data["seq"]), float(data["t"]))

        mode = QueueExecutionMode.drain if drain else QueueExecutionMode.continuous
        await pgq.run(batch_size=batch_size, mode=mode, dequeue_timeout=timedelta(seconds=1))
    return 0.0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.pgqueuer_pg")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install")
    one = commands.add_parser("enqueue")
    one.add_argument("--n", type=int, required=True)
    one.add_argument("--warmup", type=int, default=50)
    many = commands.add_parser("enqueue-many")
    many.add_argument("--n", type=int, required=True)
    many.add_argument("--chunk", type=int, default=1000)
    fill = commands.add_parser("fill")
    fill.add_argument("--n", type=int, required=True)
    paced = commands.add_parser("produce")
    paced.add_argument("--n", type=int, required=True)
    paced.add_argument("--rate", type=float, required=True)
    paced.add_argument("--probe-dir", type=Path, required=True)
    paced.add_argument("--idle", type=float, default=1.0)
    run = commands.add_parser("worker")
    run.add_argument("--batch-size", type=int, default=100)
    run.add_argument("--drain", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "install":
        seconds = asyncio.run(install())
    elif args.command == "enqueue":
        seconds = asyncio.run(enqueue(args.n, args.warmup))
    elif args.command == "enqueue-many":
        seconds = asyncio.run(enqueue_many(args.n, args.chunk))
    elif args.command == "fill":
        seconds = asyncio.run(enqueue_many(args.n, 1000))
    elif args.command == "produce":
        seconds = asyncio.run(produce(args.n, args.rate, args.probe_dir, args.idle))
    else:
        seconds = asyncio.run(worker(args.batch_size, args.drain))
    print(json.dumps({"n": getattr(args, "n", 0), "seconds": seconds}))


if __name__ == "__main__":
    main()
