"""The libraries of the PostgreSQL run, as ``bench.measure`` drives them (the same
``Library`` protocol as ``bench.libraries``): conveyor on PostgreSQL and PgQueuer.

Each run gets a fresh PostgreSQL schema, created (and migrated or installed) by
``store_env``, named after the run's directory so that a run can be found afterwards;
``drop_schemas`` removes them all at the end. ``worker(concurrency, burst)``:
conveyor's ``--concurrency``, PgQueuer's ``batch_size`` (its best setting per the issue
is 100); ``burst``: conveyor ``--burst``, PgQueuer ``QueueExecutionMode.drain``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from bench.processes import REPO, child_env


def schema_for(directory: Path) -> str:
    """The schema of the run in ``directory`` (``bench_<run number and name>``)."""
    return "bench_" + re.sub(r"[^a-z0-9_]", "_", directory.name.lower())[:40]


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def drop_schemas(url: str) -> None:
    """Drop every ``bench_*`` schema the run created."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'"
        ).fetchall()
        for (name,) in names:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(str(name))))


@dataclass(frozen=True, slots=True)
class ConveyorPostgres:
    """conveyor on PostgreSQL, from this repository's venv, async handlers."""

    url: str
    python: Path = field(default_factory=lambda: Path(sys.executable))
    concurrency_sweep: tuple[int, ...] = (64, 200)
    latency_concurrency: int = 16
    name: str = "conveyor"

    def client(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "bench.workloads_conveyor", *args]

    def worker(self, concurrency: int, *, burst: bool) -> list[str]:
        command = [str(self.python), "-m", "conveyor", "worker"]
        command += ["--app", "bench.apps.conveyor_noop:app", "--concurrency", str(concurrency)]
        return [*command, "--burst"] if burst else command

    def store_env(self, directory: Path) -> dict[str, str]:
        env = {"CONVEYOR_URL": _with_schema(self.url, schema_for(directory))}
        subprocess.run(
            [str(self.python), "-m", "conveyor", "migrate"],
            cwd=REPO,
            env=child_env(env),
            check=True,
            capture_output=True,
        )
        return env

    def settings(self) -> dict[str, object]:
        return {
            "worker": "python -m conveyor worker --app bench.apps.conveyor_noop:app "
            "--concurrency C [--burst]",
            "store": "PostgreSQL, a fresh schema per run (?schema=...)",
            "handlers": "async def",
            "concurrency_sweep": list(self.concurrency_sweep),
            "latency_concurrency": self.latency_concurrency,
        }


@dataclass(frozen=True, slots=True)
class PgQueuer:
    """PgQueuer from the peers' venv, psycopg driver, one ``QueueManager`` per process."""

    url: str
    python: Path
    version: str
    concurrency_sweep: tuple[int, ...] = (100,)  # batch_size: its best setting
    latency_concurrency: int = 10  # batch_size at its default
    name: str = "pgqueuer"

    def client(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "bench.peers.pgqueuer_pg", *args]

    def worker(self, concurrency: int, *, burst: bool) -> list[str]:
        command = [*self.client("worker"), "--batch-size", str(concurrency)]
        return [*command, "--drain"] if burst else command

    def store_env(self, directory: Path) -> dict[str, str]:
        env = {"BENCH_PG_URL": self.url, "PGQUEUER_SCHEMA": schema_for(directory)}
        subprocess.run(
            self.client("install"), cwd=REPO, env=child_env(env), check=True, capture_output=True
        )
        return env

    def settings(self) -> dict[str, object]:
        return {
            "version": self.version,
            "worker": "python -m bench.peers.pgqueuer_pg worker --batch-size B [--drain] "
            "(QueueManager.run over one psycopg AsyncConnection, dequeue_timeout 1 s)",
            "batch_size_sweep": list(self.concurrency_sweep),
            "latency_batch_size": self.latency_concurrency,
        }


@dataclass(frozen=True, slots=True)
class Procrastinate:
    """Procrastinate from the peers' venv (psycopg connector, async tasks)."""

    url: str
    python: Path
    version: str
    concurrency_sweep: tuple[int, ...] = (10,)
    latency_concurrency: int = 10
    name: str = "procrastinate"

    def client(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "bench.peers.procrastinate_pg", *args]

    def worker(self, concurrency: int, *, burst: bool) -> list[str]:
        command = [*self.client("worker"), "--concurrency", str(concurrency)]
        return [*command, "--drain"] if burst else command

    def store_env(self, directory: Path) -> dict[str, str]:
        env = {"BENCH_PG_URL": self.url, "PROCRASTINATE_SCHEMA": schema_for(directory)}
        subprocess.run(
            self.client("install"), cwd=REPO, env=child_env(env), check=True, capture_output=True
        )
        return env

    def settings(self) -> dict[str, object]:
        return {
            "version": self.version,
            "worker": "python -m bench.peers.procrastinate_pg worker --concurrency C [--drain] "
            "(App.run_worker_async, wait=False for --drain, LISTEN/NOTIFY on)",
            "concurrency": self.concurrency_sweep[0],
        }
