"""What every peer has in common: an interpreter in a peers' venv, a client module, a
fresh place per run given through ``bench.peers.env``'s variables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.peers.venv import installed_version, peers_python
from bench.places import PEERS_REDIS_DB, Place


@dataclass(frozen=True, kw_only=True)
class Peer:
    """A peer library; subclasses give ``worker`` and the settings to record."""

    name: str
    store: str
    python: Path
    version: str
    client_module: str
    drain_sweep: tuple[int, ...]
    latency_concurrency: int
    io_concurrency: int | None = 100
    bulk: bool = False
    notes: Mapping[str, str] = field(default_factory=dict)
    pg_place: str = "database"
    redis_db: int = PEERS_REDIS_DB
    patterns: tuple[str, ...] = ()

    @staticmethod
    def venv(name: str = "venv", distribution: str = "") -> tuple[Path, str]:
        """The interpreter of a peers' venv and the installed version of ``distribution``."""
        python = peers_python(name)
        return python, installed_version(python, distribution) if distribution else ""

    def redis_patterns(self) -> Sequence[str]:
        return self.patterns

    def missing(self) -> str | None:
        return None

    def client(self, *args: str) -> list[str]:
        return [str(self.python), "-m", self.client_module, *args]

    def env(self, place: Place) -> dict[str, str]:
        return {
            "BENCH_PREFIX": place.name,
            "BENCH_REDIS_URL": place.redis,
            "BENCH_POSTGRES_URL": place.postgres,
        }

    def base_settings(self) -> dict[str, object]:
        return {
            "version": self.version,
            "drain_sweep": list(self.drain_sweep),
            "latency_concurrency": self.latency_concurrency,
            "io_concurrency": self.io_concurrency,
            "bulk_api": self.bulk,
            "notes": dict(self.notes),
        }
