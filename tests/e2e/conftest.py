"""Fixtures of the end-to-end tests: a project directory with the e2e app and a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import Project
from tests.postgres_schemas import fresh_postgres_schema_sync


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A fresh directory and SQLite store; background processes are killed at the end."""
    project = Project(tmp_path)
    try:
        yield project
    finally:
        project.close()


@pytest.fixture
def pg_project(tmp_path: Path, postgres_url: str) -> Iterator[Project]:
    """A fresh directory and a migrated PostgreSQL schema of its own (dropped after)."""
    with fresh_postgres_schema_sync(postgres_url) as url:
        project = Project(tmp_path, url)
        try:
            yield project
        finally:
            project.close()
