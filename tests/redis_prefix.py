"""A fresh Redis key prefix per test: tests share one Redis server (and may run in
parallel), so each gets ``?prefix=test-<random>`` and, afterwards, exactly the keys of
that prefix are deleted (never FLUSHDB)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import redis


def with_prefix(url: str, prefix: str) -> str:
    """``url`` with the ``prefix`` query option set (other options kept)."""
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, f"prefix={prefix}"]))
    return urlunsplit(parts._replace(query=query))


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key of ``prefix`` (``{prefix}:*``); how many were deleted."""
    client = redis.Redis.from_url(url)
    try:
        deleted = 0
        pattern = "{" + prefix + "}:*"
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(client.unlink(*batch))
        return deleted
    finally:
        client.close()


@contextlib.contextmanager
def redis_prefix_url(url: str) -> Iterator[str]:
    """The store URL of a new, unique prefix; its keys are deleted on exit."""
    prefix = f"test-{secrets.token_hex(6)}"
    try:
        yield with_prefix(url, prefix)
    finally:
        delete_prefix(url, prefix)
