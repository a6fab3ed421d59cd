"""Completion probes: how worker processes tell the harness that their jobs ran.

Every library's benchmark handler calls ``Probe.hit()`` and nothing else, so the cost
of detecting completion is the same for all of them: a lock, an integer increment and
one wall-clock read per job. A background thread of the worker process (started at its
first hit) writes the process's totals every ``FLUSH_INTERVAL`` seconds, when they
changed, to ``<pid>.json`` in the probe directory, atomically (write, then rename):
``{"pid", "count", "first", "last", "rss_kib", "latencies"}``, where ``first``/``last`` are the
wall-clock times of the process's first and latest job start and ``latencies`` holds
the enqueue-to-start samples given to ``hit(seq, enqueued_at)``, keyed by the job's
sequence number (warm-up jobs have a negative one), and ``rss_kib`` is the process's
resident memory (``VmRSS``), read at most every ``RSS_INTERVAL`` seconds. An ``atexit``
hook writes the final totals of a process that exits by itself (``conveyor worker
--burst``).

One file per process is what lets the harness count a drain spread over several worker
processes, including libraries that fork their workers (Celery's prefork pool,
Dramatiq): a forked child starts from zero with its own lock and thread
(``os.register_at_fork``). ``read_totals`` sums the files: count added up, the earliest
first and the latest last. The flush delay never reaches the figures: the timestamps are
taken by the hits themselves; the harness only waits a few ms longer to read them.

Wall-clock time (``time.time()``) is used because the two ends of a measurement live in
different processes; all of them run on this machine and read the same clock.

Standard library only: this module is imported inside every peer's venv.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Environment variable naming the probe directory of a worker process.
PROBE_DIR_ENV = "BENCH_PROBE_DIR"
#: Seconds between two flushes of a process's totals.
FLUSH_INTERVAL = 0.005
#: Seconds between two reads of the process's resident memory.
RSS_INTERVAL = 0.05


class Probe:
    """Counts handler starts of this process; see the module docstring. Thread-safe."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._count = 0
        self._first = 0.0
        self._last = 0.0
        self._latencies: dict[int, float] = {}
        self._written = 0
        self._rss_kib = 0
        self._rss_read = 0.0
        self._flusher: threading.Thread | None = None

    def hit(self, seq: int = 0, enqueued_at: float | None = None) -> None:
        """Record one handler start; ``enqueued_at`` (epoch seconds) adds a latency sample."""
        now = time.time()
        with self._lock:
            self._count += 1
            if self._count == 1:
                self._first = now
                self._start_flusher()
            self._last = now
            if enqueued_at is not None:
                self._latencies[seq] = now - enqueued_at

    @property
    def count(self) -> int:
        return self._count

    def _start_flusher(self) -> None:
        # Called under the lock, once per process (a forked child resets first).
        if self.directory is None or self._flusher is not None:
            return
        self._flusher = threading.Thread(target=self._flush_forever, name="bench-probe")
        self._flusher.daemon = True
        self._flusher.start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL)
            self.flush()

    def flush(self, *, final: bool = False) -> None:
        """Write this process's totals if they changed since the last write (``final``:
        also if only the resident memory may have)."""
        if self.directory is None:
            return
        with self._write_lock:  # a newer total is never replaced by an older one
            if final or time.monotonic() - self._rss_read > RSS_INTERVAL:
                self._rss_kib = _rss_kib()
                self._rss_read = time.monotonic()
                if final:
                    self._written = -1  # write even if the count did not change
            with self._lock:
                if self._count == self._written:
                    return
                self._written = self._count
                totals = {
                    "pid": os.getpid(),
                    "count": self._count,
                    "first": self._first,
                    "last": self._last,
                    "rss_kib": self._rss_kib,
                    "latencies": {str(k): v for k, v in self._latencies.items()},
                }
            _write_atomically(self.directory / f"{os.getpid()}.json", totals)


def probe_from_env() -> Probe:
    """The probe configured by ``BENCH_PROBE_DIR``; without it, a probe that only counts
    (importing a bench app outside the harness is fine)."""
    directory = os.environ.get(PROBE_DIR_ENV)
    probe = Probe(Path(directory) if directory else None)
    os.register_at_fork(after_in_child=probe._reset)
    atexit.register(probe.flush, final=True)
    return probe


@dataclass(frozen=True, slots=True)
class Totals:
    """The probe files of one directory added up."""

    count: int = 0
    first: float = 0.0
    last: float = 0.0
    processes: int = 0
    rss_kib: int = 0  # summed over the processes that ran jobs
    latencies: dict[int, float] = field(default_factory=dict)


def read_totals(directory: Path) -> Totals:
    """Sum the per-process probe files in ``directory`` (see the module docstring)."""
    count, processes, rss, firsts, lasts = 0, 0, 0, [], []
    latencies: dict[int, float] = {}
    for path in directory.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):  # replaced between glob and read: next poll
            continue
        if not data["count"]:
            continue
        processes += 1
        count += int(data["count"])
        rss += int(data["rss_kib"])
        firsts.append(float(data["first"]))
        lasts.append(float(data["last"]))
        latencies.update({int(k): float(v) for k, v in data["latencies"].items()})
    if not count:
        return Totals()
    return Totals(count, min(firsts), max(lasts), processes, rss, latencies)


def _rss_kib() -> int:
    """This process's resident memory in KiB (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _write_atomically(path: Path, data: object) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)
