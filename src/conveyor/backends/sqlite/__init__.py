"""The embedded SQLite store: ``sqlite:///relative.db`` or ``sqlite:////abs/path.db``.

Nothing to install or start; WAL mode lets any number of worker processes on one
machine share the file. See ``backend.py`` for the concurrency model.
"""

from conveyor.backends.sqlite.backend import SQLiteBackend

__all__ = ["SQLiteBackend"]
