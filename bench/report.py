"""The results: rows of a store's table, ratios against the best peer, goals, JSON.

The tables are Markdown (pipes and a header rule), readable in a terminal and pasted as
is into ``docs/benchmarks.md``. Each cell is the median of the repetitions with their
min-max range. ``vs best peer`` divides conveyor's median by the best peer's on the
same store in the same run: the best is the highest rate, or the lowest latency,
start-up time or memory (``Row.better``), so above 1 favours conveyor for rates and
below 1 for the rest. ``% of raw`` divides conveyor's rate by the store's raw ceiling
for that kind of work (``bench.raw_*``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import Summary

CONVEYOR = "conveyor"


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One figure of every library of a store (missing: ``notes`` may say why)."""

    key: str
    title: str
    unit: str
    better: str = "higher"  # or "lower"
    values: dict[str, Summary] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    ceiling: str | None = None  # key of the raw ceiling this rate is a fraction of

    def best_peer(self) -> str | None:
        """The peer with the best median, or ``None`` if no peer has this figure."""
        peers = {k: v.median for k, v in self.values.items() if k != CONVEYOR}
        if not peers:
            return None
        pick = max if self.better == "higher" else min
        return pick(peers, key=peers.__getitem__)

    @property
    def ratio(self) -> float | None:
        """conveyor's median over the best peer's."""
        best = self.best_peer()
        mine = self.values.get(CONVEYOR)
        if best is None or mine is None or self.values[best].median == 0:
            return None
        return mine.median / self.values[best].median

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "better": self.better,
            "values": {name: summary.as_dict() for name, summary in self.values.items()},
            "notes": self.notes,
            "best_peer": self.best_peer(),
            "ratio_vs_best_peer": self.ratio,
        }


@dataclass(frozen=True, slots=True)
class Goal:
    """A target from the store's issue, checked against this run."""

    text: str
    status: str  # PASS, MISS or n/a
    detail: str


def _number(value: float, unit: str) -> str:
    if unit in ("jobs/s", "rows/s", "ops/s"):
        return f"{value:,.0f}"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def cell(summary: Summary | None, unit: str, note: str = "") -> str:
    """A median [min-max] cell, or the note saying why there is none."""
    if summary is None:
        return note or "-"
    if len(summary.values) == 1:
        return _number(summary.median, unit)
    low, high = _number(summary.low, unit), _number(summary.high, unit)
    return f"{_number(summary.median, unit)} [{low}-{high}]"


def _fraction(row: Row, ceilings: Mapping[str, Summary]) -> str:
    mine = row.values.get(CONVEYOR)
    if row.ceiling is None or row.ceiling not in ceilings or mine is None:
        return ""
    return f"{100 * mine.median / ceilings[row.ceiling].median:.0f}%"


