"""``python -m bench``: run the benchmark on every store, print the tables, save the JSON.

    python -m bench                          # full run: every store, every library, 3 reps
    python -m bench --store redis            # one store (repeatable)
    python -m bench --only conveyor          # one library, on every store it is in
    python -m bench --jobs 2000 --repeat 1   # smaller counts (W1, W2: N; W1b 2.5N; W4 N/4)
    python -m bench --quick                  # CI smoke: small N, once, conveyor only

A store whose server is unreachable is skipped with a line saying so, and so is a
library that cannot run on a store in this checkout (conveyor before its PostgreSQL or
Redis backend exists). A goal that is missed prints MISS but never fails the command:
the exit status is non-zero only when a measurement could not be taken at all.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import datetime as dt
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench import chart, libraries, machine, report
from bench.places import STORES, unavailable
from bench.plan import WORKLOADS, Plan
from bench.processes import REPO, BenchError
from bench.suite import StoreResults, Suite

RESULTS_DIR = REPO / "bench" / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small N, one repetition, conveyor only (CI smoke)"
    )
    parser.add_argument(
        "--store",
        action="append",
        choices=STORES,
        help="measure this store only (repeatable; default: every store)",
    )
    parser.add_argument("--only", choices=libraries.ALL_LIBRARIES, help="measure one library")
    parser.add_argument("--jobs", type=int, metavar="N", help="W1 and W2 jobs (W1b 2.5N, W4 N/4)")
    parser.add_argument("--repeat", type=int, metavar="R", help="repetitions of each figure")
    parser.add_argument(
        "--workload",
        action="append",
        choices=WORKLOADS,
        help="measure this workload only (repeatable; default: all). A partial run writes "
        "no JSON unless --json-dir is given",
    )
    parser.add_argument(
        "--json-dir",
        type=Path,
        metavar="DIR",
        help="write <date>-<store>.json and latest.png here (default for a full run: "
        "bench/results; --quick writes none unless given)",
    )
    return parser


def _lineup(plan: Plan, store: str) -> tuple[dict[str, libraries.Library], dict[str, str]]:
    """The libraries to measure on ``store``, and those skipped with the reason."""
    chosen = libraries.build(store, plan.libraries(store))
    skipped: dict[str, str] = {}
    for name, library in list(chosen.items()):
        reason = library.missing()
        if reason is not None:
            skipped[name] = reason
            del chosen[name]
    return chosen, skipped


def _print_store(
    plan: Plan, found: StoreResults, lineup: dict[str, libraries.Library], skipped: dict[str, str]
) -> None:
    print(f"\n## {found.store}\n")
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    if found.rows:
        print(report.table(found.rows, found.libraries, found.ceilings))
        print()
    print(report.ceilings_text(found.ceilings))
    if found.sweeps:
        print(report.sweeps_text(found.sweeps, found.chosen))
    for name, library in lineup.items():
        used = f"W2: {found.chosen.get(name)}, W3: {library.latency_concurrency}"
        print(f"{name}: {library.settings()['worker']} (settings used: {used})")
    print(report.busy_text(found.busy_before))
    checked = report.goals(found.store, {row.key: row for row in found.rows})
    if checked:
        print()
        print(report.goals_text(checked))


def _payload(
    plan: Plan,
    found: StoreResults,
    lineup: dict[str, libraries.Library],
    skipped: dict[str, str],
    started: dt.datetime,
    argv: Sequence[str],
) -> dict[str, object]:
    checked = report.goals(found.store, {row.key: row for row in found.rows})
    return {
        "store": found.store,
        "started_at": started.isoformat(),
        "command": " ".join(["python -m bench", shlex.join(argv)]).strip(),
        "source": machine.source_state(REPO),
        "machine": machine.describe(),
        "plan": dataclasses.asdict(plan),
        "libraries": found.libraries,
        "skipped": skipped,
        "settings": {
            name: library.settings()
            | {"w2_concurrency_used": found.chosen.get(name)}
            | {"w2_sweep_steady_jobs_per_s": found.sweeps.get(name, {})}
            for name, library in lineup.items()
        },
        "raw_ceilings": {k: v.as_dict() for k, v in found.ceilings.items()},
        "rows": [row.as_dict() for row in found.rows],
        "machine_busy_before_each_measurement": found.busy_before,
        "goals": [dataclasses.asdict(goal) for goal in checked],
    }


def _compile_sources() -> None:
    """Write the bytecode of conveyor's sources and of ``bench/``, as installing a
    package does (pip and ``uv sync --compile-bytecode`` compile at install time).
    Without it, where ``PYTHONDONTWRITEBYTECODE`` is set, every worker process would
    compile them again at start-up, which the peers, installed by pip, never do."""
    for directory in (REPO / "src", REPO / "bench"):
        compileall.compile_dir(directory, quiet=1, workers=0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.quick and args.only not in (None, "conveyor"):
        parser.error("--quick measures conveyor only (no peers)")
    stores = tuple(dict.fromkeys(args.store)) if args.store else None
    workloads = tuple(dict.fromkeys(args.workload)) if args.workload else None
    plan = Plan.build(
        quick=args.quick,
        jobs=args.jobs,
        repeat=args.repeat,
        only=args.only,
        stores=stores,
        workloads=workloads,
    )
    shown_argv = list(sys.argv[1:] if argv is None else argv)
    started = dt.datetime.now(dt.UTC)
    partial = plan.quick or workloads is not None
    out_dir = args.json_dir or (None if partial else RESULTS_DIR)
    print(f"conveyor bench: {plan}", file=sys.stderr)
    _compile_sources()
    written: list[Path] = []
    try:
        with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as workdir:
            for store in plan.stores:
                if not plan.libraries(store):
                    print(f"\n## {store}\n\nskipped: {plan.only} is not in its lineup")
                    continue
                reason = unavailable(store)
                if reason is not None:
                    print(f"\n## {store}\n\nskipped: {reason}")
                    continue
                lineup, skipped = _lineup(plan, store)
                for name, why in skipped.items():
                    print(f"{store}: skipping {name}: {why}", file=sys.stderr)
                print(f"{store}: {', '.join(lineup) or 'raw ceilings only'}", file=sys.stderr)
                found = Suite(plan, store, Path(workdir), lineup).run()
                _print_store(plan, found, lineup, skipped)
                if out_dir is not None:
                    path = out_dir / f"{started:%Y-%m-%d}-{store}.json"
                    payload = _payload(plan, found, lineup, skipped, started, shown_argv)
                    report.write_json(path, payload)
                    written.append(path)
                    print(f"results written to {path}")
    except BenchError as exc:
        print(f"bench: a measurement failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"\n{plan.repeat} repetition(s); cells: median [min-max]. 'vs best peer' divides "
        "conveyor's median by the best peer's on the same store (above 1 favours conveyor "
        "for jobs/s, below 1 for ms, s and MiB). Goals never fail the run."
    )
    if out_dir is not None and written:
        picture = chart.draw(written, out_dir / "latest.png")
        if picture is not None:
            print(f"chart written to {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
