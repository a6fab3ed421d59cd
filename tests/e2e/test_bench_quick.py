"""``python -m bench --quick`` (the CI smoke run of the benchmark) works end to end.

It runs every conveyor workload once with small counts on every store whose server is
up (each in its own subprocess, the worker through the real CLI, one and two worker
processes), the raw ceilings of each store, and writes the JSON and the chart. A store
without a conveyor backend in this checkout prints its skip line. No figure is
asserted: timings on a shared 2-core CI machine say nothing about correctness.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.backends import _SCHEMES

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_quick_bench_runs_every_store_and_writes_json_and_chart(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "conveyor vs best peer" in out
    assert "W2 drain 300, 2 processes" in out
    assert "W4 drain" in out
    assert "Worker RSS after W2" in out
    assert "enqueue-to-start p50 <= 10 ms" in out  # the goals are printed
    for store, scheme in (("postgres", "postgresql"), ("redis", "redis")):
        assert f"## {store}" in out
        if scheme not in _SCHEMES:
            assert f"conveyor has no {scheme} backend in this checkout" in out
    sqlite = json.loads(
        (tmp_path / next(p.name for p in tmp_path.glob("*-sqlite.json"))).read_text()
    )
    assert sqlite["libraries"] == ["conveyor"]
    assert {row["key"] for row in sqlite["rows"]} >= {
        "w1",
        "w1b",
        "w2_p1_steady",
        "w2_p2_steady",
        "w3_p50",
        "w4",
    }
    assert (tmp_path / "latest.png").stat().st_size > 0
