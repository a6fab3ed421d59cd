"""``python -m bench.postgres``: conveyor on PostgreSQL against PgQueuer and
Procrastinate, same machine, same run, and the raw PostgreSQL ceilings.

    python -m bench.postgres                          # full run (~5 min)
    python -m bench.postgres --quick                  # small N, once, conveyor only
    python -m bench.postgres --url postgresql://postgres@127.0.0.1/test --repeat 3

Workloads (issue 4 'Performance'):

- raw ceilings (``bench.raw_postgres``): one-row autocommit INSERT loop, COPY, and a
  SKIP LOCKED claim + ack loop in batches of 100 on one connection;
- W1: one job per call (``await enqueue()`` / ``queries.enqueue()``);
- W1b: ``enqueue_many`` of the bulk count in one call (PgQueuer: its list form);
- W2: drain N queued no-op jobs with one worker process, steady rate from the
  probe (first to last job start), at each library's best setting; and with 1 and 2
  worker processes measured alike: first job start (any process) to the moment the
  store shows no job left to do (an EXISTS polled by the harness every 10 ms), for the
  2-vs-1 ratio;
- W3: enqueue-to-start latency on an idle worker, paced.

Every run uses a fresh schema (dropped at the end). Goals never fail the command. The
machine is shared: compare figures only within one run. Procrastinate drains a tenth
of N (it runs a few hundred jobs per second), so its drain rows are not the same size.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from bench import machine, measure
from bench.libraries import Library
from bench.libraries_postgres import (
    ConveyorPostgres,
    PgQueuer,
    Procrastinate,
    drop_schemas,
    schema_for,
)
from bench.peers.venv import installed_version, peers_python
from bench.probe import PROBE_DIR_ENV, PROBE_TARGET_ENV
from bench.processes import REPO, BenchError, child_env, run_json
from bench.stats import percentile

DEFAULT_URL = os.environ.get(
    "CONVEYOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
RESULTS_DIR = REPO / "bench" / "results"

Figures = dict[str, float]


@dataclass(frozen=True, slots=True)
class Sizes:
    jobs: int  # W2
    enqueue_jobs: int  # W1 and the raw insert loop
    bulk_jobs: int  # W1b and COPY
    latency_jobs: int
    latency_rate: float
    repeat: int


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def raw_ceilings(url: str, sizes: Sizes) -> Figures:
    found: Figures = {}
    for kind, n in (
        ("insert", sizes.enqueue_jobs),
        ("copy", sizes.bulk_jobs),
        ("claim-ack", sizes.jobs),
    ):
        rates = []
        for _ in range(sizes.repeat):
            command = [sys.executable, "-m", "bench.raw_postgres", kind, "--n", str(n)]
            result = run_json([*command, "--url", url], env={}, timeout=600)
            rates.append(n / float(result["seconds"]))
        found[kind] = _median(rates)
        progress(f"raw {kind}: {found[kind]:,.0f} rows/s")
    return found


def _remaining(library: Library, url: str, schema: str) -> Callable[[], bool]:
    """Whether any of the drain's jobs is not done yet, as the store shows it. An EXISTS
    that stops at the first row: polling every 10 ms must not load the machine."""
    if isinstance(library, ConveyorPostgres):
        query = sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {}.jobs WHERE state IN ('queued', 'running'))"
        )
    elif isinstance(library, Procrastinate):
        query = sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {}.procrastinate_jobs WHERE status IN ('todo', 'doing'))"
        )
    else:
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.pgqueuer)")
    statement = query.format(sql.Identifier(schema))
    conn = psycopg.connect(url, autocommit=True)

    def remaining() -> bool:
        row = conn.execute(statement).fetchone()
        return bool(row[0]) if row else False

    remaining.close = conn.close  # type: ignore[attr-defined]  # closed by the caller
    return remaining


def drain_processes(
    library: Library, url: str, workdir: Path, n: int, concurrency: int, processes: int
) -> float:
    """Jobs/s of ``processes`` worker processes draining ``n`` jobs: first job start (any
    process) to the store showing every job done."""
    directory = measure.fresh_dir(workdir, library.name, f"drain-p{processes}")
    env = library.store_env(directory)
    run_json(library.client("fill", "--n", str(n)), env=env, timeout=600)
    remaining = _remaining(library, url, schema_for(directory))
    probes = [directory / f"probe-{k}" for k in range(processes)]
    workers: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for k, probe in enumerate(probes):
            probe.mkdir()
            log = (directory / f"worker-{k}.log").open("wb")
            logs.append(log)
            extra = env | {PROBE_DIR_ENV: str(probe), PROBE_TARGET_ENV: str(n + 1)}
            workers.append(
                subprocess.Popen(
                    library.worker(concurrency, burst=False),
                    cwd=REPO,
                    env=child_env(extra),
                    stdout=log,
                    stderr=log,
                )
            )
        deadline = time.monotonic() + 600
        while remaining():
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise BenchError(f"the {library.name} drain did not finish (see {directory})")
            time.sleep(0.01)
        done_at = time.time()
        firsts = [
            json.loads((p / "first.json").read_text())["t"]
            for p in probes
            if (p / "first.json").exists()
        ]
        return float(n / (done_at - min(firsts)))
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        for log in logs:
            log.close()
        remaining.close()  # type: ignore[attr-defined]


#: Other processes' CPU use under which a measurement starts at once (see bench.suite).
QUIET = 0.15
QUIET_WAIT_SECONDS = 15.0


def quiet(busy_log: list[float]) -> str:
    """Wait up to ``QUIET_WAIT_SECONDS`` for the machine to quiet down; note how busy."""
    busy = machine.busy_fraction()
    deadline = time.monotonic() + QUIET_WAIT_SECONDS
    while busy is not None and busy > QUIET and time.monotonic() < deadline:
        busy = machine.busy_fraction()
    if busy is None:
        return ""
    busy_log.append(busy)
    return f" (machine {100 * busy:.0f}% busy before)"


def _w1(library: Library, workdir: Path, sizes: Sizes) -> Figures:
    one_call = ["--mode", "async"] if isinstance(library, ConveyorPostgres) else []
    return {"w1": measure.enqueue_rate(library, workdir, sizes.enqueue_jobs, "enqueue", *one_call)}


def _w1b(library: Library, workdir: Path, sizes: Sizes) -> Figures:
    args = ("enqueue-many", "--chunk", "0")
    return {"w1b": measure.enqueue_rate(library, workdir, sizes.bulk_jobs, *args)}


def measure_all(
    lineup: dict[str, tuple[Library, int]],
    sizes_of: dict[str, Sizes],
    url: str,
    workdir: Path,
    busy_log: list[float],
) -> dict[str, Figures]:
    """Every workload; within a workload, every library before the next repetition of
    any, so a drift of the shared machine spreads over all of them (as bench.suite)."""
    collected: dict[str, dict[str, list[float]]] = {name: {} for name in lineup}

    def one(name: str, label: str, run: Callable[[], Figures]) -> None:
        load = quiet(busy_log)
        figures = run()
        for key, value in figures.items():
            collected[name].setdefault(key, []).append(value)
        shown = ", ".join(f"{k} {v:,.2f}" for k, v in figures.items())
        progress(f"{name} {label}: {shown}{load}")

    def drain_all(library: Library, sizes: Sizes, concurrency: int) -> Figures:
        sample = measure.drain(library, workdir, sizes.jobs, concurrency)
        return {"w2_steady": sample.steady, "w2_startup": sample.startup}

    def latency(library: Library, sizes: Sizes) -> Figures:
        samples = measure.latency(
            library, workdir, sizes.latency_jobs, sizes.latency_rate, library.latency_concurrency
        )
        return {f"w3_p{q}": percentile(samples, q) for q in (50, 95, 99)}

    def drain_processes_figures(
        library: Library, sizes: Sizes, concurrency: int, processes: int
    ) -> Figures:
        rate = drain_processes(library, url, workdir, sizes.jobs, concurrency, processes)
        return {f"w2_p{processes}": rate}

    repeat = max(s.repeat for s in sizes_of.values())
    for _ in range(repeat):
        workloads: list[tuple[str, Callable[[str, Library, int], Figures]]] = [
            ("W1", lambda name, lib, c: _w1(lib, workdir, sizes_of[name])),
            ("W1b", lambda name, lib, c: _w1b(lib, workdir, sizes_of[name])),
            ("W2", lambda name, lib, c: drain_all(lib, sizes_of[name], c)),
            (
                "W2 1 process",
                lambda name, lib, c: drain_processes_figures(lib, sizes_of[name], c, 1),
            ),
            (
                "W2 2 processes",
                lambda name, lib, c: drain_processes_figures(lib, sizes_of[name], c, 2),
            ),
            ("W3", lambda name, lib, c: latency(lib, sizes_of[name])),
        ]
        for label, workload in workloads:
            for name, (library, concurrency) in lineup.items():
                one(name, label, functools.partial(workload, name, library, concurrency))
    return {
        name: {key: _median(values) for key, values in by_key.items()}
        for name, by_key in collected.items()
    }


ROWS = [
    ("w1", "W1 enqueue one per call", "jobs/s"),
    ("w1b", "W1b enqueue_many in one call", "jobs/s"),
    ("w2_steady", "W2 drain, 1 process, first to last job start", "jobs/s"),
    ("w2_startup", "W2 worker start-up to first job", "s"),
    ("w2_p1", "W2 drain, 1 process, to all done in the store", "jobs/s"),
    ("w2_p2", "W2 drain, 2 processes, to all done in the store", "jobs/s"),
    ("w3_p50", "W3 enqueue to start p50", "ms"),
    ("w3_p95", "W3 enqueue to start p95", "ms"),
    ("w3_p99", "W3 enqueue to start p99", "ms"),
]


def table(results: dict[str, Figures]) -> str:
    conveyor, peer = results.get("conveyor", {}), results.get("pgqueuer", {})
    other = results.get("procrastinate", {})
    lines = [
        "| figure | unit | conveyor | PgQueuer | conveyor/PgQueuer | Procrastinate |",
        "|---|---|---|---|---|---|",
    ]
    for key, title, unit in ROWS:
        mine, theirs = conveyor.get(key), peer.get(key)
        ratio = f"{mine / theirs:.2f}x" if mine and theirs else ""
        cells = [f"{v:,.1f}" if v is not None else "" for v in (mine, theirs, other.get(key))]
        lines.append(f"| {title} | {unit} | {cells[0]} | {cells[1]} | {ratio} | {cells[2]} |")
    return "\n".join(lines)


def goals(results: dict[str, Figures]) -> list[str]:
    conveyor, peer = results.get("conveyor", {}), results.get("pgqueuer", {})

    def check(text: str, ok: bool | None, detail: str) -> str:
        status = "n/a" if ok is None else ("MET" if ok else "MISS")
        return f"{status:<4}  {text}: {detail}"

    def ratio(key: str) -> float | None:
        return conveyor[key] / peer[key] if key in conveyor and key in peer else None

    drain, w1, w1b = ratio("w2_steady"), ratio("w1"), ratio("w1b")
    scale = conveyor["w2_p2"] / conveyor["w2_p1"] if "w2_p1" in conveyor else None
    return [
        check(
            "drain >= 1.5x PgQueuer (1 process)",
            None if drain is None else drain >= 1.5,
            f"{drain or 0:.2f}x",
        ),
        check(
            "2 processes >= 1.3x one", None if scale is None else scale >= 1.3, f"{scale or 0:.2f}x"
        ),
        check("enqueue >= 1.3x PgQueuer", None if w1 is None else w1 >= 1.3, f"{w1 or 0:.2f}x"),
        check(
            "enqueue_many >= 2x PgQueuer's bulk",
            None if w1b is None else w1b >= 2.0,
            f"{w1b or 0:.2f}x",
        ),
        check("p50 <= 3 ms", conveyor["w3_p50"] <= 3.0, f"{conveyor['w3_p50']:.2f} ms"),
        check("p99 <= 15 ms", conveyor["w3_p99"] <= 15.0, f"{conveyor['w3_p99']:.2f} ms"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.postgres")
    parser.add_argument("--url", default=DEFAULT_URL, help="a database to create schemas in")
    parser.add_argument("--quick", action="store_true", help="small N, once, conveyor only")
    parser.add_argument("--jobs", type=int, help="W2 jobs (default 20,000)")
    parser.add_argument("--repeat", type=int, help="repetitions (default 1)")
    parser.add_argument("--json", type=Path, help="results file (default bench/results/...)")
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = Sizes(
        jobs=args.jobs or (1000 if quick else 20_000),
        enqueue_jobs=300 if quick else 3000,
        bulk_jobs=2000 if quick else 50_000,
        latency_jobs=30 if quick else 200,
        latency_rate=20.0,
        repeat=args.repeat or 1,
    )
    started = dt.datetime.now(dt.UTC)
    lineup: dict[str, tuple[Library, int]] = {"conveyor": (ConveyorPostgres(args.url), 200)}
    peer_sizes: dict[str, Sizes] = {}
    if not quick:
        python = peers_python()
        version = installed_version(python, "pgqueuer")
        lineup["pgqueuer"] = (PgQueuer(args.url, python, version), 100)
        version = installed_version(python, "procrastinate")
        lineup["procrastinate"] = (Procrastinate(args.url, python, version), 10)
        # About 200-400 jobs/s here: a tenth of the drain keeps the run in minutes.
        peer_sizes["procrastinate"] = dataclasses.replace(sizes, jobs=max(sizes.jobs // 10, 100))
    results: dict[str, Figures] = {}
    busy_log: list[float] = []
    sizes_of = {name: peer_sizes.get(name, sizes) for name in lineup}
    try:
        with tempfile.TemporaryDirectory(prefix="conveyor-bench-pg-") as workdir:
            ceilings = raw_ceilings(args.url, sizes)
            results = measure_all(lineup, sizes_of, args.url, Path(workdir), busy_log)
    except BenchError as exc:
        print(f"bench: a measurement failed: {exc}", file=sys.stderr)
        return 1
    finally:
        drop_schemas(args.url)
    print()
    print(table(results))
    print()
    print("raw PostgreSQL: " + ", ".join(f"{k} {v:,.0f}/s" for k, v in ceilings.items()))
    print()
    print("\n".join(goals(results)))
    path = args.json or (None if quick else RESULTS_DIR / f"{started:%Y-%m-%d}-postgres.json")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "started_at": started.isoformat(),
            "command": " ".join(["python -m bench.postgres", *(argv or sys.argv[1:])]),
            "source": machine.source_state(REPO),
            "machine": machine.describe(),
            "sizes": dataclasses.asdict(sizes),
            "peer_sizes": {name: dataclasses.asdict(own) for name, own in peer_sizes.items()},
            "settings": {
                name: lib.settings() | {"concurrency": c} for name, (lib, c) in lineup.items()
            },
            "raw_postgres": ceilings,
            "results": results,
            "goals": goals(results),
            "machine_busy_before_each_measurement": busy_log,
        }
        path.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
