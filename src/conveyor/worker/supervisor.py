"""The supervisor behind ``conveyor worker --processes N``: N worker processes, kept alive.

It owns one *slot* per process and knows nothing about jobs: each slot runs the given
command (``python -m conveyor worker ... --processes 1 --supervised``) and waits for it.

Invariants:

- At most one child per slot. A child that exits while the supervisor is not stopping
  is restarted after a backoff that doubles from ``backoff_initial`` up to
  ``backoff_max`` and resets once a child has lived ``min_uptime`` seconds.
- A child that cannot start is not restarted forever: after ``max_quick_exits``
  consecutive exits within ``min_uptime`` of starting, the supervisor stops the other
  children and ``run()`` returns 1 with ``failure`` saying why.
- ``stop(signum)`` forwards the signal to every child and waits for them; a second
  call forwards it again (a worker then releases its running jobs at once), and
  ``kill_after`` seconds after the first call any child still alive gets SIGKILL.
- Children run in their own process group, so a terminal's Ctrl-C reaches them once,
  through ``stop()``, not twice (which would make them skip their drain).
- Each child's stdin is a pipe whose write end only the supervisor holds. If the
  supervisor dies, even by SIGKILL, the children read EOF and stop (``--supervised``),
  so no orphaned worker keeps claiming jobs.
- In burst mode a child that exits 0 has drained its queues; its slot is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger("conveyor.supervisor")


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorConfig:
    """How to run and restart the worker processes (see the module docstring)."""

    command: Sequence[str]
    processes: int
    burst: bool = False
    min_uptime: float = 5.0
    max_quick_exits: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    kill_after: float | None = 40.0

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise ValueError(f"processes must be at least 1, got {self.processes}")
        if self.max_quick_exits < 1:
            raise ValueError(f"max_quick_exits must be at least 1, got {self.max_quick_exits}")


class Supervisor:
    """Runs ``config.processes`` copies of ``config.command`` until ``stop()``.

    Create and run it in one event loop; ``stop`` must be called from that loop (e.g.
    by ``loop.add_signal_handler``).
    """

    def __init__(self, config: SupervisorConfig) -> None:
        self.config = config
        #: Why ``run()`` returned 1 (``None`` after a clean stop).
        self.failure: str | None = None
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self._stopping = asyncio.Event()
        self._stop_signal: int = signal.SIGTERM
        self._kill_timer: asyncio.TimerHandle | None = None
        self._killed = 0

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Forward ``signum`` to every child and restart none of them from now on."""
        first = not self._stopping.is_set()
        self._stop_signal = signum
        self._stopping.set()
        for proc in self._children.values():
            _send(proc, signum)
        if first and self.config.kill_after is not None:
            self._kill_timer = asyncio.get_running_loop().call_later(
                self.config.kill_after, self._kill_all
            )

    async def run(self) -> int:
        """Run every slot until ``stop()`` (or, in burst mode, until all drained).

        Returns 0 after a clean stop, 1 if a child kept failing to start or had to be
        killed at shutdown (``failure`` says which).
        """
        log.info("supervising %d worker processes", self.config.processes)
        try:
            async with asyncio.TaskGroup() as group:
                for slot in range(1, self.config.processes + 1):
                    group.create_task(self._keep_running(slot))
        finally:
            if self._kill_timer is not None:
                self._kill_timer.cancel()
        if self._killed and self.failure is None:
            self.failure = (
                f"killed {self._killed} worker process(es) that did not stop within "
                f"{self.config.kill_after:g} s; their jobs run again once their leases expire"
            )
        if self.failure is not None:
            return 1
        log.info("all worker processes stopped")
        return 0

    async def _keep_running(self, slot: int) -> None:
        loop = asyncio.get_running_loop()
        quick_exits = 0
        backoff = self.config.backoff_initial
        while not self._stopping.is_set():
            started = loop.time()
            code = await self._run_child(slot)
            uptime = loop.time() - started
            if self._stopping.is_set() or (code == 0 and self.config.burst):
                return
            if uptime >= self.config.min_uptime:
                quick_exits, backoff = 0, self.config.backoff_initial
            else:
                quick_exits += 1
            if quick_exits >= self.config.max_quick_exits:
                self._give_up(
                    f"worker process {slot} {describe_exit(code)} within {uptime:.1f} s of "
                    f"starting, {quick_exits} times in a row; giving up (its output is above)"
                )
                return
            log.warning(
                "worker process %d %s after %.1f s; restarting it in %.1f s",
                slot,
                describe_exit(code),
                uptime,
                backoff,
            )
            await self._pause(backoff)
            backoff = min(backoff * 2, self.config.backoff_max)

    async def _run_child(self, slot: int) -> int | None:
        """Start one child in ``slot`` and wait for it; its exit code (``None``: it
        could not be started, which ``failure`` explains)."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.config.command, stdin=asyncio.subprocess.PIPE, process_group=0
            )
        except OSError as exc:
            self._give_up(f"could not start worker process {slot}: {exc}")
            return None
        self._children[slot] = proc
        if self._stopping.is_set():  # stop() ran while the child was being spawned
            _send(proc, self._stop_signal)
        log.info("started worker process %d (pid %d)", slot, proc.pid)
        try:
            return await proc.wait()
        finally:
            del self._children[slot]
            if proc.stdin is not None:
                proc.stdin.close()

    def _give_up(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
        self.stop(signal.SIGTERM)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the supervisor is told to stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    def _kill_all(self) -> None:
        for slot, proc in self._children.items():
            log.warning(
                "worker process %d (pid %d) did not stop in time; killing it", slot, proc.pid
            )
            _send(proc, signal.SIGKILL)
            self._killed += 1


def describe_exit(code: int | None) -> str:
    """``exited with code 1`` / ``was killed by SIGKILL`` (negative codes are signals)."""
    if code is None:
        return "could not be started"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


def _send(proc: asyncio.subprocess.Process, signum: int) -> None:
    # The child may have exited a moment ago; there is nothing left to signal then.
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signum)
