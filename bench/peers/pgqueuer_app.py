"""The PgQueuer factory (peers' venv): ``pgq run bench.peers.pgqueuer_app:main``.

PgQueuer's own example setup (an asyncpg connection wrapped in ``AsyncpgDriver``) on the
run's database (``BENCH_POSTGRES_URL``); three entrypoints that only call the probe
(``sleep`` first awaits 10 ms). Batch size and concurrency cap are ``pgq run`` flags
(``bench.libraries.postgres``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver

from bench.peers import env
from bench.probe import probe_from_env

probe = probe_from_env()


async def _noop(job: Any) -> None:
    probe.hit()


async def _stamped(job: Any) -> None:
    data = json.loads(job.payload)
    probe.hit(data["seq"], data["t"])


async def _sleep(job: Any) -> None:
    await asyncio.sleep(env.SLEEP_SECONDS)
    probe.hit()


async def connect() -> Any:
    """A PgQueuer driver on the run's database."""
    return AsyncpgDriver(await asyncpg.connect(env.postgres_url()))


async def main() -> Any:
    """The factory ``pgq run`` calls."""
    pgq = PgQueuer(await connect())
    pgq.entrypoint("noop")(_noop)
    pgq.entrypoint("stamped")(_stamped)
    pgq.entrypoint("sleep")(_sleep)
    return pgq
