"""``bench/results/latest.png``: the headline figures of the newest result of each store.

One row of bar charts per store (W1 enqueue, W2 drain with one process, W3 p50, W4),
one bar per library, conveyor in its own colour, each bar the median with its min-max
range as an error bar. Drawn with matplotlib (a dev dependency) after a run, or by hand:
``python -m bench.chart bench/results/*.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: (row key, panel title) of the panels, left to right.
PANELS = (
    ("w1", "W1 enqueue, jobs/s"),
    ("w2_p1_steady", "W2 drain, 1 process, jobs/s"),
    ("w3_p50", "W3 enqueue-to-start p50, ms"),
    ("w4", "W4 10 ms I/O jobs, jobs/s"),
)


def newest_per_store(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The newest results file of each store among ``paths`` (their directories' other
    files included), loaded."""
    candidates = {p for path in paths for p in path.parent.glob("*-*.json")} | set(paths)
    newest: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in candidates:
        data = json.loads(path.read_text())
        store, started = data.get("store"), data.get("started_at", "")
        if store and (store not in newest or started > newest[store][0]):
            newest[store] = (started, data)
    order = ("sqlite", "postgres", "redis")
    return [newest[s][1] for s in order if s in newest]


def draw(paths: Sequence[Path], output: Path) -> Path | None:
    """Draw the chart of the newest result per store; ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart", file=sys.stderr)
        return None
    results = newest_per_store(paths)
    if not results:
        return None
    figure, axes = plt.subplots(
        len(results), len(PANELS), figsize=(4.2 * len(PANELS), 2.6 * len(results)), squeeze=False
    )
    for row_axes, data in zip(axes, results, strict=True):
        rows = {row["key"]: row for row in data["rows"]}
        for axis, (key, title) in zip(row_axes, PANELS, strict=True):
            _panel(axis, rows.get(key), f"{data['store']}: {title}")
    figure.suptitle(
        f"conveyor bench, {results[0]['started_at'][:10]} "
        f"({results[0]['machine']['cores']} cores; median, min-max)",
        fontsize=11,
    )
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=90)
    plt.close(figure)
    return output


def _panel(axis: Any, row: dict[str, Any] | None, title: str) -> None:
    axis.set_title(title, fontsize=9)
    if row is None or not row["values"]:
        axis.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return
    names = list(row["values"])
    medians = [row["values"][n]["median"] for n in names]
    low = [m - row["values"][n]["min"] for n, m in zip(names, medians, strict=True)]
    high = [row["values"][n]["max"] - m for n, m in zip(names, medians, strict=True)]
    colours = ["tab:blue" if n == "conveyor" else "tab:gray" for n in names]
    axis.barh(names, medians, xerr=[low, high], color=colours)
    axis.invert_yaxis()
    axis.tick_params(labelsize=8)
    for y, value in enumerate(medians):
        axis.text(
            value, y, f" {value:,.0f}" if value >= 100 else f" {value:.1f}", va="center", fontsize=7
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Draw ``bench/results/latest.png`` (or ``--output``) from the given result files."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.chart")
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--output", type=Path, default=Path("bench/results/latest.png"))
    args = parser.parse_args(argv)
    drawn = draw(args.results, args.output)
    print(drawn or "no chart drawn")


if __name__ == "__main__":
    main()
