"""Fixtures for in-process tests: an app on a fresh SQLite file, with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Conveyor]:
    """An app with no job types yet; tests register their own."""
    app = Conveyor(f"sqlite:///{tmp_path / 'jobs.db'}", clock=clock)
    yield app
    await app.close()
    app.portal.stop()
