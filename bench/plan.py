"""What one run measures: stores, libraries, job counts, repetitions, sweeps on or off."""

from __future__ import annotations

from dataclasses import dataclass

from bench.libraries import LINEUPS
from bench.places import STORES

#: Every workload of a run, in the order ``bench.suite.Suite.run`` measures them.
WORKLOADS = ("raw", "w1", "w1b", "w2", "w3", "w4")


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The sizes of every workload (see the README of ``bench/``)."""

    quick: bool
    stores: tuple[str, ...]
    only: str | None  # one library (``--only``), or every library of each store
    enqueue_jobs: int  # W1 (one-at-a-time enqueue)
    bulk_jobs: int  # W1b (bulk enqueue)
    bulk_chunk: int
    drain_jobs: int  # W2
    drain_processes: tuple[int, ...]  # W2 is measured with this many worker processes
    latency_jobs: int  # W3
    latency_rate: float  # W3, jobs enqueued per second
    io_jobs: int  # W4
    io_concurrency: int  # W4
    raw_jobs: int  # the raw store loops
    repeat: int
    sweep: bool  # W2: try each library's concurrency sweep first, then use the best
    quiet_wait: float  # seconds to wait for a busy machine to quiet down per measurement
    workloads: tuple[str, ...] = WORKLOADS  # a subset, for quick iterations (``--workload``)

    @classmethod
    def build(
        cls,
        *,
        quick: bool,
        jobs: int | None,
        repeat: int | None,
        only: str | None,
        stores: tuple[str, ...] | None = None,
        workloads: tuple[str, ...] | None = None,
    ) -> Plan:
        """The full plan, or the CI smoke plan (``quick``: small, once, conveyor only).

        ``jobs`` scales every count: W1 and W2 get ``jobs``, W1b 2.5x, W4 a quarter.
        """
        n = jobs or (300 if quick else 20_000)
        return cls(
            quick=quick,
            stores=stores or STORES,
            only="conveyor" if quick else only,
            enqueue_jobs=n if jobs or quick else 10_000,
            bulk_jobs=5 * n // 2,
            bulk_chunk=1000,
            drain_jobs=n,
            drain_processes=(1, 2),
            latency_jobs=20 if quick else 200,
            latency_rate=20.0,
            io_jobs=max(n // 4, 100),
            io_concurrency=100,
            raw_jobs=n,
            repeat=repeat or (1 if quick else 3),
            sweep=not quick,
            quiet_wait=0.0 if quick else 15.0,
            workloads=workloads or WORKLOADS,
        )

    def libraries(self, store: str) -> tuple[str, ...]:
        """The names of the libraries measured on ``store``."""
        lineup = LINEUPS[store]
        return tuple(name for name in lineup if self.only in (None, name))
