"""``conveyor worker --processes N``: the supervisor keeps N worker processes alive,
forwards SIGTERM, gives up on children that cannot start, and takes its children
down with it when it dies."""

from __future__ import annotations

import os
import signal

import pytest

from tests.e2e.support import Project, child_pids, is_alive, wait_until

SUPERVISED = ("worker", "--app", "e2e_app:app", "--processes", "2", "--concurrency", "4")
STARTED = "starting on queues"  # the log line of a worker process that runs


@pytest.mark.slow
def test_a_killed_child_is_restarted_and_sigterm_stops_all(project: Project) -> None:
    supervisor = project.start(*SUPERVISED, "--lease-seconds", "2")
    supervisor.wait_for_log(STARTED, count=2)
    children = child_pids(supervisor.pid)
    assert len(children) == 2
    project.store.enqueue("echo", [{"text": "before"}] * 20)
    project.store.wait_for_count("succeeded", 20, timeout=20)

    victim = min(children)
    os.kill(victim, signal.SIGKILL)
    project.store.enqueue("echo", [{"text": "during"}] * 20)  # the other child runs them
    supervisor.wait_for_log("was killed by SIGKILL")
    supervisor.wait_for_log(STARTED, count=3)
    project.store.wait_for_count("succeeded", 40, timeout=20)
    restarted = child_pids(supervisor.pid)
    assert len(restarted) == 2
    assert victim not in restarted
    assert children - {victim} <= restarted

    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=30) == 0
    assert not any(is_alive(pid) for pid in restarted)
    assert "all worker processes stopped" in supervisor.stderr


def test_children_that_crash_at_start_make_the_supervisor_give_up(project: Project) -> None:
    project.write_module(
        "crash_in_children",
        '"""Imports fine in the supervisor; every worker process it starts crashes."""\n'
        "import sys\n"
        "from e2e_app import app\n"
        'if "--supervised" in sys.argv:\n'
        '    raise SystemExit("simulated crash while a worker process starts")\n',
    )

    done = project.run("worker", "--app", "crash_in_children:app", "--processes", "2")

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "simulated crash" in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("error: worker process ")
    assert "exited with code 1" in last
    assert "times in a row; giving up" in last


@pytest.mark.slow
def test_children_stop_when_the_supervisor_is_killed(project: Project) -> None:
    supervisor = project.start(*SUPERVISED)
    supervisor.wait_for_log(STARTED, count=2)
    children = child_pids(supervisor.pid)
    assert len(children) == 2

    supervisor.send_signal(signal.SIGKILL)
    assert supervisor.wait(timeout=10) == -signal.SIGKILL

    wait_until(
        lambda: not any(is_alive(pid) for pid in children),
        timeout=20,
        what="the orphaned worker processes to stop",
    )
