"""The SQLite backend's inline writes, their move to the backend's thread when another
connection holds the write lock, and its WAL checkpoints (``backend.py``,
``checkpoints.py``).

Store-specific on purpose (the conformance suite never looks inside a store): these
tests hold SQLite's write lock from another process, read the WAL file's size and
count rows with ``sqlite3``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.backends import open_backend
from conveyor.backends.base import Backend
from conveyor.backends.sqlite import checkpoints, queries
from tests.backends.conformance import T0, enqueue, events_of, new_job

# Takes SQLite's write lock, says so, and keeps it until a line arrives on stdin.
_HOLD_WRITE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("COMMIT")
print("released", flush=True)
"""

# Enqueues jobs one at a time through a backend of its own; prints their ids.
_ENQUEUE_ONE_BY_ONE = """
import asyncio, json, sys
from conveyor.backends import open_backend
from tests.backends.conformance import enqueue

async def main():
    backend = open_backend(sys.argv[1])
    await backend.open()
    try:
        ids = [(await enqueue(backend)).id for _ in range(int(sys.argv[2]))]
    finally:
        await backend.close()
    print(json.dumps(ids))

asyncio.run(main())
"""


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
async def backend(url: str) -> AsyncIterator[Backend]:
    backend = open_backend(url)
    await backend.open()
    yield backend
    await backend.close()


def _python(*args: str) -> list[str]:
    return [sys.executable, "-c", *args]


def _wal_size(url: str) -> int:
    """The size of the store's WAL file (0 when there is none)."""
    wal = url.removeprefix("sqlite:///") + "-wal"
    return os.path.getsize(wal) if os.path.exists(wal) else 0


async def test_a_write_lock_held_elsewhere_moves_the_write_off_the_event_loop(
    backend: Backend, url: str
) -> None:
    holder = await asyncio.create_subprocess_exec(
        *_python(_HOLD_WRITE_LOCK, url.removeprefix("sqlite:///")),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdin is not None
    assert holder.stdout is not None
    try:
        async with asyncio.timeout(30):
            assert await holder.stdout.readline() == b"locked\n"
            writing = asyncio.ensure_future(enqueue(backend, now=T0))
            # The write cannot land while the other process holds the lock, and this
            # loop keeps running meanwhile (were the write waiting inline, nothing here
            # could release the lock). The timeout only bounds how long we look.
            done, _ = await asyncio.wait({writing}, timeout=0.3)
            assert not done
            holder.stdin.write(b"go\n")
            await holder.stdin.drain()
            assert await holder.stdout.readline() == b"released\n"
            job = await writing
    finally:
        with contextlib.suppress(ProcessLookupError):
            holder.kill()
        await holder.wait()

    assert await backend.get(job.id) == job
    assert [event.reason for event in await events_of(backend, job.id)] == ["enqueued"]


async def test_processes_enqueueing_at_once_all_land_exactly_once(
    backend: Backend, url: str
) -> None:
    per_process = 200
    others = [
        await asyncio.create_subprocess_exec(
            *_python(_ENQUEUE_ONE_BY_ONE, url, str(per_process)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=Path(__file__).parents[2],
        )
        for _ in range(2)
    ]
    async with asyncio.timeout(60):
        mine = [(await enqueue(backend)).id for _ in range(per_process)]
        outputs = [await other.communicate() for other in others]
    assert all(other.returncode == 0 for other in others), [err for _, err in outputs]
    theirs = [job_id for out, _ in outputs for job_id in json.loads(out)]

    everyone = mine + theirs
    assert len(set(everyone)) == 3 * per_process
    stats = await backend.stats()
    assert stats.states["queued"] == 3 * per_process
    events = await backend.read_events(limit=10 * per_process)
    assert sorted(event.job_id for event in events) == sorted(everyone)
    assert [event.id for event in events] == sorted({event.id for event in events})


async def test_the_wal_stays_bounded_under_one_by_one_writes(
    backend: Backend, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small thresholds, so that a few thousand commits go through many rounds.
    monkeypatch.setattr(checkpoints, "CHECKPOINT_AFTER_COMMITS", 16)
    monkeypatch.setattr(checkpoints, "RESTART_ABOVE_FRAMES", 256)
    largest = 0
    job = None
    for index in range(2000):
        job = await enqueue(backend, now=T0)
        if index % 100 == 99:
            # A call that runs on the backend's thread returns after any checkpoint
            # round queued before it.
            assert await backend.get(job.id) is not None
            largest = max(largest, _wal_size(url))

    # Unchecked, 2,000 one-job commits leave about 70 MB of WAL (8-9 pages each);
    # here it starts over every few hundred pages.
    assert 0 < largest < 8 * 1024 * 1024


async def test_deleting_jobs_leaves_at_most_one_event_marker(backend: Backend, url: str) -> None:
    jobs = [await enqueue(backend, now=T0) for _ in range(5)]
    for job in jobs:
        await backend.cancel(job.id, now=T0)
    for job in reversed(jobs):  # each one holds the highest event id when deleted
        assert await backend.delete_job(job.id) is not None

    path = url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as connection:
        markers = connection.execute("SELECT count(*) FROM events WHERE job_id IS NULL")
        assert markers.fetchone()[0] == 1
    assert await backend.read_events(limit=100) == []
    later = await enqueue(backend, now=T0)
    assert [event.job_id for event in await backend.read_events(limit=100)] == [later.id]


async def test_closing_the_last_connection_checkpoints_the_wal(url: str) -> None:
    backend = open_backend(url)
    await backend.open()
    for _ in range(50):
        await backend.enqueue_many([new_job()], now=T0)
    await backend.close()

    assert _wal_size(url) == 0


async def test_without_wal_every_write_waits_on_the_backends_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite keeps a rollback journal, silently, where WAL cannot work. There a COMMIT
    # also waits for readers, so no write may run on a connection that does not wait.
    monkeypatch.setattr(
        queries, "CONFIGURE_CONNECTION", "PRAGMA journal_mode = DELETE;\nPRAGMA synchronous = FULL;"
    )
    path = tmp_path / "jobs.db"
    backend = open_backend(f"sqlite:///{path}")
    await backend.open()
    try:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as reader:
            assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM jobs").fetchall()  # holds a read lock
            async with asyncio.timeout(30):
                writing = asyncio.ensure_future(enqueue(backend, now=T0))
                done, _ = await asyncio.wait({writing}, timeout=0.3)
                assert not done  # waiting for the reader, not failing
                reader.execute("COMMIT")
                job = await writing
        assert await backend.get(job.id) == job
    finally:
        await backend.close()
