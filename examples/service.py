"""The app `make run` serves: `conveyor serve --app examples.service:app`.

Two job types to try over HTTP (see the README's curl session and
docs/howto/http-api.md). Store: ``CONVEYOR_URL`` or ``service.db``.
"""

import asyncio
import os

from pydantic import BaseModel, Field

from conveyor import Conveyor, Fail, JobContext

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///service.db"))


class Resize(BaseModel):
    image: str = Field(min_length=1)
    width: int = Field(gt=0, le=10_000)


class Resized(BaseModel):
    image: str
    width: int
    attempt: int


@app.job("images.resize", max_attempts=3, timeout=60)
async def resize(payload: Resize, ctx: JobContext) -> Resized:
    await asyncio.sleep(0.2)  # stands in for real work
    if payload.image.endswith(".corrupt"):
        raise Fail(f"{payload.image} is not an image")
    return Resized(image=payload.image, width=payload.width, attempt=ctx.attempt)


class Add(BaseModel):
    a: int
    b: int


@app.job("math.add")
def add(payload: Add) -> int:  # a plain def runs in the worker's thread pool
    return payload.a + payload.b
