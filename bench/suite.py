"""The run: every workload in order, one measurement at a time, repetitions interleaved.

Order: raw SQLite ceilings, W1 and W1b (enqueue), W2 (drain: every setting of each
library's concurrency sweep, the best median is the headline), W3 (latency, at each library's fixed
``latency_concurrency``: the sweep's pick is noisy, and Huey's latency depends on it).
Within a workload, repetition k of every library runs before repetition k + 1 of any,
so a slow drift of the machine (thermal, other tenants) spreads over all libraries
instead of landing on one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench import machine, measure
from bench.libraries import Library
from bench.plan import Plan
from bench.processes import run_json
from bench.report import Row
from bench.stats import Summary, percentile

Figures = Mapping[str, float]

#: Other processes' CPU use (fraction of all cores) under which a measurement starts at
#: once; above it, ``Suite.once`` waits a little for the machine to quiet down.
QUIET = 0.15
Measure = Callable[[], Figures]


@dataclass(slots=True)
class Results:
    """Everything a run found, ready for ``bench.report``."""

    rows: list[Row] = field(default_factory=list)
    ceilings: dict[str, Summary] = field(default_factory=dict)
    sweeps: dict[str, dict[int, float]] = field(default_factory=dict)
    chosen: dict[str, int] = field(default_factory=dict)
    busy_before: list[float] = field(default_factory=list)  # see ``machine.busy_fraction``


def progress(message: str) -> None:
    """One line of progress on stderr (the table goes to stdout)."""
    print(f"  {message}", file=sys.stderr, flush=True)


class Suite:
    """Runs a ``Plan`` against the given libraries, in fresh stores under ``workdir``."""

    def __init__(
        self,
        plan: Plan,
        workdir: Path,
        libraries: Mapping[str, Library],
        huey_as_installed: Library | None = None,
    ) -> None:
        self.plan = plan
        self.workdir = workdir
        self.libraries = libraries
        self.huey_as_installed = huey_as_installed
        self.results = Results()

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
        progress(f"{label}: {shown}{load}")
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
        }

    def run(self) -> Results:
        """Every workload; returns the results (also kept on ``self.results``)."""
        self.raw_ceilings()
        self.enqueue()
        self.bulk_enqueue()
        self.drain()
        self.latency()
        return self.results

    # -- raw SQLite ---------------------------------------------------------------

    def raw_ceilings(self) -> None:
        """The store's own limits (``bench.raw_sqlite``), in conveyor's interpreter."""
        n = self.plan.raw_jobs

        def loop(kind: str) -> Measure:
            def run() -> Figures:
                db = measure.fresh_dir(self.workdir, "sqlite", kind) / "raw.db"
                command = [sys.executable, "-m", "bench.raw_sqlite", kind]
                result = run_json([*command, "--n", str(n), "--db", str(db)], env={}, timeout=300)
                return {"rate": n / float(result["seconds"])}

            return run

        found = self.repeat("raw", {"insert": loop("insert"), "claim-ack": loop("claim-ack")})
        self.results.ceilings = {
            "insert": found["insert"]["rate"],
            "claim_ack": found["claim-ack"]["rate"],
        }

    # -- W1 / W1b -----------------------------------------------------------------

    def _rate(self, library: Library, n: int, *args: str) -> Measure:
        return lambda: {"rate": measure.enqueue_rate(library, self.workdir, n, *args)}

    def enqueue(self) -> None:
        """W1: one job per call from one process."""
        n = self.plan.jobs
        measures: dict[str, Measure] = {}
        if "conveyor" in self.libraries:
            conveyor = self.libraries["conveyor"]
            measures["conveyor async"] = self._rate(conveyor, n, "enqueue", "--mode", "async")
            measures["conveyor sync"] = self._rate(conveyor, n, "enqueue", "--mode", "sync")
        if "huey" in self.libraries:
            measures["huey"] = self._rate(self.libraries["huey"], n, "enqueue")
        if self.huey_as_installed is not None:
            measures["huey as installed"] = self._rate(self.huey_as_installed, n, "enqueue")
        found = {name: f["rate"] for name, f in self.repeat("W1", measures).items()}
        huey = found.get("huey")
        self.results.rows += [
            Row(
                key="w1_async",
                title=f"W1 enqueue {n:,} one per call: `await enqueue()` vs Huey call",
                unit="jobs/s",
                conveyor=found.get("conveyor async"),
                huey=huey,
                ceiling="insert",
            ),
            Row(
                key="w1_sync",
                title=f"W1 enqueue {n:,} one per call: `enqueue_sync()` vs Huey call",
                unit="jobs/s",
                conveyor=found.get("conveyor sync"),
                huey=huey,
                ceiling="insert",
            ),
        ]
        if "huey as installed" in found:
            self.results.rows.append(
                Row(
                    key="w1_huey_default",
                    title="W1 vs Huey as installed (synchronous=FULL)",
                    unit="jobs/s",
                    conveyor=found.get("conveyor async"),
                    huey=found["huey as installed"],
                    ceiling="insert",
                )
            )

    def bulk_enqueue(self) -> None:
        """W1b: conveyor's ``enqueue_many`` in chunks and in one call (Huey has no bulk API)."""
        if "conveyor" not in self.libraries:
            return
        conveyor, n, chunk = self.libraries["conveyor"], self.plan.bulk_jobs, self.plan.bulk_chunk
        measures = {
            "chunks": self._rate(conveyor, n, "enqueue-many", "--chunk", str(chunk)),
            "one call": self._rate(conveyor, n, "enqueue-many", "--chunk", "0"),
        }
        found = {name: f["rate"] for name, f in self.repeat("W1b", measures).items()}
        note = "no bulk API" if "huey" in self.libraries else ""
        self.results.rows += [
            Row(
                key="w1b_chunks",
                title=f"W1b `enqueue_many` {n:,} in chunks of {chunk:,}",
                unit="jobs/s",
                conveyor=found["chunks"],
                note=note,
            ),
            Row(
                key="w1b_one_call",
                title=f"W1b `enqueue_many` {n:,} in one call",
                unit="jobs/s",
                conveyor=found["one call"],
                note=note,
            ),
        ]

    # -- W2 -----------------------------------------------------------------------

    def drain(self) -> None:
        """W2: every setting of each library's sweep, ``plan.repeat`` times each; the
        headline is the setting with the best median steady rate (a single run per
        setting picks a lucky outlier too often on a 2-core machine)."""
        n = self.plan.jobs
        measures: dict[str, Measure] = {}
        settings: dict[str, list[int]] = {}
        for name, library in self.libraries.items():
            sweep = library.concurrency_sweep
            settings[name] = list(sweep) if self.plan.sweep else [sweep[len(sweep) // 2]]
            for concurrency in settings[name]:
                measures[f"{name} c={concurrency}"] = self._drain(library, concurrency)
        runs = self.repeat("W2", measures)
        found: dict[str, dict[str, Summary]] = {}
        for name, tried in settings.items():
            medians = {c: runs[f"{name} c={c}"]["steady"].median for c in tried}
            best = max(medians, key=medians.__getitem__)
            self.results.chosen[name] = best
            if len(tried) > 1:
                self.results.sweeps[name] = medians
            found[name] = runs[f"{name} c={best}"]
        conveyor, huey = found.get("conveyor", {}), found.get("huey", {})
        self._drain_rows(n, conveyor, huey)
        if self.huey_as_installed is not None and "huey" in self.results.chosen:
            # Huey's own default durability (synchronous=FULL), at its best concurrency.
            best = self.results.chosen["huey"]
            default = self.repeat(
                "W2", {"huey as installed": self._drain(self.huey_as_installed, best)}
            )
            self.results.rows.append(
                Row(
                    key="w2_huey_default",
                    title="W2 drain vs Huey as installed (synchronous=FULL)",
                    unit="jobs/s",
                    conveyor=conveyor.get("steady"),
                    huey=default["huey as installed"]["steady"],
                    ceiling="claim_ack",
                )
            )

    def _drain_rows(self, n: int, conveyor: dict[str, Summary], huey: dict[str, Summary]) -> None:
        self.results.rows += [
            Row(
                key="w2_steady",
                title=f"W2 drain {n:,}, 1 worker process: first to last job start",
                unit="jobs/s",
                conveyor=conveyor.get("steady"),
                huey=huey.get("steady"),
                ceiling="claim_ack",
            ),
            Row(
                key="w2_overall",
                title=f"W2 drain {n:,}, 1 worker process: spawn to last job start",
                unit="jobs/s",
                conveyor=conveyor.get("overall"),
                huey=huey.get("overall"),
                ceiling="claim_ack",
            ),
            Row(
                key="w2_startup",
                title="W2 worker start-up: spawn to first job start",
                unit="s",
                conveyor=conveyor.get("startup"),
                huey=huey.get("startup"),
            ),
        ]

    def _drain(self, library: Library, concurrency: int) -> Measure:
        def drain_once() -> Figures:
            sample = measure.drain(library, self.workdir, self.plan.jobs, concurrency)
            return {"steady": sample.steady, "startup": sample.startup, "overall": sample.overall}

        return drain_once

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
        conveyor, huey = found.get("conveyor", {}), found.get("huey", {})
        for q in ("p50", "p95", "p99"):
            self.results.rows.append(
                Row(
                    key=f"w3_{q}",
                    title=f"W3 enqueue to start {q}, idle worker, {n} jobs at {rate:g}/s",
                    unit="ms",
                    conveyor=conveyor.get(q),
                    huey=huey.get(q),
                )
            )
