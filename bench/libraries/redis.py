"""The Redis peers: arq, SAQ, RQ, Celery and Dramatiq, in the peers' Redis db (15),
each run under its own key prefix, namespace or queue name."""

from __future__ import annotations

from dataclasses import dataclass

from bench.libraries import python_bin
from bench.libraries.peer import Peer

#: Celery worker flags for many short tasks (Celery's "Optimizing" guide and worker
#: docs): one process running tasks in a thread pool, no gossip/mingle/heartbeat.
CELERY_FLAGS: tuple[str, ...] = ("--pool", "threads", "--without-gossip", "--without-mingle")
CELERY_FLAGS += ("--without-heartbeat", "--loglevel", "WARNING")


@dataclass(frozen=True, kw_only=True)
class Arq(Peer):
    """arq's worker, tuned (``bench.peers.arq_app``): ``max_jobs`` = concurrency,
    ``poll_delay`` 0.01 s, results not kept."""

    @classmethod
    def create(cls, store: str) -> Arq:
        python, version = cls.venv("arq", distribution="arq")
        return cls(
            name="arq",
            store=store,
            python=python,
            version=version,
            client_module="bench.peers.arq_client",
            drain_sweep=(100,),
            latency_concurrency=100,
            notes={"w1b": "no bulk API", "w4": "max_jobs=100, async job"},
            patterns=("{prefix}:*", "arq:*"),
        )

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        command = [python_bin(self.python, "arq"), "bench.peers.arq_app.WorkerSettings"]
        return [*command, "--burst"] if burst else command

    def settings(self) -> dict[str, object]:
        return self.base_settings() | {
            "worker": "arq bench.peers.arq_app.WorkerSettings [--burst] "
            "(max_jobs=C, poll_delay=0.01, keep_result=0)",
            "handlers": "async def",
            "venv": "bench/.peers/arq (arq requires redis<6)",
        }


@dataclass(frozen=True, kw_only=True)
class Saq(Peer):
    """SAQ's worker, one process, ``concurrency`` = jobs at once."""

    @classmethod
    def create(cls, store: str) -> Saq:
        python, version = cls.venv(distribution="saq")
        return cls(
            name="saq",
            store=store,
            python=python,
            version=version,
            client_module="bench.peers.saq_client",
            drain_sweep=(50,),
            latency_concurrency=10,
            notes={"w1b": "no bulk API", "w4": "concurrency=100, async job"},
            patterns=("saq:{prefix}:*", "saq:job:{prefix}:*"),
        )

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        return [python_bin(self.python, "saq"), "bench.peers.saq_app.settings", "--quiet"]

    def settings(self) -> dict[str, object]:
        return self.base_settings() | {
            "worker": "saq bench.peers.saq_app.settings --quiet (concurrency=C)",
            "handlers": "async def",
        }


@dataclass(frozen=True, kw_only=True)
class Rq(Peer):
    """RQ's ``SimpleWorker`` (no fork per job), one job at a time."""

    @classmethod
    def create(cls, store: str) -> Rq:
        python, version = cls.venv(distribution="rq")
        return cls(
            name="rq",
            store=store,
            python=python,
            version=version,
            client_module="bench.peers.rq_client",
            drain_sweep=(1,),
            latency_concurrency=1,
            io_concurrency=None,
            bulk=True,
            notes={"w4": "n/a: 1 job at a time"},
            patterns=("rq:*",),
        )

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        command = [python_bin(self.python, "rq"), "worker", "-w", "rq.worker.SimpleWorker"]
        command += ["--url", "{BENCH_REDIS_URL}", "--quiet", "--name", f"{{BENCH_PREFIX}}-{index}"]
        command += ["--burst"] if burst else []
        return [*command, "{BENCH_PREFIX}"]

    def settings(self) -> dict[str, object]:
        return self.base_settings() | {
            "worker": "rq worker -w rq.worker.SimpleWorker --url URL --quiet [--burst] QUEUE",
            "handlers": "def (one job at a time per worker process)",
        }


@dataclass(frozen=True, kw_only=True)
class Celery(Peer):
    """Celery with the Redis broker, one worker process with a thread pool."""

    @classmethod
    def create(cls, store: str) -> Celery:
        python, version = cls.venv(distribution="celery")
        return cls(
            name="celery",
            store=store,
            python=python,
            version=version,
            client_module="bench.peers.celery_client",
            drain_sweep=(8,),
            latency_concurrency=8,
            notes={"w1b": "no bulk API", "w4": "--pool threads -c 100, time.sleep"},
            patterns=("{prefix}:*",),
        )

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        command = [python_bin(self.python, "celery"), "-A", "bench.peers.celery_app", "worker"]
        command += ["-c", str(concurrency), "-n", f"bench{index}@%h", *CELERY_FLAGS]
        return command

    def settings(self) -> dict[str, object]:
        return self.base_settings() | {
            "worker": "celery -A bench.peers.celery_app worker -c C -n benchN@%h "
            + " ".join(CELERY_FLAGS),
            "app": "task_ignore_result, worker_prefetch_multiplier=16, "
            "worker_disable_rate_limits, global_keyprefix",
            "handlers": "def (thread pool)",
        }


@dataclass(frozen=True, kw_only=True)
class Dramatiq(Peer):
    """Dramatiq with the Redis broker: one worker process (forked by its CLI) with
    ``--threads`` = concurrency."""

    @classmethod
    def create(cls, store: str) -> Dramatiq:
        python, version = cls.venv(distribution="dramatiq")
        return cls(
            name="dramatiq",
            store=store,
            python=python,
            version=version,
            client_module="bench.peers.dramatiq_client",
            drain_sweep=(8,),
            latency_concurrency=8,
            notes={"w1b": "no bulk API", "w4": "--threads 100, time.sleep"},
            patterns=("{prefix}:*",),
        )

    def worker(self, concurrency: int, *, burst: bool, index: int) -> list[str]:
        command = [python_bin(self.python, "dramatiq"), "bench.peers.dramatiq_app"]
        return [*command, "--processes", "1", "--threads", str(concurrency)]

    def settings(self) -> dict[str, object]:
        return self.base_settings() | {
            "worker": "dramatiq bench.peers.dramatiq_app --processes 1 --threads C",
            "handlers": "def (worker threads)",
        }
