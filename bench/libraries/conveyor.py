"""conveyor itself, on any store its checkout has a backend for."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.places import Place

#: The scheme of conveyor's URL per store, and its name in messages.
SCHEMES = {"sqlite": "sqlite", "postgres": "postgresql", "redis": "redis"}


@dataclass(frozen=True, kw_only=True)
class Conveyor:
    """conveyor from this repository's venv, async handlers, its own worker CLI.

    URLs: ``sqlite:///<dir>/conveyor.db``; ``postgresql://.../test?schema=<run>`` (a fresh
    schema in the server's database); ``redis://.../0?prefix=<run>`` (db 0, the run's
    prefix), as its store issues document them.
    """

    store: str
    python: Path = field(default_factory=lambda: Path(sys.executable))
    drain_sweep: tuple[int, ...] = (16, 64, 200)
    latency_concurrency: int = 16  # conveyor's default
    io_concurrency: int | None = 100
    bulk: bool = True
    notes: Mapping[str, str] = field(
        default_factory=lambda: {"w4": "--concurrency 100, async handler"}
    )
    pg_place: str = "schema"
    redis_db: int = 0
    name: str = "conveyor"

    @classmethod
    def create(cls, store: str) -> Conveyor:
        return cls(store=store)

    def redis_patterns(self) -> Sequence[str]:
        # Its keys are "{<prefix>}:..." (one Redis Cluster hash tag); both forms, to be safe.
        return ("{prefix}*", "{{{prefix}}}*")

    def url(self, place: Place) -> str:
        if self.store == "sqlite":
            return f"sqlite:///{place.directory / 'conveyor.db'}"
        if self.store == "postgres":
            return f"{place.postgres}?schema={place.schema}"
        return f"{place.redis}?prefix={place.name}"

    def missing(self) -> str | None:
        """Whether this checkout has a backend for the store (no I/O, no driver import)."""
        from conveyor.backends import check_url
        from conveyor.errors import UnknownSchemeError

        scheme = SCHEMES[self.store]
        try:
            check_url(f"{scheme}://127.0.0.1/x")
        except UnknownSchemeError:
            return f"conveyor has no {scheme} backend in this checkout"
        return None

    def client(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "bench.workloads_conveyor", *args]

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        command = [str(self.python), "-m", "conveyor", "worker"]
        command += ["--app", "bench.apps.conveyor_noop:app", "--concurrency", str(concurrency)]
        return [*command, "--burst"] if burst else command

    def env(self, place: Place) -> dict[str, str]:
        return {"CONVEYOR_URL": self.url(place)}

    def settings(self) -> dict[str, object]:
        stores = {
            "sqlite": "SQLite WAL, synchronous=NORMAL (conveyor's fixed setting)",
            "postgres": "postgresql://.../test?schema=<fresh schema>",
            "redis": "redis://.../0?prefix=<fresh prefix>",
        }
        return {
            "worker": "python -m conveyor worker --app bench.apps.conveyor_noop:app "
            "--concurrency C [--burst]",
            "handlers": "async def",
            "store": stores[self.store],
            "drain_sweep": list(self.drain_sweep),
            "latency_concurrency": self.latency_concurrency,
            "io_concurrency": self.io_concurrency,
            "notes": dict(self.notes),
        }
