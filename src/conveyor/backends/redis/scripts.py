"""The Lua scripts of the Redis store: loaded once at open, called by SHA.

Each script under ``scripts/`` is one multi-key transition. Its text is the key
prelude (``keys.lua_prelude()``), then ``lib.lua`` (shared helpers), then the
script's own body. Every script declares exactly one key, the prefix's ``schema``
key: it routes the call to the prefix's Cluster slot and tells the script its prefix,
so one cached script serves every prefix (per-prefix script texts would fill the
server's script cache, one set per test).

``EVALSHA`` is all the hot path sends; a ``NOSCRIPT`` reply (the server restarted or
its script cache was flushed) loads the script again and repeats the call once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from conveyor.backends.redis.connection import pipeline
from conveyor.backends.redis.keys import lua_prelude

#: The scripts, by file name without ``.lua``.
NAMES = (
    "enqueue",
    "claim",
    "extend_leases",
    "finish",
    "reap_expired_leases",
    "promote_due",
    "cancel",
    "requeue_dead",
    "delete_job",
    "prune_finished",
    "list_jobs",
    "create_api_key",
    "find_api_key",
    "list_api_keys",
    "revoke_api_key",
)


@dataclass(frozen=True, slots=True)
class Script:
    """One script's full text and its SHA1 (what ``EVALSHA`` names)."""

    name: str
    text: str
    sha: str

    async def load(self, client: Redis) -> None:
        """Register the script on the server (``SCRIPT LOAD``)."""
        await client.script_load(self.text)

    async def call(self, client: Redis, schema_key: str, *args: str | int) -> Any:
        """Run the script with ``KEYS[1] = schema_key`` and ``ARGV = args``."""
        try:
            return await client.evalsha(self.sha, 1, schema_key, *args)
        except NoScriptError:
            await self.load(client)
            return await client.evalsha(self.sha, 1, schema_key, *args)

    async def call_many(
        self, client: Redis, schema_key: str, calls: Sequence[Sequence[str | int]]
    ) -> list[Any]:
        """Run the script once per argument list in ``calls``, all in one pipeline (one
        round trip, not a transaction); the replies in order. Raises the first error."""
        for attempt in range(2):
            commands = [("EVALSHA", self.sha, 1, schema_key, *args) for args in calls]
            replies = await pipeline(client, commands, raise_on_error=False)
            if attempt == 0 and any(_is_noscript(reply) for reply in replies):
                # Nothing ran (the server does not know the script): load it, send again.
                await self.load(client)
                continue
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            return replies
        raise AssertionError("unreachable: the second round returns or raises")


def _is_noscript(reply: object) -> bool:
    return isinstance(reply, NoScriptError) or (
        isinstance(reply, Exception) and str(reply).startswith("NOSCRIPT")
    )


def _read(name: str) -> str:
    return resources.files("conveyor.backends.redis").joinpath(f"scripts/{name}.lua").read_text()


def load_scripts() -> dict[str, Script]:
    """Every script, assembled (no I/O beyond reading the package's files)."""
    head = lua_prelude() + _read("lib")
    scripts = {}
    for name in NAMES:
        text = f"{head}\n-- {name}.lua\n{_read(name)}"
        sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
        scripts[name] = Script(name, text, sha)
    return scripts
