"""The libraries under test, as the harness drives them: how to run a client workload,
how to start a worker, which store a run uses, and the settings to record.

Each library runs its own real worker command, as its users would: ``conveyor worker``
(the CLI) and Huey's ``huey_consumer``. The settings recorded here go into the results
JSON and the docs, so a reader can rerun any figure by hand.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

#: Huey consumer flags shared by every run, from Huey's consumer documentation: thread
#: workers ("anything else: use thread", the default), no periodic-task scheduler (-n,
#: "save a few CPU cycles"), no worker health check (-C, "perfectly fine"), errors-only
#: logging (-q; at the default INFO it logs two lines per task), and the docs' "very
#: short polling interval" example (-b 1.05 -m 1.0) with the default initial delay
#: (-d 0.1) after which an idle worker polls again.
HUEY_CONSUMER_FLAGS = ("-k", "thread", "-n", "-C", "-q", "-d", "0.1", "-b", "1.05", "-m", "1.0")


class Library(Protocol):
    """A job system as the harness drives it."""

    @property
    def name(self) -> str:
        """``conveyor`` or ``huey``: the key of its results."""
        ...

    @property
    def concurrency_sweep(self) -> tuple[int, ...]:
        """W2's settings to try: conveyor's ``--concurrency``, Huey's ``-w``."""
        ...

    @property
    def latency_concurrency(self) -> int:
        """W3's setting: fixed, not the W2 sweep's pick (see each class)."""
        ...

    def client(self, *args: str) -> list[str]:
        """The command running a client workload subcommand (``enqueue``, ``fill``...)."""
        ...

    def worker(self, concurrency: int, *, burst: bool) -> list[str]:
        """The command starting one worker process; ``burst``: exit when idle, if the
        library can (otherwise the harness stops it)."""
        ...

    def store_env(self, directory: Path) -> dict[str, str]:
        """Environment variables pointing client and worker at a fresh store."""
        ...

    def settings(self) -> dict[str, object]:
        """What to record about how this library was run."""
        ...


@dataclass(frozen=True, slots=True)
class Conveyor:
    """conveyor, from this repository's venv, with async handlers."""

    python: Path = field(default_factory=lambda: Path(sys.executable))
    concurrency_sweep: tuple[int, ...] = (16, 64, 200)
    latency_concurrency: int = 16  # conveyor's default
    name: str = "conveyor"

    def client(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "bench.workloads_conveyor", *args]

    def worker(self, concurrency: int, *, burst: bool) -> list[str]:
        command = [str(self.python), "-m", "conveyor", "worker"]
        command += ["--app", "bench.apps.conveyor_noop:app", "--concurrency", str(concurrency)]
        return [*command, "--burst"] if burst else command

    def store_env(self, directory: Path) -> dict[str, str]:
        return {"CONVEYOR_URL": f"sqlite:///{directory / 'conveyor.db'}"}

    def settings(self) -> dict[str, object]:
        return {
            "worker": "python -m conveyor worker --app bench.apps.conveyor_noop:app "
            "--concurrency C [--burst]",
            "handlers": "async def",
            "store": "SQLite WAL, synchronous=NORMAL (conveyor's fixed setting)",
            "concurrency_sweep": list(self.concurrency_sweep),
            "latency_concurrency": self.latency_concurrency,
        }


@dataclass(frozen=True, slots=True)
class Huey:
    """Huey's ``SqliteHuey`` from the peers' venv, thread workers.

    ``synchronous="normal"`` matches conveyor's durability (see ``bench.peers.huey_app``);
    ``"default"`` is Huey as installed (SQLite's default, FULL).
    """

    python: Path
    version: str
    synchronous: str = "normal"
    concurrency_sweep: tuple[int, ...] = (1, 4, 16)
    # Each Huey worker thread polls on its own, so latency falls as -w rises: W3 uses the
    # 8 threads of the docs' "very short polling interval" example.
    latency_concurrency: int = 8
    name: str = "huey"

    def client(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "bench.peers.huey_sqlite", *args]

    def worker(self, concurrency: int, *, burst: bool) -> list[str]:
        # Huey has no burst mode: the harness stops the consumer once the probe is done.
        consumer = str(self.python.parent / "huey_consumer")
        return [consumer, "bench.peers.huey_app.huey", "-w", str(concurrency), *HUEY_CONSUMER_FLAGS]

    def store_env(self, directory: Path) -> dict[str, str]:
        return {
            "BENCH_HUEY_DB": str(directory / "huey.db"),
            "BENCH_HUEY_SYNCHRONOUS": self.synchronous,
        }

    def settings(self) -> dict[str, object]:
        return {
            "version": self.version,
            "worker": "huey_consumer bench.peers.huey_app.huey -w W "
            + " ".join(HUEY_CONSUMER_FLAGS),
            "handlers": "def (Huey runs tasks in its worker threads)",
            "store": "SqliteHuey, WAL, synchronous=NORMAL (set by a SqliteStorage subclass "
            "to match conveyor; Huey's default is FULL)",
            "workers_sweep": list(self.concurrency_sweep),
            "latency_workers": self.latency_concurrency,
        }
