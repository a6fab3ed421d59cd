"""The Procrastinate app (peers' venv): ``procrastinate --app
bench.peers.procrastinate_app.app worker ...``.

``PsycopgConnector`` on the run's database (``BENCH_POSTGRES_URL``); async tasks that
only call the probe (``sleep`` first awaits 10 ms). Worker flags (concurrency, deleting
finished jobs or not) are in ``bench.libraries.postgres``.
"""

from __future__ import annotations

import asyncio

import procrastinate

from bench.peers import env
from bench.probe import probe_from_env

probe = probe_from_env()

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=env.postgres_url()))


async def _noop(i: int) -> None:
    probe.hit()


async def _stamped(seq: int, t: float) -> None:
    probe.hit(seq, t)


async def _sleep(i: int) -> None:
    await asyncio.sleep(env.SLEEP_SECONDS)
    probe.hit()


# Decorators applied as calls: Procrastinate is not in conveyor's venv (untyped here).
noop = app.task(name="noop")(_noop)
stamped = app.task(name="stamped")(_stamped)
sleep = app.task(name="sleep")(_sleep)
