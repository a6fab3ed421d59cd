"""The PostgreSQL store: ``postgresql://user@host/database?schema=name``.

Install with ``pip install conveyor[postgres]`` (psycopg 3 and psycopg_pool). Worker
processes on any number of machines share one database; run ``conveyor migrate --url
...`` once before starting them. See ``backend.py`` for the concurrency model and
``docs/explanation/postgres.md`` for the design.
"""

from conveyor.backends.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]
