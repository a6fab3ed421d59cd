"""`make demo`: a worker on the embedded SQLite store, with jobs shown completing live.

It enqueues a mix of jobs (some slow, one flaky that succeeds on its second attempt, one
delayed, one that fails for good), runs a worker in this process, and redraws a table of
their states until every job has finished. Store: ``CONVEYOR_URL`` or ``demo.db``.
"""

import asyncio
import os
import random

from pydantic import BaseModel
from rich.console import Console
from rich.live import Live
from rich.table import Table

from conveyor import Conveyor, Fail, Job, JobContext, Retry

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///demo.db"))
console = Console()


class Resize(BaseModel):
    image: str
    width: int


@app.job("images.resize", max_attempts=3)
async def resize(payload: Resize, ctx: JobContext) -> dict[str, object]:
    await asyncio.sleep(random.uniform(0.2, 1.5))  # stands in for real work  # noqa: S311
    if payload.image == "flaky.png" and ctx.attempt == 1:
        raise Retry(after=1, reason="storage busy, trying again in 1 s")
    if payload.image == "corrupt.png":
        raise Fail("not a PNG file")
    return {"image": payload.image, "width": payload.width, "attempt": ctx.attempt}


def render(jobs: list[Job]) -> Table:
    table = Table(title="conveyor demo: jobs on SQLite", expand=False)
    for column in ("job", "payload", "state", "attempts", "result / error"):
        table.add_column(column)
    colours = {"succeeded": "green", "dead": "red", "running": "yellow", "retrying": "magenta"}
    for job in jobs:
        outcome = job.error if job.state == "dead" else job.result
        colour = colours.get(job.state, "white")
        table.add_row(
            job.id[-12:],
            str(job.payload["image"]),
            f"[{colour}]{job.state}[/]",
            str(job.attempts),
            "" if outcome is None else str(outcome),
        )
    return table


async def main() -> None:
    names = ["cat.png", "dog.png", "flaky.png", "corrupt.png", "owl.png", "fox.png"]
    jobs = [await resize.enqueue(Resize(image=name, width=320)) for name in names]
    jobs.append(await resize.enqueue(Resize(image="later.png", width=640), delay=2))
    worker = app.worker(concurrency=4)
    running = asyncio.create_task(worker.run())
    with Live(render(jobs), console=console, refresh_per_second=8) as live:
        while True:
            jobs = [await app.get(job.id) for job in jobs]
            live.update(render(jobs))
            if all(job.state.is_terminal for job in jobs):
                break
            await asyncio.sleep(0.1)
    worker.stop()
    await running
    stats = await app.stats()
    console.print(f"done: {stats.states}")
    console.print("Next: read README.md, then try `conveyor --help`.")
    await app.close()


if __name__ == "__main__":
    asyncio.run(main())
