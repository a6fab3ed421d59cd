"""The results: rows of the table, the goals, and the JSON file.

The table is Markdown (pipes and a header rule), readable in a terminal and pasted
as is into ``docs/benchmarks.md``. Each cell is the median of the repetitions with
their min-max range; ``conveyor/Huey`` divides the medians (for latency, lower is
better, so a ratio under 1 favours conveyor); ``% of raw`` divides a rate by the raw
SQLite ceiling of the same kind of work (``bench.raw_sqlite``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.stats import Summary

HEADER = ("Workload", "Unit", "conveyor", "Huey", "conveyor/Huey", "% of raw")


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One figure for each library (``None``: not measured, ``note`` says why)."""

    key: str
    title: str
    unit: str
    conveyor: Summary | None = None
    huey: Summary | None = None
    note: str = ""
    ceiling: str | None = None  # key of the raw ceiling this rate is a fraction of

    @property
    def ratio(self) -> float | None:
        if self.conveyor is None or self.huey is None or self.huey.median == 0:
            return None
        return self.conveyor.median / self.huey.median

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "conveyor": None if self.conveyor is None else self.conveyor.as_dict(),
            "huey": None if self.huey is None else self.huey.as_dict(),
            "ratio": self.ratio,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Goal:
    """A target from the issue, checked against this run."""

    text: str
    status: str  # PASS, MISS or n/a
    detail: str


def _number(value: float, unit: str) -> str:
    if unit == "jobs/s":
        return f"{value:,.0f}"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def _cell(summary: Summary | None, unit: str, note: str) -> str:
    if summary is None:
        return note or "-"
    if len(summary.values) == 1:
        return _number(summary.median, unit)
    low, high = _number(summary.low, unit), _number(summary.high, unit)
    return f"{_number(summary.median, unit)} [{low}-{high}]"


def _fraction(row: Row, ceilings: Mapping[str, float]) -> str:
    if row.ceiling is None or row.ceiling not in ceilings:
        return ""
    parts = []
    for name, summary in (("c", row.conveyor), ("h", row.huey)):
        if summary is not None:
            parts.append(f"{name} {100 * summary.median / ceilings[row.ceiling]:.0f}%")
    return " / ".join(parts)


def table(rows: Sequence[Row], ceilings: Mapping[str, float]) -> str:
    """The rows as an aligned Markdown table."""
    lines = [HEADER]
    for row in rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        conveyor_cell = _cell(row.conveyor, row.unit, "")
        huey_cell = _cell(row.huey, row.unit, row.note)
        lines.append(
            (row.title, row.unit, conveyor_cell, huey_cell, ratio, _fraction(row, ceilings))
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    rendered = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([rendered[0], rule, *rendered[1:]])


def goals(rows: Mapping[str, Row]) -> list[Goal]:
    """The issue's three goals; ``n/a`` where this run lacks a figure (e.g. no peers).

    The issue's Huey figures are Huey as installed (its SQLite storage at SQLite's
    default synchronous=FULL); the stricter comparison, Huey at conveyor's durability
    (synchronous=NORMAL), is checked too, so neither reading hides the other.
    """
    return [
        _ratio_goal(rows.get("w2_huey_default"), "drain >= 3x Huey as installed", 3.0),
        _ratio_goal(rows.get("w2_steady"), "drain >= 3x Huey at equal durability", 3.0),
        _ratio_goal(rows.get("w1_huey_default"), "enqueue >= 2x Huey as installed", 2.0),
        _ratio_goal(rows.get("w1_async"), "enqueue >= 2x Huey at equal durability", 2.0),
        _latency_goal(rows.get("w3_p50"), "enqueue-to-start p50 <= 10 ms", 10.0),
    ]


def _ratio_goal(row: Row | None, text: str, target: float) -> Goal:
    if row is None or row.ratio is None:
        return Goal(text, "n/a", "not measured against Huey in this run")
    status = "PASS" if row.ratio >= target else "MISS"
    return Goal(text, status, f"{row.ratio:.2f}x (target {target:g}x)")


def _latency_goal(row: Row | None, text: str, limit: float) -> Goal:
    if row is None or row.conveyor is None:
        return Goal(text, "n/a", "not measured in this run")
    p50 = row.conveyor.median
    return Goal(text, "PASS" if p50 <= limit else "MISS", f"{p50:.2f} ms (limit {limit:g} ms)")


def goals_text(checked: Sequence[Goal]) -> str:
    """One line per goal."""
    return "\n".join(f"{g.status:<4}  {g.text}: {g.detail}" for g in checked)


def write_json(path: Path, payload: Mapping[str, object]) -> None:
    """Write the results file, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


def ceilings_text(ceilings: Mapping[str, Summary]) -> str:
    """The raw SQLite ceilings, one line."""
    parts = []
    if "insert" in ceilings:
        parts.append(f"one-row INSERT+COMMIT {_cell(ceilings['insert'], 'jobs/s', '')} rows/s")
    if "claim_ack" in ceilings:
        cell = _cell(ceilings["claim_ack"], "jobs/s", "")
        parts.append(f"claim+ack in batches of 100 {cell} jobs/s")
    return "Raw SQLite on this machine (WAL, synchronous=NORMAL): " + "; ".join(parts)


def sweeps_text(sweeps: Mapping[str, Mapping[int, float]], chosen: Mapping[str, int]) -> str:
    """W2's sweep (median steady rate per setting), one line per library, the setting
    used marked with ``*``."""
    lines = []
    for name, rates in sweeps.items():
        cells = [
            f"{c}{'*' if c == chosen.get(name) else ''}: {rate:,.0f}" for c, rate in rates.items()
        ]
        lines.append(f"W2 sweep, {name} (concurrency: median steady jobs/s): " + ", ".join(cells))
    return "\n".join(lines)


def busy_text(busy: Sequence[float]) -> str:
    """How busy other processes kept the CPUs just before the measurements."""
    if not busy:
        return "Machine load before measurements: unknown (no /proc/stat)"
    ordered = sorted(busy)
    median, worst = ordered[len(ordered) // 2], ordered[-1]
    text = (
        f"Other processes kept the CPUs {100 * median:.0f}% busy (median; max "
        f"{100 * worst:.0f}%) in the 0.25 s before each measurement"
    )
    if worst > 0.15:
        text += ": figures taken while the machine was busy are lower and noisier"
    return text
