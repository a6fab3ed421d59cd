"""Huey's side of the client workloads, run as ``python -m bench.peers.huey_sqlite``
in the peers' venv, with the same subcommands and JSON line as
``bench.workloads_conveyor``:

- ``enqueue``: W1, calling the task (``noop(i)``) once per job: Huey's only enqueue API,
  synchronous. Huey has no bulk enqueue, so there is no W1b.
- ``fill``: queue jobs for the drain workload (not timed).
- ``produce``: W3's paced producer (``bench.pacing``).

The store is ``BENCH_HUEY_DB``; opening it happens before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

from bench.pacing import produce
from bench.peers.huey_app import huey, noop, stamped


def enqueue(n: int, warmup: int) -> float:
    """Seconds for ``n`` task calls."""
    for i in range(warmup):
        noop(i)
    start = time.perf_counter()
    for i in range(n):
        noop(i)
    return time.perf_counter() - start


def _enqueue_stamped(seq: int, t: float) -> None:
    stamped(seq, t)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.huey_sqlite")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("enqueue")
    one.add_argument("--n", type=int, required=True)
    one.add_argument("--warmup", type=int, default=50)
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
    huey.storage.conn  # noqa: B018 (open the store before the clock starts)
    if args.command == "enqueue":
        seconds = enqueue(args.n, args.warmup)
    elif args.command == "fill":
        seconds = enqueue(args.n, 0)
    else:
        seconds = produce(
            _enqueue_stamped,
            n=args.n,
            rate=args.rate,
            probe_dir=args.probe_dir,
            idle_seconds=args.idle,
        )
    print(json.dumps({"n": args.n, "seconds": seconds}))


if __name__ == "__main__":
    main()
