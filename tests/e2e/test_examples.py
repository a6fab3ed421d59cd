"""Every user-facing example in examples/ runs as written (as the docs show it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres_schemas import fresh_postgres_schema_sync

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(
    name: str, cwd: Path, timeout: float = 60, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_URL"}
    if url is not None:
        env["CONVEYOR_URL"] = url
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    result = run_example("quickstart.py", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "math.add" in result.stdout
    assert "succeeded, result=3" in result.stdout
    assert "cannot divide by zero" in result.stdout
    assert (tmp_path / "jobs.db").exists()


@pytest.mark.slow
def test_demo_shows_every_job_finishing(tmp_path: Path) -> None:
    result = run_example("demo.py", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "done:" in result.stdout
    assert "'succeeded': 6" in result.stdout
    assert "'dead': 1" in result.stdout
    assert (tmp_path / "demo.db").exists()


def test_postgres_transactional_enqueue_keeps_only_the_committed_job(
    tmp_path: Path, postgres_url: str
) -> None:
    with fresh_postgres_schema_sync(postgres_url) as url:
        result = run_example("postgres_transactional_enqueue.py", tmp_path, url=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ada@example.com succeeded sent to ada@example.com\n"
