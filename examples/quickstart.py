"""The README's tour of the API, as a file a test runs (python examples/quickstart.py).

It creates ``jobs.db`` in the current directory.
"""

import asyncio

from pydantic import BaseModel

from conveyor import Conveyor, Fail, JobContext

app = Conveyor("sqlite:///jobs.db")  # Conveyor() reads CONVEYOR_URL, default sqlite:///conveyor.db


class Add(BaseModel):
    a: int
    b: int


@app.job("math.add", max_attempts=3, timeout=30, queue="default", priority=0)
async def add(payload: Add, ctx: JobContext) -> int:  # plain def works too (thread pool)
    return payload.a + payload.b


@app.job("math.divide", max_attempts=1)
def divide(payload: Add) -> float:
    if payload.b == 0:
        raise Fail("cannot divide by zero")  # straight to dead, no retries
    return payload.a / payload.b


async def main() -> None:
    job = await add.enqueue(Add(a=1, b=2))  # -> Job, returns at once
    jobs = await add.enqueue_many([Add(a=i, b=i) for i in range(1000)])  # one round trip
    later = await app.enqueue(
        "math.add", {"a": 1, "b": 2}, delay=10, idempotency_key="k1", tenant="acme"
    )
    again = await app.enqueue("math.add", {"a": 1, "b": 2}, idempotency_key="k1", tenant="acme")
    assert again.id == later.id  # same tenant + key: the existing job comes back
    broken = await divide.enqueue({"a": 1, "b": 0})

    ran = await app.drain(timeout=30)  # run a worker in-process until nothing is runnable
    job = await app.get(job.id)
    print(f"{job.type} {job.id}: {job.state}, result={job.result}; {ran} attempts ran")
    assert job.state == "succeeded"
    assert job.result == 3
    assert (await app.get(jobs[-1].id)).result == 1998

    await app.cancel(later.id)  # the delayed job is still waiting: cancelled at once
    page = await app.list(state="dead", type="math.divide", limit=50)
    print(f"dead jobs: {[j.id for j in page.items]}, error: {page.items[0].error}")
    await app.retry(broken.id)  # retry: dead -> queued (it will fail again)
    more = await app.list(state="succeeded", limit=50, cursor=None)
    while more.next_cursor:
        more = await app.list(state="succeeded", limit=50, cursor=more.next_cursor)
    attempts = await app.attempts(broken.id)
    print(f"{len(attempts)} attempt(s) of the broken job: {attempts[0].error_message}")
    await app.close()


if __name__ == "__main__":
    asyncio.run(main())
