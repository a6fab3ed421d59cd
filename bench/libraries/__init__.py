"""The libraries under test, as the harness drives them, and the lineup of each store.

Each library runs its own real worker command, as its users would (``conveyor worker``,
``huey_consumer``, ``pgq run``, ``procrastinate worker``, ``arq``, ``saq``, ``rq
worker``, ``celery worker``, ``dramatiq``), and a client module with the subcommands of
``bench.clientcli``. The settings recorded by ``settings()`` go into the results JSON and
the docs, so a reader can rerun any figure by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from bench.places import Place

#: The libraries of each store, conveyor first (``--only`` picks one of them).
LINEUPS: dict[str, tuple[str, ...]] = {
    "sqlite": ("conveyor", "huey"),
    "postgres": ("conveyor", "pgqueuer", "procrastinate"),
    "redis": ("conveyor", "arq", "saq", "rq", "celery", "dramatiq"),
}
ALL_LIBRARIES = tuple(sorted({name for names in LINEUPS.values() for name in names}))


class Library(Protocol):
    """A job system on one store, as the harness drives it."""

    @property
    def name(self) -> str:
        """The key of its results (``conveyor``, ``huey``, ``pgqueuer``...)."""
        ...

    @property
    def store(self) -> str:
        """``sqlite``, ``postgres`` or ``redis``."""
        ...

    @property
    def drain_sweep(self) -> tuple[int, ...]:
        """W2's settings to try with one worker process (the best median is used for two
        processes too); the meaning of the number is the library's (``--concurrency``,
        threads, ``max_jobs``...)."""
        ...

    @property
    def latency_concurrency(self) -> int:
        """W3's setting: fixed, not the W2 sweep's pick."""
        ...

    @property
    def io_concurrency(self) -> int | None:
        """W4's setting (100), or ``None`` where the library cannot run jobs concurrently
        in one worker process (``notes["w4"]`` says why)."""
        ...

    @property
    def bulk(self) -> bool:
        """Whether it has a bulk enqueue API (W1b)."""
        ...

    @property
    def notes(self) -> Mapping[str, str]:
        """Why a workload is not measured (``w1b``, ``w4``) or how it was run."""
        ...

    @property
    def pg_place(self) -> str:
        """On PostgreSQL: ``database`` (a fresh one per run) or ``schema``."""
        ...

    @property
    def redis_db(self) -> int:
        """On Redis: the database number its runs use."""
        ...

    def redis_patterns(self) -> Sequence[str]:
        """Globs (``{prefix}`` = the run's name) of every key a run may leave behind."""
        ...

    def missing(self) -> str | None:
        """Why this library cannot run on its store in this checkout (``None``: it can)."""
        ...

    def client(self, *args: str) -> list[str]:
        """The command running a client subcommand (``bench.clientcli``)."""
        ...

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        """The command starting worker process number ``index`` (0, 1...); ``burst``:
        exit when idle, if the library can (otherwise the harness stops it)."""
        ...

    def env(self, place: Place) -> dict[str, str]:
        """Environment variables pointing client and workers at ``place``."""
        ...

    def settings(self) -> dict[str, object]:
        """What to record about how this library was run."""
        ...


def build(store: str, names: Sequence[str]) -> dict[str, Library]:
    """The libraries ``names`` of ``store``'s lineup, in lineup order (peers' venvs are
    created here, on first use)."""
    from bench.libraries import conveyor, postgres, redis, sqlite

    makers: dict[str, Callable[[str], Library]] = {
        "conveyor": conveyor.Conveyor.create,
        "huey": sqlite.Huey.create,
        "pgqueuer": postgres.PgQueuer.create,
        "procrastinate": postgres.Procrastinate.create,
        "arq": redis.Arq.create,
        "saq": redis.Saq.create,
        "rq": redis.Rq.create,
        "celery": redis.Celery.create,
        "dramatiq": redis.Dramatiq.create,
    }
    chosen: dict[str, Library] = {}
    for name in LINEUPS[store]:
        if name in names:
            chosen[name] = makers[name](store)
    return chosen


def python_bin(python: Path, script: str) -> str:
    """A console script installed next to ``python`` (in the same venv)."""
    return str(python.parent / script)
