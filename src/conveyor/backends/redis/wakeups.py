"""Wake-ups for idle consumers of the Redis store, over pub/sub.

Every script that makes jobs runnable (enqueue, release, reap, promote, manual retry)
publishes on ``wake:<queue>`` in the same atomic step. An idle worker's iterator is
subscribed to the channels of its queues, so it wakes within a round trip of the
change, whichever process or machine made it. Pub/sub delivers only to connected
subscribers, so a message published while the iterator reconnects is lost: the
iterator therefore wakes its consumer after every reconnect, and at least every
``SAFETY_NET_SECONDS`` (which also covers scheduled jobs becoming due, which no
write announces).

The subscription holds one connection of its own per iterator. When it breaks (the
server restarted), the iterator logs it, waits with a growing backoff, subscribes
again, and carries on: it never raises to its consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Sequence

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from conveyor.backends.redis.connection import is_driver_error

log = logging.getLogger("conveyor.backends.redis")

#: The longest an idle iterator stays silent.
SAFETY_NET_SECONDS = 1.0
#: How often an idle iterator checks that its backend is still open.
CLOSE_CHECK_SECONDS = 0.25
#: How long a new subscription may take to be confirmed before it counts as broken.
CONFIRM_SECONDS = 5.0
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 5.0


async def iterate(
    client: Callable[[], Redis],
    channels: Sequence[str],
    is_closed: Callable[[], bool],
    shown_url: str,
) -> AsyncGenerator[None, None]:
    """See ``RedisBackend.wakeups``. ``client()`` gives the backend's client for the
    running loop; ``is_closed()`` turns true when the backend closes."""
    loop = asyncio.get_running_loop()
    backoff = _FIRST_BACKOFF
    # Subscribed before the first wake-up, so nothing published after the consumer's
    # first look for work goes unheard.
    pubsub = await _try_subscribe(client, channels, is_closed, shown_url, first=True)
    yield  # a consumer looks for work when it starts
    try:
        while not is_closed():
            if pubsub is None:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                pubsub = await _try_subscribe(client, channels, is_closed, shown_url)
                if pubsub is not None:
                    log.info("wake-up subscription to Redis at %s restored", shown_url)
                    backoff = _FIRST_BACKOFF
                # Either way the consumer looks now: what was published while we were
                # away is lost, and while it stays away this is the slow poll.
            elif not await _listen(pubsub, loop, is_closed, shown_url):
                await _close(pubsub)
                pubsub = None
                continue
            if not is_closed():
                yield
    finally:
        if pubsub is not None:
            await _close(pubsub)


async def _try_subscribe(
    client: Callable[[], Redis],
    channels: Sequence[str],
    is_closed: Callable[[], bool],
    shown_url: str,
    *,
    first: bool = False,
) -> PubSub | None:
    """A subscription, or ``None`` if Redis cannot be reached (logged the first time)."""
    try:
        return await _subscribe(client(), channels)
    except Exception as exc:
        if is_closed():
            return None  # the caller's loop ends
        if not is_driver_error(exc):
            raise
        if first:
            _log_lost(shown_url, exc)
        return None


async def _subscribe(client: Redis, channels: Sequence[str]) -> PubSub:
    """A subscription to ``channels`` that the server has confirmed.

    ``SUBSCRIBE`` is only sent by redis-py; until the server has read it, a message
    published through another connection (an enqueue right after the worker's first
    look for work) would not reach us. Waiting for the confirmations closes that gap.
    """
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(*channels)
        pending = set(channels)
        async with asyncio.timeout(CONFIRM_SECONDS):
            while pending:
                message = await pubsub.get_message(timeout=CONFIRM_SECONDS)
                if message is not None and message["type"] == "subscribe":
                    channel = message["channel"]
                    pending.discard(channel.decode() if isinstance(channel, bytes) else channel)
    except BaseException:
        await _close(pubsub)
        raise
    return pubsub


async def _listen(
    pubsub: PubSub,
    loop: asyncio.AbstractEventLoop,
    is_closed: Callable[[], bool],
    shown_url: str,
) -> bool:
    """Return ``True`` on a wake-up message, after ``SAFETY_NET_SECONDS`` of silence,
    or when the backend closes; ``False`` when the subscription broke (logged)."""
    deadline = loop.time() + SAFETY_NET_SECONDS
    task = asyncio.current_task()
    try:
        while not is_closed():
            timeout = min(CLOSE_CHECK_SECONDS, max(deadline - loop.time(), 0.0))
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
            if task is not None and task.cancelling():
                # redis-py turns its read timeout into "no message"; a cancellation that
                # lands at the same moment is swallowed with it (asyncio.timeout on
                # Python 3.11). Honour it here, or the consumer could never stop us.
                raise asyncio.CancelledError
            if message is not None:
                # A burst of enqueues is one wake-up: drain what already arrived.
                while await pubsub.get_message(ignore_subscribe_messages=True, timeout=0):
                    pass
                return True
            if loop.time() >= deadline:
                return True
    except Exception as exc:
        if is_closed():
            return True  # the backend closed under us: the caller ends quietly
        if not is_driver_error(exc):
            raise
        _log_lost(shown_url, exc)
        return False
    return True


async def _close(pubsub: PubSub) -> None:
    with contextlib.suppress(Exception):
        await pubsub.aclose()  # type: ignore[no-untyped-call]


def _log_lost(shown_url: str, exc: Exception) -> None:
    log.warning(
        "lost the wake-up subscription to Redis at %s (%s: %s); reconnecting with "
        "backoff, polling meanwhile",
        shown_url,
        type(exc).__name__,
        exc,
    )
