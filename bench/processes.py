"""Subprocesses of the harness: one-shot clients that print JSON, and background workers.

Every measurement runs in a child process started here with the repository root as
working directory and on ``PYTHONPATH`` (so ``bench.*`` imports in every venv, and each
library's worker CLI finds its ``bench.peers`` app). Nothing runs in parallel: the
harness waits for each child before starting the next, so measurements never share the
CPU. Workers run in a session of their own, so that stopping one also stops the
processes it forked (Dramatiq's, Celery's).
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

from bench.probe import Totals, read_totals

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


def expand(command: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """``command`` with ``{NAME}`` replaced by the variable ``NAME`` of ``env``."""
    return [arg.format_map(env) if "{" in arg else arg for arg in command]


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
    commands: Sequence[Sequence[str]], *, env: Mapping[str, str], log: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run worker processes in the background for the ``with`` block, their output in
    ``log``; stop them afterwards (see ``stop``) unless they already exited."""
    processes: list[subprocess.Popen[bytes]] = []
    with log.open("wb") as output:
        try:
            for command in commands:
                processes.append(
                    subprocess.Popen(
                        list(command),
                        cwd=REPO,
                        env=child_env(env),
                        stdout=output,
                        stderr=output,
                        start_new_session=True,
                    )
                )
            yield processes
        finally:
            for process in processes:
                stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> int:
    """Stop ``process`` and everything in its session: SIGTERM, SIGKILL after ``grace``
    seconds; return its exit code."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
    code = process.wait()
    _signal_group(process.pid, signal.SIGKILL)  # forked children left behind, if any
    return code


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def wait_for_count(
    probe: Path,
    target: int,
    *,
    processes: Sequence[subprocess.Popen[bytes]],
    log: Path,
    timeout: float,
) -> Totals:
    """Wait until the probe files under ``probe`` count ``target`` job starts.

    Raises ``BenchError`` (with the workers' log tail) if every worker exits first or the
    count is not reached within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        totals = read_totals(probe)
        if totals.count >= target:
            return totals
        if all(p.poll() is not None for p in processes):
            time.sleep(0.2)  # an exiting worker's last flush
            totals = read_totals(probe)
            if totals.count >= target:
                return totals
            codes = [p.returncode for p in processes]
            raise BenchError(
                f"the workers exited {codes} after {totals.count} of {target} jobs:\n"
                + log.read_text(errors="replace")[-3000:]
            )
        if time.monotonic() > deadline:
            raise BenchError(
                f"{totals.count} of {target} jobs ran within {timeout:g}s:\n"
                + log.read_text(errors="replace")[-3000:]
            )
        time.sleep(0.01)  # the timestamps come from the workers: polling only adds delay
