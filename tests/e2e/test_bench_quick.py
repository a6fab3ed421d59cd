"""``python -m bench --quick`` (the CI smoke run of the benchmark) works end to end.

It runs every conveyor workload once with small counts, each in its own subprocess
(worker through the real CLI included), and prints the results table. No figure is
asserted: timings on a shared 2-core CI machine say nothing about correctness.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_quick_bench_runs_and_prints_the_table() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "conveyor"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| Workload" in result.stdout
    assert "| conveyor/Huey |" in result.stdout
    assert "enqueue-to-start p50 <= 10 ms" in result.stdout  # the goals are printed
