"""The raw ceiling of Redis on this machine, so every figure reads as a fraction of it.

Run as ``python -m bench.raw_redis ping|pipeline --n N --url URL --prefix P`` in
conveyor's venv (redis-py with hiredis), printing ``{"n": ..., "seconds": ...}``:

- ``ping``: ``n`` ``PING`` round trips, one at a time: the most any one-round-trip-per-job
  operation can reach from one Python client.
- ``pipeline``: ``n`` small job-sized ``RPUSH`` commands sent in pipelines of 100 (one
  round trip per 100 jobs); the list ``<prefix>:raw`` is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

import redis

BATCH = 100


def ping_loop(client: redis.Redis, n: int) -> float:
    """Seconds for ``n`` PING round trips."""
    client.ping()
    start = time.perf_counter()
    for _ in range(n):
        client.ping()
    return time.perf_counter() - start


def pipeline_loop(client: redis.Redis, n: int, key: str) -> float:
    """Seconds to RPUSH ``n`` payloads in pipelines of ``BATCH``."""
    payloads = [json.dumps({"i": i}) for i in range(n)]
    start = time.perf_counter()
    for low in range(0, n, BATCH):
        with client.pipeline(transaction=False) as pipe:
            for payload in payloads[low : low + BATCH]:
                pipe.rpush(key, payload)
            pipe.execute()
    elapsed = time.perf_counter() - start
    client.delete(key)
    return elapsed


def main(argv: Sequence[str] | None = None) -> None:
    """Run one loop and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.raw_redis")
    parser.add_argument("loop", choices=("ping", "pipeline"))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args(argv)
    client = redis.Redis.from_url(args.url)
    if args.loop == "ping":
        seconds = ping_loop(client, args.n)
    else:
        seconds = pipeline_loop(client, args.n, f"{args.prefix}:raw")
    client.close()
    print(json.dumps({"n": args.n, "seconds": seconds}))


if __name__ == "__main__":
    main()
