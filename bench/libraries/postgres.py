"""The PostgreSQL peers: PgQueuer and Procrastinate, each on a fresh database per run."""

from __future__ import annotations

from dataclasses import dataclass

from bench.libraries import python_bin
from bench.libraries.peer import Peer


@dataclass(frozen=True, kw_only=True)
class PgQueuer(Peer):
    """PgQueuer's worker (``pgq run``'s code path) at its best documented setting for
    throughput: batches of 100 (``--batch-size 100``). ``concurrency`` 0 leaves the
    number of jobs in flight uncapped (PgQueuer's default); otherwise it is
    ``--max-concurrent-tasks``, with the batch size at most half of it (PgQueuer
    requires that)."""

    @classmethod
    def create(cls, store: str) -> PgQueuer:
        python, version = cls.venv(distribution="pgqueuer")
        return cls(
            name="pgqueuer",
            store=store,
            python=python,
            version=version,
            client_module="bench.peers.pgqueuer_client",
            drain_sweep=(0,),
            latency_concurrency=0,
            bulk=True,
            notes={"w4": "--max-concurrent-tasks 100 --batch-size 50, async entrypoint"},
        )

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        # ``pgq run`` itself fails in 1.6.0: see bench.peers.pgqueuer_worker.
        command = [str(self.python), "-m", "bench.peers.pgqueuer_worker"]
        if concurrency == 0:
            return [*command, "--batch-size", "100"]
        batch = min(100, max(1, concurrency // 2))
        return [*command, "--batch-size", str(batch), "--max-concurrent-tasks", str(concurrency)]

    def settings(self) -> dict[str, object]:
        return self.base_settings() | {
            "worker": "python -m bench.peers.pgqueuer_worker (= pgq run "
            "bench.peers.pgqueuer_app:main, whose CLI fails in 1.6.0) --batch-size 100 "
            "(W4: --batch-size 50 --max-concurrent-tasks 100)",
            "driver": "asyncpg (AsyncpgDriver), a fresh database per run",
            "handlers": "async def entrypoints",
        }


@dataclass(frozen=True, kw_only=True)
class Procrastinate(Peer):
    """Procrastinate's worker with ``--concurrency``, LISTEN/NOTIFY on (its default),
    finished jobs kept (its default, as conveyor keeps them)."""

    @classmethod
    def create(cls, store: str) -> Procrastinate:
        python, version = cls.venv(distribution="procrastinate")
        return cls(
            name="procrastinate",
            store=store,
            python=python,
            version=version,
            client_module="bench.peers.procrastinate_client",
            drain_sweep=(16,),
            latency_concurrency=16,
            bulk=True,
            notes={"w4": "--concurrency 100, async task"},
        )

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        command = [python_bin(self.python, "procrastinate"), "--app"]
        command += ["bench.peers.procrastinate_app.app", "worker"]
        return [*command, "--concurrency", str(concurrency), "--name", f"bench{index}"]

    def settings(self) -> dict[str, object]:
        return self.base_settings() | {
            "worker": "procrastinate --app bench.peers.procrastinate_app.app worker "
            "--concurrency C --name benchN",
            "driver": "PsycopgConnector, a fresh database per run",
            "handlers": "async def tasks",
        }
