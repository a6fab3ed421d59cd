"""What the Redis server would keep of conveyor's data if it crashed, read at open.

Redis keeps data in memory; only its persistence settings decide what survives a
crash or restart of the server itself (docs/explanation/redis.md):

- ``appendonly yes`` + ``appendfsync always``: every acknowledged write survives;
- ``appendonly yes`` + ``appendfsync everysec`` (the usual choice): up to about one
  second of writes can be lost;
- RDB snapshots only (``save`` rules): everything since the last snapshot;
- neither: everything.

``check()`` reads ``CONFIG GET`` and returns a warning to log, or ``None``. Managed
services often disable ``CONFIG``; that is not an error, only unknown.
"""

from __future__ import annotations

from redis import exceptions as redis_errors
from redis.asyncio import Redis


async def check(client: Redis, shown_url: str) -> str | None:
    """A warning when persistence is weaker than AOF, or ``None`` (also when the
    settings cannot be read: CONFIG renamed or not permitted)."""
    try:
        appendonly = await client.config_get("appendonly")
        save = await client.config_get("save")
    except redis_errors.ResponseError:
        return None  # CONFIG disabled (managed Redis, ACL): nothing to say
    aof = str(appendonly.get("appendonly", "")).lower() == "yes"
    snapshots = bool(str(save.get("save", "")).strip())
    if aof:
        return None
    if snapshots:
        return (
            f"Redis at {shown_url} has AOF persistence off (appendonly no): if the Redis "
            "server crashes, jobs written since its last RDB snapshot are lost. For "
            "durable jobs set 'appendonly yes' (appendfsync everysec or always); see "
            "docs/explanation/redis.md"
        )
    return (
        f"Redis at {shown_url} has persistence off (appendonly no, no save rules): if the "
        "Redis server restarts, every job is lost. Set 'appendonly yes' (appendfsync "
        "everysec or always) for durable jobs; see docs/explanation/redis.md"
    )
