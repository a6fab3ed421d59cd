"""Helpers of the end-to-end tests: run the ``conveyor`` CLI as real subprocesses and
wait on facts (job states in the store, log lines, process trees).

Every wait has a timeout and fails with what it was waiting for and the process's
output; nothing sleeps for a guessed duration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from conveyor import Conveyor, Job
from tests.e2e.apps.e2e_app import build

T = TypeVar("T")

CLI = (sys.executable, "-m", "conveyor")
REPO_ROOT = Path(__file__).parents[2]
APP_MODULE = Path(__file__).parent / "apps" / "e2e_app.py"
POLL_INTERVAL = 0.05  # how often a wait re-checks its fact; never a guess at a duration


def wait_until(check: Callable[[], T], *, timeout: float, what: str) -> T:
    """Call ``check`` until it returns something truthy, and return that; raise
    ``AssertionError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_INTERVAL)


class Background:
    """A CLI process running in the background. A thread collects its stderr lines, so
    tests can wait for a log line and show the output when something fails."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        self.args = list(args)
        self.popen = subprocess.Popen(
            [*CLI, *args],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            with self._lock:
                self._lines.append(line)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def wait_for_log(self, text: str, *, count: int = 1, timeout: float = 20.0) -> None:
        """Wait until ``count`` stderr lines contain ``text``."""

        def seen() -> bool:
            with self._lock:
                return sum(text in line for line in self._lines) >= count

        try:
            wait_until(seen, timeout=timeout, what=f"{count} log line(s) with {text!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; stderr so far:\n{self.stderr}") from None

    def send_signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, *, timeout: float) -> int:
        """Wait for the process to exit; its exit code."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{' '.join(self.args)} did not exit within {timeout:g} s; stderr:\n{self.stderr}"
            ) from None
        self._reader.join(timeout=5)
        return code

    def close(self) -> None:
        """Kill the process if it still runs and release its pipe."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)
        self._reader.join(timeout=5)
        if self.popen.stderr is not None:
            self.popen.stderr.close()


class Store:
    """The test's own handle on the store: the e2e app built in this process, called
    synchronously through its portal."""

    def __init__(self, url: str) -> None:
        self.app: Conveyor = build(url)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.app.portal.call(coro)

    def enqueue(
        self, name: str, payloads: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[str]:
        """Store one job per payload in one round trip (``options`` as in
        ``enqueue_many``); their ids, in order."""
        jobs = self.call(self.app.job_type(name).enqueue_many(payloads, **options))
        return [job.id for job in jobs]

    def get(self, job_id: str) -> Job:
        return self.call(self.app.get(job_id))

    def counts(self) -> dict[str, int]:
        """Jobs per state (states with no job are absent or 0)."""
        return self.call(self.app.stats()).states

    def count(self, state: str) -> int:
        return self.counts().get(state, 0)

    def all_jobs(self) -> list[Job]:
        jobs: list[Job] = []
        cursor: str | None = None
        while True:
            page = self.call(self.app.list(limit=1000, cursor=cursor))
            jobs += page.items
            if page.next_cursor is None:
                return jobs
            cursor = page.next_cursor

    def wait_for_count(self, state: str, count: int, *, timeout: float) -> None:
        """Wait until exactly ``count`` jobs are in ``state``."""
        try:
            wait_until(lambda: self.count(state) == count, timeout=timeout, what=state)
        except AssertionError:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {count} {state} job(s); "
                f"counts: {self.counts()}"
            ) from None

    def close(self) -> None:
        self.call(self.app.close())
        self.app.portal.stop()


class Project:
    """One test's directory (the CLI's working directory, holding the app module) and
    store (``sqlite:///<dir>/jobs.db`` unless ``url`` names another), plus the processes
    the test started."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self.url = url or f"sqlite:///{path / 'jobs.db'}"
        shutil.copy(APP_MODULE, path / APP_MODULE.name)  # so that --app e2e_app:app resolves
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        self.env["CONVEYOR_URL"] = self.url
        self._processes: list[Background] = []
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.url)
        return self._store

    def write_module(self, name: str, source: str) -> None:
        """Add a Python module ``name`` to the project directory."""
        (self.path / f"{name}.py").write_text(source)

    def run(
        self, *args: str, timeout: float = 30.0, executable: Sequence[str] = CLI
    ) -> subprocess.CompletedProcess[str]:
        """Run a CLI command to completion."""
        return subprocess.run(
            [*executable, *args],
            cwd=self.path,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str) -> str:
        """Run a CLI command that must succeed; its stdout."""
        done = self.run(*args)
        assert done.returncode == 0, f"conveyor {' '.join(args)} failed:\n{done.stderr}"
        return done.stdout

    def start(self, *args: str) -> Background:
        """Start a CLI command in the background (killed at teardown if still running)."""
        process = Background(args, cwd=self.path, env=self.env)
        self._processes.append(process)
        return process

    def start_worker(self, *args: str) -> Background:
        """``conveyor worker --app e2e_app:app ARGS``, once it is running."""
        worker = self.start("worker", "--app", "e2e_app:app", *args)
        worker.wait_for_log("starting on queues")
        return worker

    def close(self) -> None:
        for process in self._processes:
            process.close()
        if self._store is not None:
            self._store.close()


def child_pids(pid: int) -> set[int]:
    """The pids of the live children of process ``pid`` (from /proc)."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.update(int(p) for p in (task / "children").read_text().split())
        except FileNotFoundError:  # the thread ended while we looked
            continue
    return {p for p in children if is_alive(p)}


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")
