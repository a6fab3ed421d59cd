"""Subprocesses of the harness: one-shot clients that print JSON, and background workers.

Every measurement runs in a child process started here with the repository root as
working directory and on ``PYTHONPATH`` (so ``bench.*`` imports in either venv, and
``huey_consumer`` finds ``bench.peers.huey_app``). Nothing runs in parallel: the harness
waits for each child before starting the next, so measurements never share the CPU.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class BenchError(RuntimeError):
    """A measurement could not be taken (a child failed or timed out)."""


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment plus ``extra``, with the repository on ``PYTHONPATH``."""
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("VIRTUAL_ENV", None)  # each child runs the interpreter it is given
    return env


def run_json(command: Sequence[str], *, env: Mapping[str, str], timeout: float) -> dict[str, Any]:
    """Run a client to completion and return the JSON object on its last output line.

    Raises ``BenchError`` with the tail of its stderr if it fails or times out.
    """
    try:
        result = subprocess.run(
            list(command),
            cwd=REPO,
            env=child_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(command)} took more than {timeout:g}s") from exc
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise BenchError(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-3000:]}"
        )
    data: dict[str, Any] = json.loads(lines[-1])
    return data


@contextlib.contextmanager
def background(
    command: Sequence[str], *, env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a worker in the background for the ``with`` block, its output in ``log``;
    stop it afterwards (SIGTERM, then SIGKILL after 15 s) unless it already exited."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(command), cwd=REPO, env=child_env(env), stdout=output, stderr=output
        )
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> int:
    """Stop ``process`` if it still runs; return its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def wait_for_file(
    path: Path, *, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> dict[str, Any]:
    """Wait for a probe file written by ``process``; return its JSON object.

    Raises ``BenchError`` (with the worker's log tail) if the process exits first or
    the file does not appear within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None and not path.exists():
            tail = log.read_text(errors="replace")[-3000:]
            raise BenchError(f"the worker exited {process.returncode} early:\n{tail}")
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:]
            raise BenchError(f"{path.name} did not appear within {timeout:g}s:\n{tail}")
        time.sleep(0.01)  # the timestamps come from the worker: polling only adds delay
    data: dict[str, Any] = json.loads(path.read_text())
    return data
