"""What one run measures: job counts, repetitions, which libraries, sweeps on or off."""

from __future__ import annotations

from dataclasses import dataclass

#: The libraries a run can include; ``--only`` picks one.
LIBRARIES = ("conveyor", "huey")


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The sizes of every workload (see the README of ``bench/``)."""

    quick: bool
    jobs: int  # W1 (one-at-a-time enqueue) and W2 (drain)
    bulk_jobs: int  # W1b (enqueue_many)
    bulk_chunk: int
    latency_jobs: int  # W3
    latency_rate: float  # W3, jobs enqueued per second
    raw_jobs: int  # the raw SQLite loops
    repeat: int
    sweep: bool  # W2: try each library's concurrency sweep first, then use the best
    quiet_wait: float  # seconds to wait for a busy machine to quiet down per measurement
    libraries: tuple[str, ...]

    @classmethod
    def build(cls, *, quick: bool, jobs: int | None, repeat: int | None, only: str | None) -> Plan:
        """The full plan, or the CI smoke plan (``quick``: small, once, conveyor only)."""
        n = jobs or (500 if quick else 10_000)
        return cls(
            quick=quick,
            jobs=n,
            bulk_jobs=5 * n,
            bulk_chunk=1000,
            latency_jobs=50 if quick else 200,
            latency_rate=20.0,
            raw_jobs=n,
            repeat=repeat or (1 if quick else 3),
            sweep=not quick,
            quiet_wait=0.0 if quick else 15.0,
            libraries=("conveyor",) if quick else ((only,) if only else LIBRARIES),
        )

    def includes(self, library: str) -> bool:
        return library in self.libraries
