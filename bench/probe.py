"""Completion probes: how a worker process tells the harness that its jobs ran.

Every library's benchmark handler calls ``Probe.hit()`` and nothing else, so the cost
of detecting completion is the same for all of them: a lock, an integer increment, and
a wall-clock read only on the first and the last hit. The probe writes two small JSON
files into its directory, atomically (write, then rename), which the harness polls:

- ``first.json`` at the first hit: ``{"t": <epoch seconds>}``;
- ``done.json`` at hit number ``target``: first and last timestamps, and the latency
  samples given to ``hit(seq, enqueued_at)`` (enqueue-to-start, seconds), keyed by
  the job's sequence number so that warm-up jobs (negative ``seq``) can be left out.

Wall-clock time (``time.time()``) is used because the two ends of a measurement live
in different processes; both run on this machine and read the same clock.

Standard library only: this module is imported inside every peer's venv.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

#: Environment variables that configure the probe of a worker process.
PROBE_DIR_ENV = "BENCH_PROBE_DIR"
PROBE_TARGET_ENV = "BENCH_PROBE_TARGET"


class Probe:
    """Counts handler starts; see the module docstring. Thread-safe."""

    def __init__(self, directory: Path | None, target: int) -> None:
        self.directory = directory
        self.target = target
        self._lock = threading.Lock()
        self._count = 0
        self._first: float | None = None
        self._latencies: dict[int, float] = {}

    def hit(self, seq: int = 0, enqueued_at: float | None = None) -> None:
        """Record one handler start; ``enqueued_at`` (epoch seconds) adds a latency sample."""
        now = time.time() if enqueued_at is not None else None
        with self._lock:
            self._count += 1
            count = self._count
            if now is not None and enqueued_at is not None:
                self._latencies[seq] = now - enqueued_at
            if count == 1:
                self._first = now if now is not None else time.time()
        if self.directory is None:
            return
        if count == 1:
            _write_atomically(self.directory / "first.json", {"t": self._first})
        if count == self.target:
            last = time.time()
            with self._lock:
                latencies = {str(k): v for k, v in self._latencies.items()}
            done = {"first": self._first, "last": last, "count": count, "latencies": latencies}
            _write_atomically(self.directory / "done.json", done)


def probe_from_env() -> Probe:
    """The probe configured by ``BENCH_PROBE_DIR`` and ``BENCH_PROBE_TARGET``; without
    them, a probe that only counts (importing a bench app outside the harness is fine)."""
    directory = os.environ.get(PROBE_DIR_ENV)
    target = int(os.environ.get(PROBE_TARGET_ENV, "0"))
    return Probe(Path(directory) if directory else None, target)


def _write_atomically(path: Path, data: object) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)
