"""The app the end-to-end tests drive through the ``conveyor`` CLI.

Each test copies this file into its own directory, which is the CLI's working
directory, so ``--app e2e_app:app`` resolves there; the test process builds its own
instance with ``build(url)`` to enqueue in bulk and to read the store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel

from conveyor import Conveyor, JobContext


class Echo(BaseModel):
    text: str


class HoldFirstAttempt(BaseModel):
    """The first attempt holds its slot for ``seconds`` (long enough to be killed
    mid-flight); later attempts return at once."""

    seconds: float = 60.0


class Gate(BaseModel):
    """The job runs until the file ``path`` exists."""

    path: str


def build(url: str | None = None) -> Conveyor:
    """A Conveyor with the test job types, on ``url`` (default: ``CONVEYOR_URL``)."""
    app = Conveyor(url)

    @app.job("echo")
    async def echo(payload: Echo) -> str:
        return payload.text

    @app.job("hold_first_attempt")
    async def hold_first_attempt(payload: HoldFirstAttempt, ctx: JobContext) -> int:
        if ctx.attempt == 1:
            await asyncio.sleep(payload.seconds)
        return ctx.attempt

    @app.job("gate")
    async def gate(payload: Gate) -> str:
        path = Path(payload.path)
        # The gate is a file the test creates from another process: poll for it.
        while not await asyncio.to_thread(path.exists):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return "opened"

    return app


app = build()
