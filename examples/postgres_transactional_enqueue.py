"""Transactional enqueue on PostgreSQL: the job is written in the same transaction as
the web request's own rows, so it exists if and only if they do.

Run it with a PostgreSQL URL whose schema is migrated:

    export CONVEYOR_URL=postgresql://postgres@127.0.0.1/test?schema=demo
    conveyor migrate
    python examples/postgres_transactional_enqueue.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import psycopg
from pydantic import BaseModel

from conveyor import Conveyor

app = Conveyor()  # CONVEYOR_URL, a postgresql:// URL


class Welcome(BaseModel):
    email: str


@app.job("emails.welcome")
async def welcome(payload: Welcome) -> str:
    return f"sent to {payload.email}"


async def sign_up(conn: psycopg.AsyncConnection, email: str, *, fail: bool = False) -> None:
    """What a web request handler does: its own writes and the job, in one transaction."""
    async with conn.transaction():
        await conn.execute("INSERT INTO signups (email) VALUES (%s)", [email])
        await welcome.enqueue(Welcome(email=email), connection=conn)
        if fail:
            raise RuntimeError("the request failed after enqueueing")  # rolls both back


async def main() -> None:
    dsn = os.environ["CONVEYOR_URL"].split("?")[0]  # the same database, for our own rows
    async with app, await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute("CREATE TEMP TABLE signups (email text)")
        await conn.commit()
        await sign_up(conn, "ada@example.com")
        # A failed request: no signup row, and no phantom email job either.
        with contextlib.suppress(RuntimeError):
            await sign_up(conn, "bob@example.com", fail=True)

        await app.drain(timeout=30)
        for job in (await app.list(type="emails.welcome")).items:
            print(job.payload["email"], job.state, job.result)


if __name__ == "__main__":
    asyncio.run(main())
