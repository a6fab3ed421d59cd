"""One function per workload, the same for every library (see ``bench.libraries``).

Each call uses a fresh store in its own directory under ``workdir`` and returns one
sample. How completion is detected (``bench.probe``): the worker's handlers count
starts, and the worker process itself writes the wall-clock times of its first and
N-th job start; the harness only polls for that file, so its polling adds nothing to
the figures.

- ``enqueue_rate``: W1/W1b, jobs/s of a client process (measured inside it).
- ``drain``: W2, N queued jobs, one worker process. ``steady`` is (N - 1) jobs over
  first-to-last job start; ``startup`` is spawning the worker process to its first job
  start (imports, store open, first claim); ``overall`` is N jobs over spawn-to-last.
- ``latency``: W3, enqueue-to-start of paced jobs on an idle worker, in milliseconds.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from bench.libraries import Library
from bench.probe import PROBE_DIR_ENV, PROBE_TARGET_ENV
from bench.processes import BenchError, background, run_json, stop, wait_for_file

_runs = itertools.count(1)


@dataclass(frozen=True, slots=True)
class DrainSample:
    """One W2 run: rates in jobs/s, start-up in seconds."""

    steady: float
    startup: float
    overall: float


def fresh_dir(workdir: Path, name: str, workload: str) -> Path:
    """A new directory (with an empty ``probe/``) for one run of one workload."""
    directory = workdir / f"{next(_runs):03d}-{name}-{workload}"
    (directory / "probe").mkdir(parents=True)
    return directory


def _client_timeout(n: int) -> float:
    return 120.0 + n / 200  # generous: a slow machine must not fail, only score low


def enqueue_rate(library: Library, workdir: Path, n: int, *args: str) -> float:
    """Jobs/s of one client run: ``args`` is the subcommand and its options."""
    directory = fresh_dir(workdir, library.name, "enqueue")
    result = run_json(
        library.client(*args, "--n", str(n)),
        env=library.store_env(directory),
        timeout=_client_timeout(n),
    )
    return float(result["n"]) / float(result["seconds"])


def drain(library: Library, workdir: Path, n: int, concurrency: int) -> DrainSample:
    """W2: queue ``n`` jobs, then time one worker process running them all."""
    directory = fresh_dir(workdir, library.name, f"drain-c{concurrency}")
    env = library.store_env(directory)
    run_json(library.client("fill", "--n", str(n)), env=env, timeout=_client_timeout(n))
    probe = directory / "probe"
    env |= {PROBE_DIR_ENV: str(probe), PROBE_TARGET_ENV: str(n)}
    log = directory / "worker.log"
    spawned = time.time()
    with background(library.worker(concurrency, burst=True), env=env, log=log) as worker:
        done = wait_for_file(
            probe / "done.json", process=worker, log=log, timeout=_client_timeout(n)
        )
        stop(worker, grace=30.0)  # conveyor --burst exits by itself; Huey is told to stop
    first, last = float(done["first"]), float(done["last"])
    return DrainSample(
        steady=(n - 1) / (last - first),
        startup=first - spawned,
        overall=n / (last - spawned),
    )


def latency(library: Library, workdir: Path, n: int, rate: float, concurrency: int) -> list[float]:
    """W3: enqueue-to-start latencies (ms) of ``n`` jobs paced at ``rate`` per second."""
    directory = fresh_dir(workdir, library.name, "latency")
    probe = directory / "probe"
    env = library.store_env(directory)
    env |= {PROBE_DIR_ENV: str(probe), PROBE_TARGET_ENV: str(n + 1)}  # + the warm-up job
    log = directory / "worker.log"
    producer = library.client(
        "produce", "--n", str(n), "--rate", str(rate), "--probe-dir", str(probe)
    )
    with background(library.worker(concurrency, burst=False), env=env, log=log) as worker:
        try:
            run_json(producer, env=env, timeout=_client_timeout(n) + n / rate)
        except BenchError as exc:
            state = "running" if worker.poll() is None else f"exited {worker.returncode}"
            tail = log.read_text(errors="replace")[-3000:]
            raise BenchError(f"{exc}\nthe worker ({state}) logged:\n{tail}") from exc
        done = wait_for_file(probe / "done.json", process=worker, log=log, timeout=60.0)
    samples: dict[str, float] = done["latencies"]
    return [seconds * 1000 for seq, seconds in samples.items() if int(seq) >= 0]
