"""The key layout of the Redis store: the only place key names are built.

Every key of an app lives under one hash tag, ``{<prefix>}:``, so that all of them
hash to the same Redis Cluster slot and every Lua script can touch any of them. The
layout (``P`` is ``{prefix}:``)::

    P schema                      string   layout version (``SCHEMA_VERSION``)
    P job:<id>                    hash     the job's fields (see ``codec.JOB_FIELDS``)
    P attempts:<id>               hash     attempt number -> JSON record
    P job_events:<id>             list     the job's events (JSON), oldest first
    P events                      zset     every event (JSON member), scored by event id
    P event_seq                   string   the last event id handed out (never reset)
    P queued:<queue>              zset     queued job ids; all scores 0, members
                                           "<priority key><run_at><id>" so that
                                           lexicographic order is claim order
    P due                         zset     scheduled/retrying job ids by run_at (µs)
    P due:<queue>                 zset     the same, one queue (claims promote per queue)
    P expiry:<queue>              zset     waiting job ids with an expire_at, by expire_at
    P leases                      zset     running job ids by lease expiry (µs): the reaper
                                           reads it (reliable fetch)
    P finished                    zset     terminal job ids by finished_at (µs): the janitor
    P index:all                   zset     every job id (score 0: ordered by id = age)
    P index:state:<state>         zset     job ids per state (score 0)
    P index:type:<type>           zset     job ids per type (score 0)
    P index:queue:<queue>         zset     job ids per queue (score 0)
    P index:tenant:<tenant>       zset     job ids per tenant (score 0)
    P index:idempotency_key:<key> zset     job ids per idempotency key (score 0)
    P idempotency                 hash     "<len(tenant)>:<tenant><key>" -> job id
    P counts                      hash     "<state>:<queue>" -> jobs (stats)
    P waiting                     hash     waiting-job counters (``waiting_field``)
    P api_key:<id>                hash     one API key
    P api_keys                    zset     API key ids (score: created_at µs)
    P api_key_hashes              hash     key hash (hex SHA-256) -> API key id
    P scratch:claim               zset     claim's merge of several queues (deleted at
                                           the end of the script that made it)
    P wake:<queue>                channel  published when jobs become runnable

The Lua scripts build the same names from ``TEMPLATES`` through the prelude that
``lua_prelude()`` generates, so the layout is written down once, here. The prefix
itself reaches a script only as its single declared key (``schema``), never baked
into the script text: one cached script serves every prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from conveyor.errors import ConfigurationError

#: The version of this layout. Bumped (with a migration) when the layout changes.
SCHEMA_VERSION = 1
#: The migrations that bring a prefix to ``SCHEMA_VERSION``, in order.
MIGRATIONS: Sequence[str] = ("0001_init",)

DEFAULT_PREFIX = "conveyor"

#: name -> suffix after ``{prefix}:``; ``{part}`` placeholders take one argument.
TEMPLATES: Mapping[str, str] = {
    "schema": "schema",
    "job": "job:{id}",
    "attempts": "attempts:{id}",
    "job_events": "job_events:{id}",
    "events": "events",
    "event_seq": "event_seq",
    "queued": "queued:{queue}",
    "due": "due",
    "due_in_queue": "due:{queue}",
    "expiry": "expiry:{queue}",
    "leases": "leases",
    "finished": "finished",
    "all": "index:all",
    "by_state": "index:state:{state}",
    "by_type": "index:type:{type}",
    "by_queue": "index:queue:{queue}",
    "by_tenant": "index:tenant:{tenant}",
    "by_idempotency_key": "index:idempotency_key:{key}",
    "idempotency": "idempotency",
    "counts": "counts",
    "waiting": "waiting",
    "api_key": "api_key:{id}",
    "api_keys": "api_keys",
    "api_key_hashes": "api_key_hashes",
    "wake": "wake:{queue}",
    "claim_scratch": "scratch:claim",
}


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can serve as a hash tag; raise ``ConfigurationError``."""
    if not prefix or "{" in prefix or "}" in prefix:
        raise ConfigurationError(
            f"Invalid Redis key prefix {prefix!r}: it must be non-empty and contain no "
            "'{' or '}' (it becomes the hash tag of every key), e.g. ?prefix=myapp"
        )
    return prefix


class Keys:
    """The key names of one app (one prefix)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = check_prefix(prefix)
        self.base = "{" + prefix + "}:"

    def _key(self, name: str, **parts: str) -> str:
        return self.base + TEMPLATES[name].format(**parts)

    @property
    def schema(self) -> str:
        """The one key every script declares (it carries the hash tag and the prefix)."""
        return self._key("schema")

    def job(self, job_id: str) -> str:
        return self._key("job", id=job_id)

    def attempts(self, job_id: str) -> str:
        return self._key("attempts", id=job_id)

    def job_events(self, job_id: str) -> str:
        return self._key("job_events", id=job_id)

    @property
    def events(self) -> str:
        return self._key("events")

    @property
    def counts(self) -> str:
        return self._key("counts")

    @property
    def waiting(self) -> str:
        return self._key("waiting")

    @property
    def api_keys(self) -> str:
        return self._key("api_keys")

    def api_key(self, key_id: str) -> str:
        return self._key("api_key", id=key_id)

    @property
    def api_key_hashes(self) -> str:
        return self._key("api_key_hashes")

    def wake(self, queue: str) -> str:
        return self._key("wake", queue=queue)

    def pattern(self) -> str:
        """A ``SCAN MATCH`` pattern for every key of this prefix (tests, tooling)."""
        return _glob_escape(self.base) + "*"


def waiting_field(*, queue: str | None, tenant: str | None) -> str:
    """The field of the ``waiting`` hash counting jobs in scheduled/queued/retrying
    with this queue and tenant (``None``: any). The scripts' ``waiting_fields`` must
    build the same names."""
    if tenant is None:
        return "*" if queue is None else "q:" + queue
    scoped = f"{len(tenant.encode())}:{tenant}"  # Lua's # counts bytes
    return "t:" + scoped if queue is None else "tq:" + scoped + queue


def lua_prelude() -> str:
    """Lua that defines ``P`` (from ``KEYS[1]``, the schema key) and one ``k_<name>``
    function (or constant) per template, e.g. ``k_job(id)`` and ``k_events``."""
    schema_suffix = TEMPLATES["schema"]
    lines = [
        "-- generated by conveyor.backends.redis.keys.lua_prelude(): the key layout",
        f"local P = string.sub(KEYS[1], 1, #KEYS[1] - {len(schema_suffix)})",
    ]
    for name, template in TEMPLATES.items():
        head, brace, rest = template.partition("{")
        if not brace:
            lines.append(f"local k_{name} = P .. {_lua_string(template)}")
            continue
        tail = rest.partition("}")[2]
        if tail:
            raise AssertionError(f"template {name!r}: one trailing placeholder only")
        lines.append(f"local function k_{name}(part) return P .. {_lua_string(head)} .. part end")
    return "\n".join(lines) + "\n"


def _lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def prefix_from_query(value: str | None) -> str:
    """The prefix named by a URL's ``prefix`` option, or the default."""
    return DEFAULT_PREFIX if value is None else check_prefix(value)
