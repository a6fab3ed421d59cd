"""Fixtures of the end-to-end tests: a project directory with the e2e app and a store.

The store is SQLite unless a test module asks for others with
``pytest.mark.parametrize("project", ["sqlite", "redis"], indirect=True)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import Project
from tests.postgres_schemas import fresh_postgres_schema_sync
from tests.redis_prefix import redis_prefix_url


@pytest.fixture
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    """A fresh directory and store (SQLite, or a Redis prefix of the test's own);
    background processes are killed at the end."""
    store = getattr(request, "param", "sqlite")
    with contextlib.ExitStack() as stack:
        url = None
        if store == "redis":
            url = stack.enter_context(redis_prefix_url(request.getfixturevalue("redis_url")))
        project = Project(tmp_path, url=url)
        stack.callback(project.close)  # processes stop before the prefix is deleted
        yield project


@pytest.fixture
def pg_project(tmp_path: Path, postgres_url: str) -> Iterator[Project]:
    """A fresh directory and a migrated PostgreSQL schema of its own (dropped after)."""
    with fresh_postgres_schema_sync(postgres_url) as url:
        project = Project(tmp_path, url)
        try:
            yield project
        finally:
            project.close()
