"""Where a drain's CPU goes: the worker process against the store's server, per job.

    python -m bench.cpu_split --store postgres --library conveyor --concurrency 200
    python -m bench.cpu_split --store redis --library saq --jobs 10000

Queues N no-op jobs in a fresh place (as W2 does), runs one worker process of the
library until every job has started, and prints the steady rate with the CPU seconds
each side used, per job. The worker's figure includes its start-up (imports, store
open); the server's is what the server processes used meanwhile:

- PostgreSQL: every process named ``postgres`` on this machine (backends that exit are
  counted through their parent's children times), so the server must be local and
  otherwise idle;
- Redis: the server's own ``INFO cpu`` (user + system), so it may be anywhere, but
  must be otherwise idle.

The worker's side counts the process the harness started and its live descendants.
A diagnostic to explain W2's figures (a profile of the worker side is ``py-spy record
-- <the worker command>``), not a benchmark: it prints no ratios.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import redis

from bench import libraries, measure
from bench.places import redis_url
from bench.probe import PROBE_DIR_ENV
from bench.processes import background, expand, run_json, wait_for_count

_TICKS = os.sysconf("SC_CLK_TCK")


def _process_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of ``pid`` (and of its reaped children)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    used = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        used += int(fields[13]) + int(fields[14])  # cutime, cstime
    return used / _TICKS


def _tree_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and of every live descendant (a peer such as Dramatiq runs
    its jobs in child processes of the command the harness started)."""
    total = _process_seconds(pid)
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            for child in children.read().split():
                total += _tree_seconds(int(child))
    return total


def _postgres_seconds() -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() != "postgres":
                    continue
            total += _process_seconds(int(entry), children=True)
        except OSError:
            continue  # a process that exited meanwhile
    return total


def _redis_seconds() -> float:
    client = redis.Redis.from_url(redis_url())
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def split(store: str, name: str, jobs: int, concurrency: int) -> str:
    """Run one drain and describe where its CPU went."""
    library = libraries.build(store, (name,))[name]
    server: Callable[[], float] = _redis_seconds if store == "redis" else _postgres_seconds
    with (
        tempfile.TemporaryDirectory(prefix="conveyor-cpu-split-") as workdir,
        measure.prepared(library, Path(workdir), "cpu-split") as (directory, env),
    ):
        fill = library.client("fill", "--n", str(jobs), "--job", "noop")
        run_json(fill, env=env, timeout=600)
        probe = directory / "probe"
        env |= {PROBE_DIR_ENV: str(probe), "BENCH_CONCURRENCY": str(concurrency)}
        command = expand(library.worker(concurrency, burst=False, index=0), env)
        log = directory / "worker.log"
        before = server()
        with background([command], env=env, log=log) as workers:
            totals = wait_for_count(probe, jobs, processes=workers, log=log, timeout=600)
            time.sleep(0.2)  # the last acknowledgements
            worker = _tree_seconds(workers[0].pid)
            used = server() - before
    steady = (jobs - 1) / (totals.last - totals.first)
    per_job = 1e6 / jobs
    return (
        f"{name} on {store}, {jobs:,} jobs, concurrency {concurrency}: "
        f"steady {steady:,.0f} jobs/s; worker {worker:.2f} s CPU "
        f"({worker * per_job:.0f} us/job, start-up included); "
        f"server {used:.2f} s CPU ({used * per_job:.0f} us/job)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_split", description=__doc__)
    parser.add_argument("--store", choices=("postgres", "redis"), required=True)
    parser.add_argument("--library", default="conveyor", choices=libraries.ALL_LIBRARIES)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, help="default: the library's W2 setting")
    args = parser.parse_args(argv)
    library = libraries.build(args.store, (args.library,))[args.library]
    sweep = library.drain_sweep
    concurrency = sweep[-1] if args.concurrency is None else args.concurrency
    print(split(args.store, args.library, args.jobs, concurrency))


if __name__ == "__main__":
    main()
