"""Procrastinate's side of the PostgreSQL workloads, run in the peers' venv as
``python -m bench.peers.procrastinate_pg``: the same subcommands and JSON line as
``bench.peers.pgqueuer_pg``.

Procrastinate keeps its tables in the connection's ``search_path``: every connection of
a run sets it to the run's schema (``PROCRASTINATE_SCHEMA``). ``worker --concurrency C
[--drain]`` runs ``App.run_worker_async`` (``wait=False`` exits once caught up: its
burst mode), with LISTEN/NOTIFY on (its default). Not type-checked with conveyor's venv.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import procrastinate

from bench.pacing import produce_async
from bench.probe import probe_from_env

URL_ENV = "BENCH_PG_URL"
SCHEMA_ENV = "PROCRASTINATE_SCHEMA"


def build() -> tuple[Any, Any, Any]:
    schema = os.environ[SCHEMA_ENV]
    connector = procrastinate.PsycopgConnector(
        conninfo=os.environ[URL_ENV], kwargs={"options": f"-c search_path={schema}"}
    )
    app = procrastinate.App(connector=connector)
    probe = probe_from_env()

    @app.task(name="noop")  # type: ignore[untyped-decorator]  # not installed for mypy
    async def noop(i: int) -> None:
        probe.hit()

    @app.task(name="stamped")  # type: ignore[untyped-decorator]  # not installed for mypy
    async def stamped(seq: int, t: float) -> None:
        probe.hit(seq, t)

    return app, noop, stamped


async def install() -> float:
    import psycopg

    async with await psycopg.AsyncConnection.connect(os.environ[URL_ENV], autocommit=True) as c:
        await c.execute(f'CREATE SCHEMA IF NOT EXISTS "{os.environ[SCHEMA_ENV]}"')
    app, _, _ = build()
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
    return 0.0


async def enqueue(n: int, warmup: int) -> float:
    app, noop, _ = build()
    async with app.open_async():
        for i in range(warmup):
            await noop.defer_async(i=i)
        start = time.perf_counter()
        for i in range(n):
            await noop.defer_async(i=i)
        return time.perf_counter() - start


async def enqueue_many(n: int, chunk: int) -> float:
    size = chunk or n
    app, noop, _ = build()
    async with app.open_async():
        start = time.perf_counter()
        for low in range(0, n, size):
            await noop.batch_defer_async(*({"i": i} for i in range(low, min(low + size, n))))
        return time.perf_counter() - start


async def produce(n: int, rate: float, probe_dir: Path, idle: float) -> float:
    app, _, stamped = build()
    async with app.open_async():

        async def enqueue_one(seq: int, t: float) -> object:
            return await stamped.defer_async(seq=seq, t=t)

        return await produce_async(
            enqueue_one, n=n, rate=rate, probe_dir=probe_dir, idle_seconds=idle
        )


async def worker(concurrency: int, drain: bool) -> float:
    app, _, _ = build()
    async with app.open_async():
        await app.run_worker_async(concurrency=concurrency, wait=not drain)
    return 0.0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.procrastinate_pg")
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
    run.add_argument("--concurrency", type=int, default=10)
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
        seconds = asyncio.run(worker(args.concurrency, args.drain))
    print(json.dumps({"n": getattr(args, "n", 0), "seconds": seconds}))


if __name__ == "__main__":
    main()
