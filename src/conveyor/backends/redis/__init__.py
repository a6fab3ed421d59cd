"""The Redis store: ``redis://host:6379/0?prefix=myapp`` (``pip install conveyor[redis]``).

Every transition is one Lua script; every key of an app sits under one ``{prefix}``
hash tag. See ``backend.py`` for the design and ``keys.py`` for the key layout.
"""

from conveyor.backends.redis.backend import RedisBackend

__all__ = ["RedisBackend"]
