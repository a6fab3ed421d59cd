"""The exception hierarchy of conveyor.

Every error a user can see is one of these, with a message that says what was wrong
and what to do about it. No driver exception (sqlite3, psycopg, redis) crosses the
``conveyor.backends`` boundary: backends translate them into ``StoreError`` types.

::

    ConveyorError
    ├── ConfigurationError          bad URL, setting or environment variable
    │   └── UnknownSchemeError      a store URL whose scheme no backend serves
    ├── UnknownJobTypeError         a job name no handler is registered for
    ├── DuplicateJobTypeError       two handlers registered under one name
    ├── PayloadValidationError      a payload that fails its job type's model
    ├── ResultSerializationError    a handler result that is not JSON-serialisable
    ├── JobNotFoundError            no job with that id
    ├── InvalidTransitionError      the job is not in a state that allows the action
    ├── InvalidCursorError          a list cursor that this store did not produce
    └── StoreError                  the store failed (translated driver error)
        ├── StoreUnavailableError   the store cannot be reached or opened
        └── SchemaOutOfDateError    the store's schema is older than this code

Job control signals (raised *inside* handlers, not errors of the library) live in
``conveyor.retry``: ``Retry`` and ``Fail``.
"""

from __future__ import annotations


class ConveyorError(Exception):
    """Base class of every conveyor error."""


class ConfigurationError(ConveyorError):
    """A setting, URL or environment variable is invalid."""


class UnknownSchemeError(ConfigurationError):
    """A store URL names a scheme that no backend serves."""


class UnknownJobTypeError(ConveyorError):
    """No handler is registered under the given job name."""

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        hint = f" Known job types: {', '.join(sorted(known))}." if known else ""
        super().__init__(
            f"Unknown job type {name!r}: no handler is registered under that name.{hint}"
        )
        self.name = name


class DuplicateJobTypeError(ConveyorError):
    """Two handlers were registered under the same job name."""


class PayloadValidationError(ConveyorError, ValueError):
    """A payload does not match its job type's payload model. Nothing was stored.

    ``errors`` holds pydantic's structured errors (``loc``, ``msg``, ``type``), so an
    HTTP surface can report field paths.
    """

    def __init__(self, job_type: str, errors: list[dict[str, object]], summary: str) -> None:
        super().__init__(f"Invalid payload for job type {job_type!r}: {summary}")
        self.job_type = job_type
        self.errors = errors


class ResultSerializationError(ConveyorError, TypeError):
    """A handler returned a value that cannot be stored as JSON."""


class JobNotFoundError(ConveyorError, LookupError):
    """No job has the given id (or it was pruned after its result TTL)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job with id {job_id!r} (it may never have existed, or was pruned).")
        self.job_id = job_id


class InvalidTransitionError(ConveyorError):
    """The job's current state does not allow the requested action."""


class InvalidCursorError(ConveyorError, ValueError):
    """A pagination cursor that was not produced by ``list`` (or was altered)."""


class StoreError(ConveyorError):
    """The store failed while carrying out an operation."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached, opened or written (missing directory, read-only...)."""


class SchemaOutOfDateError(StoreError):
    """The store's schema is older than this version of conveyor: run ``conveyor migrate``."""
