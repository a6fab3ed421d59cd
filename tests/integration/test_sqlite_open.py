"""Opening the SQLite store: URLs, clear errors for unusable files, and migrations.

Store-specific on purpose (the conformance suite in tests/backends/ never looks inside
a store): these tests read the file with ``sqlite3`` and play with permissions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.backends import open_backend
from conveyor.backends.migrate import apply_pending, load_migrations
from conveyor.backends.sqlite import SQLiteBackend
from conveyor.backends.sqlite.connection import SQLiteMigrationSession, connect
from conveyor.errors import ConfigurationError, StoreUnavailableError

#: Every migration the SQLite store ships, in the order they apply.
ALL_MIGRATIONS = [migration.name for migration in load_migrations("conveyor.backends.sqlite")]

NOBODY = 65534


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Run the block without root's power to ignore file permissions.

    As root, switch the effective user to ``nobody`` for the block (process-wide, so
    the backend's thread is covered too); as anyone else, permissions apply already.
    """
    if sys.platform == "win32" or os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory that the unprivileged user can reach (pytest's tmp_path root is
    private to its owner): a fresh directory under the system temp dir, removed after."""
    base = Path(tempfile.mkdtemp(prefix="conveyor-open-"))
    base.chmod(0o755)
    store = base / "store"
    store.mkdir()
    try:
        yield store
    finally:
        for path in (store, *store.iterdir()):
            path.chmod(stat.S_IRWXU)
        shutil.rmtree(base)


async def test_missing_directory_is_reported_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "jobs.db"
    backend = open_backend(f"sqlite:///{path}")

    with pytest.raises(StoreUnavailableError) as caught:
        await backend.open()

    message = str(caught.value)
    assert str(path) in message
    assert "does not exist" in message
    assert "mkdir -p" in message


def _chmod(path: Path, mode: int) -> None:
    path.chmod(mode)


async def test_read_only_directory_is_reported(shared_dir: Path) -> None:
    _chmod(shared_dir, 0o555)
    path = shared_dir / "jobs.db"
    backend = open_backend(f"sqlite:///{path}")

    with unprivileged(), pytest.raises(StoreUnavailableError) as caught:
        await backend.open()

    message = str(caught.value)
    assert str(path) in message
    assert "writable" in message or "permissions" in message
    assert not path.exists()


async def test_read_only_file_is_reported(shared_dir: Path) -> None:
    _chmod(shared_dir, 0o777)
    path = shared_dir / "jobs.db"
    created = open_backend(f"sqlite:///{path}")
    await created.open()
    await created.close()
    _chmod(path, 0o444)
    backend = open_backend(f"sqlite:///{path}")

    with unprivileged(), pytest.raises(StoreUnavailableError) as caught:
        await backend.open()

    assert str(path) in str(caught.value)
    assert "permissions" in str(caught.value)


async def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the tables you are looking for\n" * 100)
    backend = open_backend(f"sqlite:///{path}")

    with pytest.raises(StoreUnavailableError) as caught:
        await backend.open()

    assert str(path) in str(caught.value)
    assert "not a usable SQLite database" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://host/jobs.db",
        "sqlite:///:memory:",
        "sqlite://",
        "sqlite:///",
        "sqlite:///jobs.db?mode=ro",
    ],
)
def test_malformed_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_backend(url)


async def test_relative_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    backend = open_backend("sqlite:///relative.db")
    assert isinstance(backend, SQLiteBackend)

    await backend.open()
    await backend.close()

    assert (tmp_path / "relative.db").is_file()


async def test_absolute_url_and_file_settings(tmp_path: Path) -> None:
    path = tmp_path / "abs.db"
    backend = open_backend(f"sqlite:///{path}")
    assert backend.url == f"sqlite:///{path}"
    await backend.open()
    try:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            names = [row[0] for row in connection.execute("SELECT name FROM conveyor_migrations")]
        assert names == ALL_MIGRATIONS
    finally:
        await backend.close()


async def test_migrate_before_open_applies_then_nothing(tmp_path: Path) -> None:
    backend = open_backend(f"sqlite:///{tmp_path / 'fresh.db'}")

    assert await backend.migrate() == ALL_MIGRATIONS
    assert await backend.migrate() == []
    await backend.open()
    try:
        assert await backend.migrate() == []
    finally:
        await backend.close()


async def test_calls_on_a_backend_that_is_not_open_fail_clearly(tmp_path: Path) -> None:
    backend = open_backend(f"sqlite:///{tmp_path / 'never.db'}")

    with pytest.raises(StoreUnavailableError, match="not open"):
        await backend.get("some-id")


_MIGRATE_SCRIPT = """
import asyncio, json, sys
from conveyor.backends import open_backend

async def main():
    backend = open_backend(sys.argv[1])
    print(json.dumps(await backend.migrate()))

asyncio.run(main())
"""


def test_processes_migrating_one_fresh_file_at_once_apply_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_SCRIPT, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        outputs.append(json.loads(stdout))

    # Each file is applied under the lock by exactly one process; with several files,
    # different processes may apply different ones.
    applied = [name for names in outputs for name in names]
    assert sorted(applied) == ALL_MIGRATIONS


async def test_store_of_an_older_version_is_upgraded_on_open_keeping_its_jobs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    first, *_later = load_migrations("conveyor.backends.sqlite")
    with contextlib.closing(connect(str(path))) as connection:
        assert apply_pending(SQLiteMigrationSession(connection, 0), [first]) == [first.name]
        connection.execute(
            "INSERT INTO jobs (id, type, state, payload, max_attempts, queue, created_at, "
            "run_at, state_changed_at) VALUES ('old-job', 't', 'queued', '{}', 3, 'default', "
            "0, 0, 0)"
        )
        connection.commit()

    backend = open_backend(f"sqlite:///{path}")
    await backend.open()
    try:
        job = await backend.get("old-job")
        assert job is not None
        assert job.meta == {}
        assert await backend.list_api_keys() == []
    finally:
        await backend.close()
