"""The command line every library's client module shares (peers and conveyor alike).

``python -m bench.peers.<lib>_client <subcommand>`` runs one subcommand in a fresh
process on the store its environment names, and prints one JSON line for the harness,
``{"n": ..., "seconds": ...}``:

- ``setup``: create the library's schema or tables, if it has any (not timed);
- ``enqueue --n N [--warmup W] [--mode M]``: W1, one job per call; the seconds of the
  ``n`` calls after ``warmup`` untimed ones (``mode``: conveyor's ``async``/``sync``);
- ``enqueue-many --n N --chunk C``: W1b, the library's bulk API in chunks of ``C``;
- ``fill --n N --job noop|sleep``: queue jobs for a drain (W2, W4), not timed (the
  bulk API where there is one);
- ``produce --n N --rate R --probe-dir D``: W3's paced producer (``bench.pacing``).

Connecting happens before the clock starts: the figure is the steady rate of the calls.
Standard library only: this module runs inside every peer's venv.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

JOBS = ("noop", "sleep")


class Client(Protocol):
    """One library's client side of the workloads (see the module docstring)."""

    def setup(self) -> None: ...

    def enqueue(self, n: int, warmup: int, mode: str) -> float: ...

    def enqueue_many(self, n: int, chunk: int) -> float: ...

    def fill(self, n: int, job: str) -> None: ...

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float: ...


def parser(prog: str) -> argparse.ArgumentParser:
    """The shared subcommands."""
    parser = argparse.ArgumentParser(prog=prog)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup")
    one = commands.add_parser("enqueue")
    one.add_argument("--n", type=int, required=True)
    one.add_argument("--warmup", type=int, default=50)
    one.add_argument("--mode", default="default")
    many = commands.add_parser("enqueue-many")
    many.add_argument("--n", type=int, required=True)
    many.add_argument("--chunk", type=int, default=1000)
    fill = commands.add_parser("fill")
    fill.add_argument("--n", type=int, required=True)
    fill.add_argument("--job", choices=JOBS, default="noop")
    paced = commands.add_parser("produce")
    paced.add_argument("--n", type=int, required=True)
    paced.add_argument("--rate", type=float, required=True)
    paced.add_argument("--probe-dir", type=Path, required=True)
    paced.add_argument("--idle", type=float, default=1.0)
    return parser


def main(prog: str, client: Client, argv: Sequence[str] | None = None) -> None:
    """Run one subcommand of ``client`` and print its JSON line."""
    args = parser(prog).parse_args(argv)
    n = getattr(args, "n", 0)
    seconds = 0.0
    if args.command == "setup":
        client.setup()
    elif args.command == "enqueue":
        seconds = client.enqueue(n, args.warmup, args.mode)
    elif args.command == "enqueue-many":
        seconds = client.enqueue_many(n, args.chunk)
    elif args.command == "fill":
        client.fill(n, args.job)
    else:
        seconds = client.produce(n, args.rate, args.probe_dir, args.idle)
    print(json.dumps({"n": n, "seconds": seconds}))
