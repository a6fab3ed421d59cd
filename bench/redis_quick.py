"""conveyor on Redis, measured quickly: ``python -m bench.redis_quick [--repeat R]``.

A stop-gap until the full per-store harness (conveyor against the Redis peers in one
run) covers Redis: conveyor only, on a private redis-server started for the run (its
own free port and directory, persistence off, as the peers' figures in issue 5 were
taken), with the workloads of ``bench.measure`` and the raw ceilings of Redis from
Python. Prints one line per measurement and the medians as JSON.

- raw: ``PING`` one at a time (round trips/s); pipelines of 100 jobs, each an ``HSET``
  and an ``LPUSH`` (jobs/s);
- W1: ``await enqueue()`` one job per call, 10,000 jobs; W1b: ``enqueue_many`` of
  50,000 in chunks of 1,000 and in one call;
- W2: drain 20,000 queued no-op jobs with one worker process (``steady``: first to last
  job start), and with one and two processes measured alike (first job start to the
  last exit of ``conveyor worker --burst``, which includes noticing the queue is
  empty and shutting down: compare these two with each other, not with ``steady``);
- W3: enqueue-to-start on an idle worker, 200 jobs at 20/s, p50/p95/p99 in ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import measure
from bench.probe import PROBE_DIR_ENV
from bench.processes import REPO, BenchError, child_env, run_json
from bench.stats import percentile

_RAW = r"""
import asyncio, json, sys, time, uuid
from redis.asyncio import Redis
kind, n, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
async def main():
    client = Redis.from_url(url)
    if kind == "ping":
        for _ in range(100):
            await client.ping()
        start = time.perf_counter()
        for _ in range(n):
            await client.ping()
    else:
        ids = [str(uuid.uuid4()) for _ in range(n)]
        start = time.perf_counter()
        for low in range(0, n, 100):
            pipe = client.pipeline(transaction=False)
            for job_id in ids[low : low + 100]:
                pipe.hset("raw:job:" + job_id, mapping={"payload": '{"i": 1}', "state": "q"})
                pipe.lpush("raw:queue", job_id)
            await pipe.execute()
    seconds = time.perf_counter() - start
    await client.aclose()
    print(json.dumps({"n": n, "seconds": seconds}))
asyncio.run(main())
"""


@dataclass(frozen=True, slots=True)
class ConveyorOnRedis:
    """conveyor as ``bench.libraries.Library``, one fresh key prefix per measurement."""

    url: str
    python: Path = field(default_factory=lambda: Path(sys.executable))
    name: str = "conveyor"
    concurrency_sweep: tuple[int, ...] = (64,)
    latency_concurrency: int = 16

    def client(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "bench.workloads_conveyor", *args]

    def worker(self, concurrency: int, *, burst: bool) -> list[str]:
        command = [str(self.python), "-m", "conveyor", "worker", "--log-level", "warning"]
        command += ["--app", "bench.apps.conveyor_noop:app", "--concurrency", str(concurrency)]
        return [*command, "--burst"] if burst else command

    def store_env(self, directory: Path) -> dict[str, str]:
        return {"CONVEYOR_URL": f"{self.url}?prefix=bench-{directory.name}"}

    def settings(self) -> dict[str, object]:
        return {"store": "Redis, private server, persistence off"}


@contextlib.contextmanager
def private_redis(directory: Path) -> Iterator[str]:
    """redis-server on a free port for the ``with`` block; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    process = subprocess.Popen(
        [*command, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"redis-server did not start on port {port}")
            time.sleep(0.02)  # the server is starting: nothing to wait on but its port
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(timeout=10)


def raw(url: str, kind: str, n: int) -> float:
    result = run_json([sys.executable, "-c", _RAW, kind, str(n), url], env={}, timeout=300)
    return n / float(result["seconds"])


def drain_processes(library: ConveyorOnRedis, workdir: Path, n: int, processes: int) -> float:
    """Jobs/s of ``processes`` ``--burst`` workers: first job start to the last exit."""
    directory = measure.fresh_dir(workdir, library.name, f"drain-{processes}p")
    env = library.store_env(directory)
    run_json(library.client("fill", "--n", str(n)), env=env, timeout=300)
    started = []
    with contextlib.ExitStack() as stack:
        for k in range(processes):
            probe = directory / f"probe{k}"
            probe.mkdir()
            log = stack.enter_context((directory / f"worker{k}.log").open("wb"))
            command = library.worker(64, burst=True)
            worker_env = child_env(env | {PROBE_DIR_ENV: str(probe)})
            started.append(
                subprocess.Popen(command, cwd=REPO, env=worker_env, stdout=log, stderr=log)
            )
        codes = [process.wait(timeout=300) for process in started]
    ended = time.time()
    if any(codes):
        raise BenchError(f"a worker exited {codes}; see {directory}")
    firsts = [
        float(json.loads((directory / f"probe{k}" / "first.json").read_text())["t"])
        for k in range(processes)
    ]
    return n / (ended - min(firsts))


def run_once(library: ConveyorOnRedis, url: str, workdir: Path) -> dict[str, float]:
    figures = {
        "raw PING round trips/s": raw(url, "ping", 10_000),
        "raw pipelines of 100 jobs/s": raw(url, "pipeline", 50_000),
        "W1 enqueue one per call jobs/s": measure.enqueue_rate(
            library, workdir, 10_000, "enqueue", "--mode", "async"
        ),
        "W1b enqueue_many 50k chunks of 1000 jobs/s": measure.enqueue_rate(
            library, workdir, 50_000, "enqueue-many", "--chunk", "1000"
        ),
        "W1b enqueue_many 50k one call jobs/s": measure.enqueue_rate(
            library, workdir, 50_000, "enqueue-many", "--chunk", "0"
        ),
    }
    sample = measure.drain(library, workdir, 20_000, 64)
    figures["W2 drain 20k, 1 process, steady jobs/s"] = sample.steady
    figures["W2 drain 20k, 1 process, overall jobs/s"] = sample.overall
    for processes in (1, 2):
        figures[f"W2 drain 20k, {processes} process(es), first start to exit jobs/s"] = (
            drain_processes(library, workdir, 20_000, processes)
        )
    latencies = measure.latency(library, workdir, 200, 20.0, library.latency_concurrency)
    for q in (50, 95, 99):
        figures[f"W3 enqueue to start p{q} ms"] = percentile(latencies, q)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_quick")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    collected: dict[str, list[float]] = {}
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="conveyor-redis-")))
        url = stack.enter_context(private_redis(workdir))
        library = ConveyorOnRedis(url)
        for round_number in range(1, args.repeat + 1):
            for name, value in run_once(library, url, workdir).items():
                collected.setdefault(name, []).append(value)
                print(f"  {round_number}/{args.repeat} {name}: {value:,.2f}", file=sys.stderr)
    medians = {name: statistics.median(values) for name, values in collected.items()}
    print(json.dumps({"medians": medians, "values": collected}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
