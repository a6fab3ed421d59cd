"""The run of one store: every workload in order, one measurement at a time,
repetitions interleaved.

Order: the store's raw ceilings, W1 and W1b (enqueue), W2 (drain: every setting of each
library's concurrency sweep with one worker process, the best median is the headline
and is used again with two processes), W3 (latency, at each library's fixed
``latency_concurrency``), W4 (10 ms I/O jobs at concurrency 100). Within a workload,
repetition k of every library runs before repetition k + 1 of any, so a slow drift of
the machine (thermal, other tenants) spreads over all libraries instead of landing on
one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench import machine, measure, places
from bench.libraries import Library
from bench.peers.env import SLEEP_SECONDS
from bench.plan import Plan
from bench.processes import run_json
from bench.report import Row
from bench.stats import Summary, percentile

Figures = Mapping[str, float]
Measure = Callable[[], Figures]

#: Other processes' CPU use (fraction of all cores) under which a measurement starts at
#: once; above it, ``Suite.once`` waits a little for the machine to quiet down.
QUIET = 0.15


@dataclass(slots=True)
class StoreResults:
    """Everything a run found on one store, ready for ``bench.report``."""

    store: str
    libraries: list[str]
    rows: list[Row] = field(default_factory=list)
    ceilings: dict[str, Summary] = field(default_factory=dict)
    sweeps: dict[str, dict[int, float]] = field(default_factory=dict)
    chosen: dict[str, int] = field(default_factory=dict)
    busy_before: list[float] = field(default_factory=list)  # see ``machine.busy_fraction``


def progress(message: str) -> None:
    """One line of progress on stderr (the tables go to stdout)."""
    print(f"  {message}", file=sys.stderr, flush=True)


class Suite:
    """Runs a ``Plan`` on one store against the given libraries, in fresh places."""

    def __init__(
        self, plan: Plan, store: str, workdir: Path, libraries: Mapping[str, Library]
    ) -> None:
        self.plan = plan
        self.store = store
        self.workdir = workdir
        self.libraries = libraries
        self.results = StoreResults(store, list(libraries))

    def once(self, label: str, run: Measure) -> Figures:
        """One measurement. Before it, wait up to ``plan.quiet_wait`` seconds for other
        processes to leave the CPUs mostly idle, and note how busy they still were."""
        busy = machine.busy_fraction()
        deadline = time.monotonic() + self.plan.quiet_wait
        while busy is not None and busy > QUIET and time.monotonic() < deadline:
            busy = machine.busy_fraction()
        if busy is not None:
            self.results.busy_before.append(busy)
        figures = run()
        shown = ", ".join(f"{k} {v:,.2f}" for k, v in figures.items())
        load = "" if busy is None else f" (machine {100 * busy:.0f}% busy before)"
        progress(f"{self.store} {label}: {shown}{load}")
        return figures

    def repeat(self, label: str, measures: Mapping[str, Measure]) -> dict[str, dict[str, Summary]]:
        """Run every measure ``plan.repeat`` times, interleaved; summarise each figure."""
        times = self.plan.repeat
        collected: dict[str, dict[str, list[float]]] = {name: {} for name in measures}
        for round_number in range(1, times + 1):
            for name, run in measures.items():
                figures = self.once(f"{label} {name} {round_number}/{times}", run)
                for figure, value in figures.items():
                    collected[name].setdefault(figure, []).append(value)
        return {
            name: {figure: Summary.of(values) for figure, values in by_figure.items()}
            for name, by_figure in collected.items()
            if by_figure
        }

    def run(self) -> StoreResults:
        """Every workload; returns the results (also kept on ``self.results``)."""
        chosen = self.plan.workloads
        if "raw" in chosen:
            self.raw_ceilings()
        if self.libraries:
            workloads = {
                "w1": self.enqueue,
                "w1b": self.bulk_enqueue,
                "w2": self.drain,
                "w3": self.latency,
                "w4": self.io_bound,
            }
            for name, run in workloads.items():
                if name in chosen:
                    run()
        return self.results

    def _row(
        self,
        key: str,
        title: str,
        unit: str,
        *,
        values: dict[str, Summary],
        better: str = "higher",
        notes: dict[str, str] | None = None,
        ceiling: str | None = None,
    ) -> None:
        row = Row(
            key=key,
            title=title,
            unit=unit,
            better=better,
            values=values,
            notes=notes or {},
            ceiling=ceiling,
        )
        self.results.rows.append(row)

    # -- raw ceilings -------------------------------------------------------------

    def raw_ceilings(self) -> None:
        """The store's own limits (``bench.raw_*``), in conveyor's interpreter."""
        n = self.plan.raw_jobs
        loops = {
            "sqlite": ("insert", "claim-ack"),
            "postgres": ("insert", "copy", "claim-ack"),
            "redis": ("ping", "pipeline"),
        }[self.store]

        def loop(kind: str) -> Measure:
            def run() -> Figures:
                directory = measure.fresh_dir(self.workdir, f"raw-{self.store}", kind)
                command = [sys.executable, "-m", f"bench.raw_{self.store}", kind, "--n", str(n)]
                with places.fresh(self.store, directory, redis_patterns=("{prefix}:*",)) as place:
                    if self.store == "sqlite":
                        command += ["--db", str(directory / "raw.db")]
                    elif self.store == "postgres":
                        command += ["--url", place.postgres]
                    else:
                        command += ["--url", place.redis, "--prefix", place.name]
                    result = run_json(command, env={}, timeout=300)
                return {"rate": n / float(result["seconds"])}

            return run

        found = self.repeat("raw", {kind: loop(kind) for kind in loops})
        for kind in loops:
            key = f"{self.store}_{kind.replace('-', '_')}"
            self.results.ceilings[key] = found[kind]["rate"]

    # -- W1 / W1b -----------------------------------------------------------------

    def _rate(self, library: Library, n: int, *args: str) -> Measure:
        return lambda: {"rate": measure.enqueue_rate(library, self.workdir, n, *args)}

    def enqueue(self) -> None:
        """W1: one job per call from one process."""
        n = self.plan.enqueue_jobs
        measures: dict[str, Measure] = {}
        for name, library in self.libraries.items():
            if name == "conveyor":
                measures[name] = self._rate(library, n, "enqueue", "--mode", "async")
                measures["conveyor sync"] = self._rate(library, n, "enqueue", "--mode", "sync")
            else:
                measures[name] = self._rate(library, n, "enqueue")
        found = {name: f["rate"] for name, f in self.repeat("W1", measures).items()}
        ceiling = {"sqlite": "sqlite_insert", "postgres": "postgres_insert"}.get(
            self.store, "redis_ping"
        )
        peers = {k: v for k, v in found.items() if k not in ("conveyor", "conveyor sync")}
        self._row(
            "w1",
            f"W1 enqueue {n:,} one per call (conveyor: `await enqueue()`)",
            "jobs/s",
            values={k: v for k, v in found.items() if k != "conveyor sync"},
            ceiling=ceiling,
        )
        if "conveyor sync" in found:
            self._row(
                "w1_sync",
                f"W1 enqueue {n:,} one per call (conveyor: `enqueue_sync()`)",
                "jobs/s",
                values={"conveyor": found["conveyor sync"], **peers},
                ceiling=ceiling,
            )

    def bulk_enqueue(self) -> None:
        """W1b: each library's bulk API, in chunks of ``plan.bulk_chunk``."""
        n, chunk = self.plan.bulk_jobs, self.plan.bulk_chunk
        measures = {
            name: self._rate(library, n, "enqueue-many", "--chunk", str(chunk))
            for name, library in self.libraries.items()
            if library.bulk
        }
        found = {name: f["rate"] for name, f in self.repeat("W1b", measures).items()}
        ceiling = {"postgres": "postgres_copy", "redis": "redis_pipeline"}.get(self.store)
        self._row(
            "w1b",
            f"W1b bulk enqueue {n:,} in chunks of {chunk:,}",
            "jobs/s",
            values=found,
            notes=self._notes("w1b"),
            ceiling=ceiling,
        )

    def _notes(self, workload: str) -> dict[str, str]:
        return {
            name: library.notes[workload]
            for name, library in self.libraries.items()
            if workload in library.notes
        }

    # -- W2 -----------------------------------------------------------------------

    def _drain(
        self, library: Library, concurrency: int, processes: int, job: str = "noop"
    ) -> Measure:
        n = self.plan.io_jobs if job == "sleep" else self.plan.drain_jobs

        def drain_once() -> Figures:
            sample = measure.drain(
                library, self.workdir, n, concurrency, processes=processes, job=job
            )
            if job == "sleep":  # the probe counts ends: first start = first end - 10 ms
                return {"rate": n / (sample.span + SLEEP_SECONDS), "startup": sample.startup}
            return {
                "steady": sample.steady,
                "startup": sample.startup,
                "overall": sample.overall,
                "rss": sample.rss_mib,
            }

        return drain_once

    def drain(self) -> None:
        """W2: every setting of each library's sweep with one worker process,
        ``plan.repeat`` times each; the headline is the setting with the best median
        steady rate, which is then measured with two processes."""
        n = self.plan.drain_jobs
        measures: dict[str, Measure] = {}
        tried: dict[str, list[int]] = {}
        for name, library in self.libraries.items():
            sweep = library.drain_sweep
            tried[name] = list(sweep) if self.plan.sweep else [sweep[len(sweep) // 2]]
            for concurrency in tried[name]:
                measures[f"{name} c={concurrency}"] = self._drain(library, concurrency, 1)
        runs = self.repeat("W2 1 process", measures)
        one: dict[str, dict[str, Summary]] = {}
        for name, settings in tried.items():
            medians = {c: runs[f"{name} c={c}"]["steady"].median for c in settings}
            best = max(medians, key=medians.__getitem__)
            self.results.chosen[name] = best
            if len(settings) > 1:
                self.results.sweeps[name] = medians
            one[name] = runs[f"{name} c={best}"]
        claim = f"{self.store}_claim_ack" if self.store != "redis" else None
        title = f"W2 drain {n:,}"
        self._row(
            "w2_p1_steady",
            f"{title}, 1 process: first to last job start",
            "jobs/s",
            values=_pick(one, "steady"),
            ceiling=claim,
        )
        self._row(
            "w2_p1_overall",
            f"{title}, 1 process: spawn to last job start",
            "jobs/s",
            values=_pick(one, "overall"),
            ceiling=claim,
        )
        self._row(
            "w2_startup",
            "W2 start-up, 1 process: spawn to first job start",
            "s",
            better="lower",
            values=_pick(one, "startup"),
        )
        self._row(
            "w2_rss",
            "Worker RSS after W2, 1 process",
            "MiB",
            better="lower",
            values=_pick(one, "rss"),
        )
        for processes in self.plan.drain_processes:
            if processes == 1:
                continue
            more = self.repeat(
                f"W2 {processes} processes",
                {
                    name: self._drain(library, self.results.chosen[name], processes)
                    for name, library in self.libraries.items()
                },
            )
            self._row(
                f"w2_p{processes}_steady",
                f"{title}, {processes} processes: first to last job start",
                "jobs/s",
                values=_pick(more, "steady"),
                ceiling=claim,
            )
            self._row(
                f"w2_p{processes}_overall",
                f"{title}, {processes} processes: spawn to last job start",
                "jobs/s",
                values=_pick(more, "overall"),
                ceiling=claim,
            )

    # -- W3 -----------------------------------------------------------------------

    def latency(self) -> None:
        """W3: enqueue-to-start percentiles on an idle worker in another process."""
        n, rate = self.plan.latency_jobs, self.plan.latency_rate

        def run(library: Library) -> Measure:
            def latency_once() -> Figures:
                concurrency = library.latency_concurrency
                samples = measure.latency(library, self.workdir, n, rate, concurrency)
                return {f"p{q}": percentile(samples, q) for q in (50, 95, 99)}

            return latency_once

        found = self.repeat("W3", {name: run(lib) for name, lib in self.libraries.items()})
        for q in ("p50", "p95", "p99"):
            self._row(
                f"w3_{q}",
                f"W3 enqueue to start {q}, idle worker, {n} jobs at {rate:g}/s",
                "ms",
                better="lower",
                values=_pick(found, q),
            )

    # -- W4 -----------------------------------------------------------------------

    def io_bound(self) -> None:
        """W4: jobs that wait 10 ms for I/O, at concurrency ``plan.io_concurrency``. The
        probe counts job ends here, so the rate is N over first job start (the first end
        minus 10 ms) to last job end; at most concurrency / 10 ms = 10,000 jobs/s."""
        n, concurrency = self.plan.io_jobs, self.plan.io_concurrency
        measures = {
            name: self._drain(library, concurrency, 1, job="sleep")
            for name, library in self.libraries.items()
            if library.io_concurrency is not None
        }
        found = self.repeat("W4", measures)
        self._row(
            "w4",
            f"W4 drain {n:,} jobs of 10 ms I/O, concurrency {concurrency}, 1 process",
            "jobs/s",
            values=_pick(found, "rate"),
            notes={k: v for k, v in self._notes("w4").items() if k not in found},
        )


def _pick(found: Mapping[str, Mapping[str, Summary]], figure: str) -> dict[str, Summary]:
    return {name: figures[figure] for name, figures in found.items() if figure in figures}
