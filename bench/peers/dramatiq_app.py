"""The Dramatiq app (peers' venv): ``dramatiq bench.peers.dramatiq_app --processes 1
--threads T``.

Redis broker in the peers' db, every key in the run's namespace; actors with no retries
(a no-op cannot fail) that only call the probe; ``sleep`` blocks its worker thread for
10 ms (threads are Dramatiq's form of concurrent I/O waits). Dramatiq's CLI forks its
worker processes from a supervisor: the probe counts per process, so that is fine.
"""

from __future__ import annotations

import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.peers import env
from bench.probe import probe_from_env

probe = probe_from_env()
QUEUE = "bench"

broker = RedisBroker(url=env.redis_url(), namespace=env.prefix())
dramatiq.set_broker(broker)


def _noop(i: int) -> None:
    probe.hit()


def _stamped(seq: int, t: float) -> None:
    probe.hit(seq, t)


def _sleep(i: int) -> None:
    time.sleep(env.SLEEP_SECONDS)
    probe.hit()


# Decorators applied as calls: Dramatiq is untyped here (not in conveyor's venv).
noop = dramatiq.actor(_noop, actor_name="noop", queue_name=QUEUE, max_retries=0)
stamped = dramatiq.actor(_stamped, actor_name="stamped", queue_name=QUEUE, max_retries=0)
sleep = dramatiq.actor(_sleep, actor_name="sleep", queue_name=QUEUE, max_retries=0)
