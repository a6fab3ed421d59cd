"""``python -m bench``: run the benchmark, print the table and the goals, save the JSON.

    python -m bench                      # full run: conveyor and Huey, 3 repetitions
    python -m bench --quick              # CI smoke: small N, once, conveyor only (< 30 s)
    python -m bench --only conveyor --jobs 20000 --repeat 5 --json out.json

A goal that is missed prints MISS but never fails the command: the exit status is
non-zero only when a measurement could not be taken at all.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench import libraries, machine, report
from bench.peers.venv import installed_version, peers_python
from bench.plan import LIBRARIES, Plan
from bench.processes import REPO, BenchError
from bench.suite import Results, Suite

RESULTS_DIR = REPO / "bench" / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small N, one repetition, no peers (CI smoke)"
    )
    parser.add_argument("--jobs", type=int, metavar="N", help="jobs for W1 and W2 (W1b: 5N)")
    parser.add_argument("--repeat", type=int, metavar="R", help="repetitions of each figure")
    parser.add_argument("--only", choices=LIBRARIES, help="measure one library only")
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="results file (default for a full run: bench/results/<date>-sqlite.json)",
    )
    return parser


def _libraries(plan: Plan) -> tuple[dict[str, libraries.Library], libraries.Library | None]:
    """The libraries of this run, and Huey as installed (for the extra W1 row)."""
    chosen: dict[str, libraries.Library] = {}
    huey_as_installed: libraries.Library | None = None
    if plan.includes("conveyor"):
        chosen["conveyor"] = libraries.Conveyor()
    if plan.includes("huey"):
        python = peers_python()
        version = installed_version(python, "huey")
        chosen["huey"] = libraries.Huey(python=python, version=version)
        huey_as_installed = libraries.Huey(python=python, version=version, synchronous="default")
    return chosen, huey_as_installed


def _settings(lineup: dict[str, libraries.Library], results: Results) -> dict[str, object]:
    settings: dict[str, object] = {}
    for name, library in lineup.items():
        settings[name] = library.settings() | {
            "w2_concurrency_used": results.chosen.get(name),
            "sweep_steady_jobs_per_s": results.sweeps.get(name, {}),
        }
    return settings


def _print_results(plan: Plan, lineup: dict[str, libraries.Library], results: Results) -> None:
    ceilings = {key: summary.median for key, summary in results.ceilings.items()}
    print()
    print(report.table(results.rows, ceilings))
    print()
    print(report.ceilings_text(results.ceilings))
    if results.sweeps:
        print(report.sweeps_text(results.sweeps, results.chosen))
    for name, library in lineup.items():
        used = f"W2: {results.chosen.get(name)}, W3: {library.latency_concurrency}"
        print(f"{name}: {library.settings()['worker']} (C/W used: {used})")
    print(report.busy_text(results.busy_before))
    print()
    print(report.goals_text(report.goals({row.key: row for row in results.rows})))
    print(
        f"\n{plan.repeat} repetition(s); cells: median [min-max]. conveyor/Huey above 1 favours "
        "conveyor for jobs/s, below 1 for ms and s. Goals never fail the run."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.quick and args.only == "huey":
        parser.error("--quick measures conveyor only (no peers)")
    plan = Plan.build(quick=args.quick, jobs=args.jobs, repeat=args.repeat, only=args.only)
    started = dt.datetime.now(dt.UTC)
    try:
        lineup, huey_as_installed = _libraries(plan)
        print(f"conveyor bench: {', '.join(lineup)}; {plan}", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as workdir:
            results = Suite(plan, Path(workdir), lineup, huey_as_installed).run()
    except BenchError as exc:
        print(f"bench: a measurement failed: {exc}", file=sys.stderr)
        return 1
    _print_results(plan, lineup, results)
    path = args.json or (None if plan.quick else RESULTS_DIR / f"{started:%Y-%m-%d}-sqlite.json")
    if path is not None:
        checked = report.goals({row.key: row for row in results.rows})
        report.write_json(
            path,
            {
                "started_at": started.isoformat(),
                "command": " ".join(
                    ["python -m bench", shlex.join(sys.argv[1:] if argv is None else argv)]
                ).strip(),
                "source": machine.source_state(REPO),
                "machine": machine.describe(),
                "plan": dataclasses.asdict(plan),
                "settings": _settings(lineup, results),
                "raw_sqlite": {k: v.as_dict() for k, v in results.ceilings.items()},
                "rows": [row.as_dict() for row in results.rows],
                "machine_busy_before_each_measurement": results.busy_before,
                "goals": [dataclasses.asdict(goal) for goal in checked],
            },
        )
        print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
