"""Huey on SQLite (``SqliteHuey``), thread workers."""

from __future__ import annotations

from dataclasses import dataclass

from bench.libraries.peer import Peer
from bench.places import Place

#: Huey consumer flags shared by every run, from Huey's consumer documentation: thread
#: workers ("anything else: use thread", the default), no periodic-task scheduler (-n,
#: "save a few CPU cycles"), no worker health check (-C, "perfectly fine"), errors-only
#: logging (-q; at the default INFO it logs two lines per task), and the docs' "very
#: short polling interval" example (-b 1.05 -m 1.0) with the default initial delay
#: (-d 0.1) after which an idle worker polls again.
HUEY_CONSUMER_FLAGS = ("-k", "thread", "-n", "-C", "-q", "-d", "0.1", "-b", "1.05", "-m", "1.0")


@dataclass(frozen=True, kw_only=True)
class Huey(Peer):
    """Huey's ``SqliteHuey`` from the peers' venv at conveyor's durability
    (``synchronous=NORMAL``, see ``bench.peers.huey_app``)."""

    @classmethod
    def create(cls, store: str) -> Huey:
        python, version = cls.venv(distribution="huey")
        return cls(
            name="huey",
            store=store,
            python=python,
            version=version,
            client_module="bench.peers.huey_client",
            drain_sweep=(1, 4, 16),
            # Each Huey worker thread polls on its own, so latency falls as -w rises: W3
            # uses the 8 threads of the docs' "very short polling interval" example.
            latency_concurrency=8,
            notes={"w1b": "no bulk API", "w4": "100 worker threads, time.sleep"},
        )

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        # Huey has no burst mode: the harness stops the consumer once the probe is done.
        consumer = str(self.python.parent / "huey_consumer")
        return [consumer, "bench.peers.huey_app.huey", "-w", str(concurrency), *HUEY_CONSUMER_FLAGS]

    def env(self, place: Place) -> dict[str, str]:
        return {
            "BENCH_HUEY_DB": str(place.directory / "huey.db"),
            "BENCH_HUEY_SYNCHRONOUS": "normal",
        }

    def settings(self) -> dict[str, object]:
        return self.base_settings() | {
            "worker": "huey_consumer bench.peers.huey_app.huey -w W "
            + " ".join(HUEY_CONSUMER_FLAGS),
            "handlers": "def (Huey runs tasks in its worker threads)",
            "store": "SqliteHuey, WAL, synchronous=NORMAL (set by a SqliteStorage subclass "
            "to match conveyor; Huey's default is FULL)",
        }
