"""One function per workload, the same for every library (see ``bench.libraries``).

Each call uses a fresh place in the store (``bench.places``: a new directory, database,
schema or key prefix), runs the library's ``setup`` client subcommand there (schema
install, untimed), and returns one sample. How completion is detected
(``bench.probe``): the workers' handlers count job starts in process, and a background
thread of each worker process flushes its count and first/last timestamps to a
per-process file every few ms; the harness adds the files up, so its polling adds
nothing to the figures.

- ``enqueue_rate``: W1/W1b, jobs/s of a client process (measured inside it).
- ``drain``: W2/W4, N queued jobs, P worker processes. ``steady`` is (N - 1) jobs over
  first-to-last job start; ``startup`` is spawning the workers to the first job start
  (imports, store open, first claim); ``overall`` is N jobs over spawn-to-last;
  ``rss_mib`` the resident memory of the processes that ran jobs, summed, as each
  read it at most 50 ms before its last job start (a supervisor process that runs no
  jobs, such as Dramatiq's, is not counted).
- ``latency``: W3, enqueue-to-start of paced jobs on an idle worker, in milliseconds.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import places
from bench.libraries import Library
from bench.probe import PROBE_DIR_ENV
from bench.processes import BenchError, background, expand, run_json, wait_for_count

_runs = itertools.count(1)


@dataclass(frozen=True, slots=True)
class DrainSample:
    """One W2/W4 run: rates in jobs/s, start-up in seconds, memory in MiB."""

    steady: float
    startup: float
    overall: float
    rss_mib: float
    span: float  # seconds from the first probe hit to the last


def fresh_dir(workdir: Path, name: str, workload: str) -> Path:
    """A new directory (with an empty ``probe/``) for one run of one workload."""
    directory = workdir / f"{next(_runs):03d}-{name}-{workload}"
    (directory / "probe").mkdir(parents=True)
    return directory


def _client_timeout(n: int) -> float:
    return 120.0 + n / 100  # generous: a slow library must not fail, only score low


@contextlib.contextmanager
def prepared(
    library: Library, workdir: Path, workload: str
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh place for one run, set up by the library's client; yields the run's
    directory and the environment naming the place (removed afterwards)."""
    directory = fresh_dir(workdir, library.name, workload)
    with places.fresh(
        library.store,
        directory,
        pg_place=library.pg_place,
        redis_db=library.redis_db,
        redis_patterns=library.redis_patterns(),
    ) as place:
        env = library.env(place)
        run_json(library.client("setup"), env=env, timeout=120)
        yield directory, env


def enqueue_rate(library: Library, workdir: Path, n: int, *args: str) -> float:
    """Jobs/s of one client run: ``args`` is the subcommand and its options."""
    with prepared(library, workdir, "enqueue") as (_, env):
        result = run_json(library.client(*args, "--n", str(n)), env=env, timeout=_client_timeout(n))
    return float(result["n"]) / float(result["seconds"])


def drain(
    library: Library,
    workdir: Path,
    n: int,
    concurrency: int,
    *,
    processes: int = 1,
    job: str = "noop",
) -> DrainSample:
    """W2/W4: queue ``n`` jobs, then time ``processes`` worker processes running them."""
    workload = f"{job}-c{concurrency}-p{processes}"
    with prepared(library, workdir, workload) as (directory, env):
        fill = library.client("fill", "--n", str(n), "--job", job)
        run_json(fill, env=env, timeout=_client_timeout(n))
        probe = directory / "probe"
        env |= {PROBE_DIR_ENV: str(probe), "BENCH_CONCURRENCY": str(concurrency)}
        commands = [
            expand(library.worker(concurrency, burst=True, index=i), env) for i in range(processes)
        ]
        log = directory / "worker.log"
        spawned = time.time()
        with background(commands, env=env, log=log) as workers:
            totals = wait_for_count(
                probe, n, processes=workers, log=log, timeout=_client_timeout(n)
            )
    first, last = totals.first, totals.last
    return DrainSample(
        steady=(n - 1) / (last - first),
        startup=first - spawned,
        overall=n / (last - spawned),
        rss_mib=totals.rss_kib / 1024,
        span=last - first,
    )


def latency(library: Library, workdir: Path, n: int, rate: float, concurrency: int) -> list[float]:
    """W3: enqueue-to-start latencies (ms) of ``n`` jobs paced at ``rate`` per second."""
    with prepared(library, workdir, "latency") as (directory, env):
        probe = directory / "probe"
        env |= {PROBE_DIR_ENV: str(probe), "BENCH_CONCURRENCY": str(concurrency)}
        log = directory / "worker.log"
        producer = library.client(
            "produce", "--n", str(n), "--rate", str(rate), "--probe-dir", str(probe)
        )
        worker = expand(library.worker(concurrency, burst=False, index=0), env)
        with background([worker], env=env, log=log) as workers:
            try:
                run_json(producer, env=env, timeout=_client_timeout(n) + n / rate)
            except BenchError as exc:
                state = "running" if workers[0].poll() is None else "exited"
                tail = log.read_text(errors="replace")[-3000:]
                raise BenchError(f"{exc}\nthe worker ({state}) logged:\n{tail}") from exc
            totals = wait_for_count(probe, n + 1, processes=workers, log=log, timeout=60.0)
    return [seconds * 1000 for seq, seconds in totals.latencies.items() if seq >= 0]
