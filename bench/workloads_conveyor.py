"""conveyor's side of the client workloads, run as ``python -m bench.workloads_conveyor``.

Each subcommand runs in a fresh process on a fresh store (``CONVEYOR_URL``) and prints
one JSON line, ``{"n": ..., "seconds": ...}``, for the harness:

- ``enqueue --mode async``: W1, ``await noop.enqueue(payload)`` one job per call, the
  primary API; ``--mode sync``: the same through ``enqueue_sync`` (the sync bridge).
- ``enqueue-many --chunk C``: W1b, ``enqueue_many`` in chunks of ``C`` payloads (0: all
  in one call).
- ``fill``: queue jobs for the drain workload (not timed).
- ``produce``: W3's paced producer (``bench.pacing``).

Opening the store (and migrating it) and ``warmup`` calls happen before the clock
starts: the figure is the steady rate of the call itself, payload models included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path

from bench.apps.conveyor_noop import Noop, Stamped, app, noop, stamped
from bench.pacing import produce_async


async def enqueue_async(n: int, warmup: int) -> float:
    """Seconds for ``n`` awaited ``enqueue`` calls."""
    async with app:
        for i in range(warmup):
            await noop.enqueue(Noop(i=i))
        start = time.perf_counter()
        for i in range(n):
            await noop.enqueue(Noop(i=i))
        return time.perf_counter() - start


def enqueue_sync(n: int, warmup: int) -> float:
    """Seconds for ``n`` ``enqueue_sync`` calls."""
    try:
        for i in range(warmup):
            noop.enqueue_sync(Noop(i=i))
        start = time.perf_counter()
        for i in range(n):
            noop.enqueue_sync(Noop(i=i))
        return time.perf_counter() - start
    finally:
        app.portal.call(app.close())
        app.portal.stop()


async def enqueue_many(n: int, chunk: int) -> float:
    """Seconds to store ``n`` jobs with ``enqueue_many`` in chunks of ``chunk``."""
    size = chunk or n
    async with app:
        start = time.perf_counter()
        for low in range(0, n, size):
            await noop.enqueue_many([Noop(i=i) for i in range(low, min(low + size, n))])
        return time.perf_counter() - start


async def produce(n: int, rate: float, probe_dir: Path, idle: float) -> float:
    """W3: the paced producer; returns the seconds the paced part took."""

    async def enqueue_one(seq: int, t: float) -> object:
        return await stamped.enqueue(Stamped(seq=seq, t=t))

    async with app:
        return await produce_async(
            enqueue_one, n=n, rate=rate, probe_dir=probe_dir, idle_seconds=idle
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.workloads_conveyor")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("enqueue")
    one.add_argument("--n", type=int, required=True)
    one.add_argument("--mode", choices=("async", "sync"), default="async")
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
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run one subcommand and print its JSON line."""
    args = _parser().parse_args(argv)
    if args.command == "enqueue" and args.mode == "sync":
        seconds = enqueue_sync(args.n, args.warmup)
    elif args.command == "enqueue":
        seconds = asyncio.run(enqueue_async(args.n, args.warmup))
    elif args.command == "enqueue-many":
        seconds = asyncio.run(enqueue_many(args.n, args.chunk))
    elif args.command == "fill":
        seconds = asyncio.run(enqueue_many(args.n, 1000))
    else:
        seconds = asyncio.run(produce(args.n, args.rate, args.probe_dir, args.idle))
    print(json.dumps({"n": args.n, "seconds": seconds}))


if __name__ == "__main__":
    main()
