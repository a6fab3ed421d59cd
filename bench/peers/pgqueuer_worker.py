"""PgQueuer's worker, as ``pgq run bench.peers.pgqueuer_app:main`` runs it (peers' venv):
``python -m bench.peers.pgqueuer_worker --batch-size B [--max-concurrent-tasks C]``.

Why not ``pgq run`` itself: in PgQueuer 1.6.0 with the pinned Typer, ``pgq run`` fails
before starting (its ``--log-level`` parser hands a ``str`` to ``setup_fancy_logger``,
which expects the enum: ``AttributeError: 'str' object has no attribute 'name'``). This
does what it does after that line: build the app with the factory, then
``PgQueuer.run`` with the same arguments (continuous mode, PgQueuer's other defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from bench.peers.pgqueuer_app import main as factory


async def run(batch_size: int, max_concurrent_tasks: int | None) -> None:
    pgq = await factory()
    await pgq.run(batch_size=batch_size, max_concurrent_tasks=max_concurrent_tasks)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.pgqueuer_worker")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--max-concurrent-tasks", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args.batch_size, args.max_concurrent_tasks))


if __name__ == "__main__":
    main()