def table(rows: Sequence[Row], libraries: Sequence[str], ceilings: Mapping[str, Summary]) -> str:
    """A store's rows as an aligned Markdown table, one column per library."""
    header = ("Workload", "Unit", *libraries, "conveyor vs best peer", "% of raw")
    lines = [header]
    for row in rows:
        best = row.best_peer()
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x ({best})"
        cells = [
            cell(row.values.get(name), row.unit, row.notes.get(name, "")) for name in libraries
        ]
        lines.append((row.title, row.unit, *cells, ratio, _fraction(row, ceilings)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    rendered = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([rendered[0], rule, *rendered[1:]])


#: (row key, text, kind, target) per store, from the store issues; kinds: ``ratio`` (at
#: least target x the best peer), ``self`` (2 processes vs 1), ``bulk`` (W1b vs W1 of
#: conveyor), ``max`` (conveyor's median at most target).
GOALS: dict[str, list[tuple[str, str, str, float]]] = {
    "sqlite": [
        ("w2_p1_steady", "drain >= 3x Huey (equal durability)", "ratio", 3.0),
        ("w1", "one-at-a-time enqueue >= 2x Huey (equal durability)", "ratio", 2.0),
        ("w3_p50", "enqueue-to-start p50 <= 10 ms", "max", 10.0),
    ],
    "postgres": [
        ("w2_p1_steady", "drain, 1 process >= 1.5x PgQueuer (aim 2x)", "ratio", 1.5),
        ("w2_p2_steady", "drain, 2 processes >= 1.3x 1 process", "self", 1.3),
        ("w1", "one-at-a-time enqueue >= 1.3x PgQueuer", "ratio", 1.3),
        ("w1b", "enqueue_many 50,000 >= 2x PgQueuer's bulk", "ratio", 2.0),
        ("w3_p50", "enqueue-to-start p50 <= 3 ms", "max", 3.0),
        ("w3_p99", "enqueue-to-start p99 <= 15 ms", "max", 15.0),
    ],
    "redis": [
        ("w2_p1_steady", "drain, 1 process >= 2x the best Redis peer", "ratio", 2.0),
        ("w2_p2_steady", "drain, 2 processes >= 1.3x 1 process", "self", 1.3),
        ("w1", "one-at-a-time enqueue >= the best Redis peer", "ratio", 1.0),
        ("w1b", "enqueue_many 50,000 >= 10x one-at-a-time", "bulk", 10.0),
        ("w3_p50", "enqueue-to-start p50 <= 1.5 ms", "max", 1.5),
        ("w3_p99", "enqueue-to-start p99 <= 10 ms", "max", 10.0),
    ],
}


def goals(store: str, rows: Mapping[str, Row]) -> list[Goal]:
    """The store's goals; ``n/a`` where this run lacks a figure (e.g. no peers)."""
    checked = []
    for key, text, kind, target in GOALS.get(store, []):
        row = rows.get(key)
        mine = None if row is None else row.values.get(CONVEYOR)
        if row is None or mine is None:
            checked.append(Goal(text, "n/a", "conveyor not measured in this run"))
            continue
        if kind == "max":
            ok = mine.median <= target
            detail = f"{mine.median:.2f} {row.unit} (limit {target:g})"
        else:
            ratio = _goal_ratio(kind, row, rows)
            if ratio is None:
                checked.append(Goal(text, "n/a", "no figure to compare with in this run"))
                continue
            ok = ratio >= target
            detail = f"{ratio:.2f}x (target {target:g}x)"
        checked.append(Goal(text, "PASS" if ok else "MISS", detail))
    return checked


def _goal_ratio(kind: str, row: Row, rows: Mapping[str, Row]) -> float | None:
    if kind == "ratio":
        return row.ratio
    base_key = "w2_p1_steady" if kind == "self" else "w1"
    base = rows.get(base_key)
    mine, theirs = row.values.get(CONVEYOR), None if base is None else base.values.get(CONVEYOR)
    if mine is None or theirs is None or theirs.median == 0:
        return None
    return mine.median / theirs.median


def goals_text(checked: Sequence[Goal]) -> str:
    """One line per goal."""
    return "\n".join(f"{g.status:<4}  {g.text}: {g.detail}" for g in checked)


def write_json(path: Path, payload: Mapping[str, object]) -> None:
    """Write a results file, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


#: Raw ceiling keys -> how they are described.
CEILINGS = {
    "sqlite_insert": "SQLite one-row INSERT+COMMIT (WAL, synchronous=NORMAL)",
    "sqlite_claim_ack": "SQLite claim+ack in batches of 100",
    "postgres_insert": "PostgreSQL one-row autocommit INSERT",
    "postgres_copy": "PostgreSQL COPY",
    "postgres_claim_ack": "PostgreSQL SKIP LOCKED claim+ack in batches of 100, one connection",
    "redis_ping": "Redis PING round trips, one at a time",
    "redis_pipeline": "Redis RPUSH in pipelines of 100",
}


def ceilings_text(ceilings: Mapping[str, Summary]) -> str:
    """The raw ceilings of a store, one line each."""
    return "\n".join(
        f"raw: {CEILINGS.get(key, key)}: {cell(summary, 'ops/s')} /s"
        for key, summary in ceilings.items()
    )


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
