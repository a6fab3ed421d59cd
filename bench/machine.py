"""What the numbers were measured on: cores, CPU model, Python, SQLite, OS."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def cpu_model() -> str:
    """``lscpu``'s model name (``/proc/cpuinfo`` as a fallback), or ``"unknown"``."""
    try:
        output = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        output = ""
    for line in output.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def describe() -> dict[str, object]:
    """The machine and runtimes as a JSON-ready mapping."""
    return {
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu_model(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
    }


def _cpu_times() -> tuple[int, int] | None:
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values), idle


def busy_fraction(window: float = 0.25) -> float | None:
    """How busy all CPUs were over the next ``window`` seconds (0-1), while this process
    sleeps: other processes' load, which would skew a measurement started now. ``None``
    where ``/proc/stat`` is missing."""
    before = _cpu_times()
    time.sleep(window)
    after = _cpu_times()
    if before is None or after is None or after[0] == before[0]:
        return None
    total, idle = after[0] - before[0], after[1] - before[1]
    return 1 - idle / total


def source_state(repo: Path) -> str:
    """The commit measured, with ``+dirty`` when ``src/`` has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head
