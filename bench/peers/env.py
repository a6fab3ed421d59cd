"""What the harness tells a peer's app and client through the environment.

- ``BENCH_REDIS_URL``: ``redis://host:port/db`` of the run (db 15 for the peers);
- ``BENCH_POSTGRES_URL``: the run's own PostgreSQL database;
- ``BENCH_PREFIX``: the run's unique name: key prefix, namespace or queue name;
- ``BENCH_CONCURRENCY``: the worker's concurrency, for peers configured in code (arq,
  SAQ) rather than on their command line.

Standard library only: imported inside the peers' venvs.
"""

from __future__ import annotations

import os

#: W4's simulated I/O wait, seconds (as in conveyor's bench app).
SLEEP_SECONDS = 0.01


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def postgres_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def prefix() -> str:
    return os.environ.get("BENCH_PREFIX", "bench")


def concurrency() -> int:
    return int(os.environ.get("BENCH_CONCURRENCY", "16"))
