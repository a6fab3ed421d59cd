"""Connecting to Redis: the store URL, the client settings, and error translation.

URL: ``redis://[[user]:password@]host[:port][/db][?prefix=NAME&...]`` (``rediss://``
for TLS). ``prefix``
(default ``conveyor``) names the app's keys (``{prefix}:...``); every other query
option goes to redis-py as it documents them (``socket_timeout``,
``socket_connect_timeout``, ``health_check_interval``, ``ssl_*``...). conveyor sets
``socket_timeout`` and ``socket_connect_timeout`` to 5 s unless the URL says
otherwise, so a hung or unreachable server surfaces as ``StoreUnavailableError``
instead of a call that never returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from conveyor.backends.redis.keys import prefix_from_query
from conveyor.errors import ConfigurationError, StoreError, StoreUnavailableError

SCHEMES = ("redis", "rediss")
DEFAULT_SOCKET_TIMEOUT = 5.0

#: Driver errors that mean "the server cannot be used right now".
_UNAVAILABLE = (
    redis_errors.ConnectionError,  # includes AuthenticationError, BusyLoadingError
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A parsed store URL: what redis-py connects to, and the key prefix."""

    client_url: str
    prefix: str
    shown: str  # the URL without its password, for messages


def parse_url(url: str) -> RedisTarget:
    """Split the store URL; raises ``ConfigurationError`` for a malformed one."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise ConfigurationError(f"Not a Redis URL: {url!r} (e.g. redis://localhost:6379/0)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for name, value in query if name == "prefix"]
    if len(prefixes) > 1:
        raise ConfigurationError(f"Redis URL {url!r} names more than one prefix")
    prefix = prefix_from_query(prefixes[0] if prefixes else None)
    rest = [(name, value) for name, value in query if name != "prefix"]
    names = {name for name, _ in rest}
    for option in ("socket_timeout", "socket_connect_timeout"):
        if option not in names:
            rest.append((option, str(DEFAULT_SOCKET_TIMEOUT)))
    client_url = urlunsplit(parts._replace(query=urlencode(rest)))
    shown = url
    if parts.password is not None:
        shown = url.replace(f":{parts.password}@", ":***@", 1)
    return RedisTarget(client_url, prefix, shown)


def make_client(target: RedisTarget) -> Redis:
    """A client (with its own connection pool) for the current event loop.

    A call that fails to connect or loses its connection is retried twice with a short
    backoff (a restarted server or a pooled connection that went stale); past that the
    error surfaces as ``StoreUnavailableError``. Every script is safe to repeat: a
    repeated enqueue finds its job by id, a repeated finish finds the lease gone.
    """
    try:
        client: Redis = Redis.from_url(
            target.client_url,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            retry_on_error=[redis_errors.ConnectionError, redis_errors.TimeoutError],
        )
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"Invalid Redis URL {target.shown!r}: {exc}") from exc
    return client


def translate(exc: Exception, target: RedisTarget) -> Exception:
    """The ``conveyor.errors`` exception for a driver error."""
    if isinstance(exc, _UNAVAILABLE):
        return StoreUnavailableError(
            f"Redis at {target.shown} is unavailable ({type(exc).__name__}: {exc}); "
            "check that the server runs and the URL is right"
        )
    if isinstance(exc, redis_errors.ResponseError) and str(exc).startswith(
        ("MISCONF", "LOADING", "MASTERDOWN", "NOREPLICAS")
    ):
        return StoreUnavailableError(f"Redis at {target.shown} refuses writes: {exc}")
    return StoreError(f"Redis at {target.shown} failed: {type(exc).__name__}: {exc}")


def is_driver_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the driver or the socket (and must be translated)."""
    return isinstance(exc, redis_errors.RedisError | OSError)


async def command(client: Redis, *args: str | int) -> Any:
    """Send one command; its reply as redis-py parses it (strings decoded)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


async def pipeline(
    client: Redis, commands: Sequence[Sequence[str | int]], *, raise_on_error: bool = True
) -> list[Any]:
    """Send ``commands`` in one round trip (not a transaction); their replies, in
    order. With ``raise_on_error=False`` a failed command's reply is its exception."""
    async with client.pipeline(transaction=False) as pipe:
        for args in commands:
            pipe.execute_command(*args)
        return list(await pipe.execute(raise_on_error=raise_on_error))
