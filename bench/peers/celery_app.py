"""The Celery app (peers' venv): ``celery -A bench.peers.celery_app worker ...``.

Redis broker in the peers' db, every key under the run's prefix (kombu's
``global_keyprefix``), the run's own queue. Settings from Celery's "Optimizing" guide
for many short tasks: results ignored (no result backend), a larger prefetch
(``worker_prefetch_multiplier`` 16: each worker slot reserves 16 messages), rate limits
disabled; the worker runs without gossip, mingle and heartbeat events (flags in
``bench.libraries.redis``). Tasks only call the probe; ``sleep`` blocks its pool thread
for 10 ms (the thread pool is Celery's form of concurrent I/O waits here).
"""

from __future__ import annotations

import time

from celery import Celery

from bench.peers import env
from bench.probe import probe_from_env

probe = probe_from_env()
QUEUE = f"{env.prefix()}-celery"

app = Celery("bench", broker=env.redis_url())
app.conf.update(
    broker_transport_options={"global_keyprefix": f"{env.prefix()}:"},
    task_default_queue=QUEUE,
    task_ignore_result=True,
    worker_prefetch_multiplier=16,
    worker_disable_rate_limits=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


def _noop(i: int) -> None:
    probe.hit()


def _stamped(seq: int, t: float) -> None:
    probe.hit(seq, t)


def _sleep(i: int) -> None:
    time.sleep(env.SLEEP_SECONDS)
    probe.hit()


# Decorators applied as calls: Celery is untyped here (not in conveyor's venv).
noop = app.task(name="bench.noop")(_noop)
stamped = app.task(name="bench.stamped")(_stamped)
sleep = app.task(name="bench.sleep")(_sleep)
