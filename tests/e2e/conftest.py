"""Fixtures of the end-to-end tests: a project directory with the e2e app and a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import Project


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A fresh directory and SQLite store; background processes are killed at the end."""
    project = Project(tmp_path)
    try:
        yield project
    finally:
        project.close()
