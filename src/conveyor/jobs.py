"""Job types: ``@app.job`` turns a typed handler into a ``JobType[P, R]``.

A job type owns what is known about one kind of job: its name, its payload and result
types (validated and serialised with pydantic), and its defaults (queue, priority,
attempts, backoff, timeout, ``on_dead`` hook). It validates payloads at enqueue time, so
a bad payload raises ``PayloadValidationError`` and stores nothing.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_type_hints

import pydantic
import pydantic_core
import uuid_utils

from conveyor.backends.base import NewJob
from conveyor.clock import ensure_aware
from conveyor.errors import ConfigurationError, PayloadValidationError, ResultSerializationError
from conveyor.retry import RetryPolicy

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.models import Job
    from conveyor.worker.context import JobContext

P = TypeVar("P")
R = TypeVar("R")

#: What ``on_dead`` receives: the context of the attempt that ended the job, and its error.
OnDead = Callable[["JobContext", BaseException], Awaitable[None] | None]
Handler = Callable[..., Any]

_ANY_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(Any)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobOptions:
    """Defaults for every job of a type; ``enqueue`` may override queue, priority and
    max_attempts per job. ``timeout`` is seconds per attempt (``None``: no limit)."""

    queue: str = "default"
    priority: int = 0
    max_attempts: int = 3
    timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    on_dead: OnDead | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigurationError(f"timeout must be positive seconds, got {self.timeout}")
        if not self.queue:
            raise ConfigurationError("queue must be a non-empty name")


@dataclass(frozen=True, slots=True, kw_only=True)
class EnqueueOptions:
    """Per-job options of one ``enqueue`` call (see ``JobType.enqueue``).

    ``meta`` is internal (not an ``enqueue`` argument): a JSON object stored with the
    job, where ``conveyor.web`` keeps the captured HTTP request (``ctx.request``).
    """

    delay: float | dt.timedelta | None = None
    run_at: dt.datetime | None = None
    expire_at: dt.datetime | None = None
    idempotency_key: str | None = None
    tenant: str | None = None
    max_attempts: int | None = None
    queue: str | None = None
    priority: int | None = None
    meta: Mapping[str, Any] | None = None


class JobType(Generic[P, R]):
    """One registered kind of job. Create it with ``@app.job(name, ...)``.

    Calling the object calls the handler directly (useful in unit tests).
    """

    def __init__(self, app: Conveyor, name: str, handler: Handler, options: JobOptions) -> None:
        if not name:
            raise ConfigurationError("a job type needs a non-empty name")
        self.app = app
        self.name = name
        self.handler = handler
        self.options = options
        self.is_async = inspect.iscoroutinefunction(handler)
        payload_type, result_type, self.takes_context = _inspect_handler(handler, name)
        self.payload_type: Any = payload_type
        self._payload_class: type | None = payload_type if isinstance(payload_type, type) else None
        self.payload_adapter: pydantic.TypeAdapter[P] = pydantic.TypeAdapter(payload_type)
        self.result_adapter: pydantic.TypeAdapter[R] = (
            _ANY_ADAPTER if result_type is Any else pydantic.TypeAdapter(result_type)
        )

    def __repr__(self) -> str:
        return f"<JobType {self.name!r} queue={self.options.queue!r}>"

    def __call__(self, payload: P, ctx: JobContext) -> Any:
        return self.handler(payload, ctx) if self.takes_context else self.handler(payload)

    # -- submitting ----------------------------------------------------------------

    async def enqueue(
        self,
        payload: P | Mapping[str, Any],
        *,
        delay: float | dt.timedelta | None = None,
        run_at: dt.datetime | None = None,
        expire_at: dt.datetime | None = None,
        idempotency_key: str | None = None,
        tenant: str | None = None,
        max_attempts: int | None = None,
        queue: str | None = None,
        priority: int | None = None,
        connection: Any = None,
    ) -> Job:
        """Validate ``payload`` and store one job; returns it at once (state ``queued``,
        or ``scheduled`` with ``delay``/``run_at``).

        With an ``idempotency_key`` already used by this tenant, nothing is stored and
        the existing job is returned. Raises ``PayloadValidationError`` (nothing stored).

        ``connection`` (PostgreSQL stores): a caller's open ``psycopg.AsyncConnection``.
        The job is written inside its current transaction: it exists if and only if
        the caller commits, and workers are woken at that commit. This is how to
        enqueue from a web request without lost or phantom jobs. Raises
        ``ConfigurationError`` on another store.
        """
        options = EnqueueOptions(
            delay=delay,
            run_at=run_at,
            expire_at=expire_at,
            idempotency_key=idempotency_key,
            tenant=tenant,
            max_attempts=max_attempts,
            queue=queue,
            priority=priority,
        )
        jobs = await self.app.submit([self.prepare(payload, options)], connection=connection)
        return jobs[0]

    async def enqueue_many(
        self,
        payloads: Iterable[P | Mapping[str, Any]],
        *,
        connection: Any = None,
        **options: Any,
    ) -> list[Job]:
        """Validate every payload first, then store them all in one round trip (all or
        nothing on validation errors). Keyword options apply to every job, as in
        ``enqueue`` (``idempotency_key`` is not allowed here: it would name one job);
        ``connection`` as in ``enqueue``."""
        return await self.app.submit(self._prepare_many(payloads, options), connection=connection)

    def enqueue_sync(
        self, payload: P | Mapping[str, Any], *, connection: Any = None, **options: Any
    ) -> Job:
        """``enqueue`` for synchronous code (Django, Flask, scripts).

        ``connection`` (PostgreSQL stores): a caller's open sync ``psycopg.Connection``;
        the job is written inside its current transaction, on the calling thread, and
        exists if and only if the caller commits.
        """
        if connection is None:
            return self.app.portal.call(self.enqueue(payload, **options))
        prepared = self.prepare(payload, EnqueueOptions(**options))
        return self.app.submit_sync([prepared], connection=connection)[0]

    def enqueue_many_sync(
        self,
        payloads: Iterable[P | Mapping[str, Any]],
        *,
        connection: Any = None,
        **options: Any,
    ) -> list[Job]:
        """``enqueue_many`` for synchronous code (``connection`` as in ``enqueue_sync``)."""
        if connection is None:
            return self.app.portal.call(self.enqueue_many(payloads, **options))
        return self.app.submit_sync(self._prepare_many(payloads, options), connection=connection)

    def _prepare_many(
        self, payloads: Iterable[P | Mapping[str, Any]], options: dict[str, Any]
    ) -> list[NewJob]:
        if "idempotency_key" in options:
            raise TypeError("enqueue_many() takes no idempotency_key; enqueue jobs one by one")
        shared = EnqueueOptions(**options)
        return [self.prepare(p, shared) for p in payloads]

    # -- the parts the app and the executor use -------------------------------------

    def prepare(self, payload: Any, options: EnqueueOptions) -> NewJob:
        """Validate and serialise one payload into a ``NewJob`` (no I/O)."""
        return NewJob(
            id=new_job_id(),
            type=self.name,
            payload_json=self.dump_payload(payload),
            queue=options.queue or self.options.queue,
            priority=self.options.priority if options.priority is None else options.priority,
            max_attempts=_max_attempts(options.max_attempts, self.options.max_attempts),
            tenant=options.tenant,
            idempotency_key=options.idempotency_key,
            run_at=self.app.resolve_run_at(options.delay, options.run_at),
            expire_at=(
                None
                if options.expire_at is None
                else ensure_aware(options.expire_at, name="expire_at")
            ),
            meta_json=None if options.meta is None else json.dumps(dict(options.meta)),
        )

    def dump_payload(self, payload: Any) -> str:
        """Validate ``payload`` (a model instance or JSON-like data) and return its JSON."""
        try:
            if self._payload_class is None or not isinstance(payload, self._payload_class):
                payload = self.payload_adapter.validate_python(payload)
            return self.payload_adapter.dump_json(payload).decode()
        except pydantic.ValidationError as exc:
            raise PayloadValidationError(self.name, _errors(exc), _summary(exc)) from None
        except pydantic_core.PydanticSerializationError as exc:
            raise PayloadValidationError(
                self.name, [{"loc": [], "msg": str(exc), "type": "serialization"}], str(exc)
            ) from None

    def load_payload(self, payload_json: str) -> P:
        """Parse a stored payload (raises ``PayloadValidationError`` if it no longer
        matches the model, e.g. after an incompatible change of the payload type)."""
        try:
            return self.payload_adapter.validate_json(payload_json)
        except pydantic.ValidationError as exc:
            raise PayloadValidationError(self.name, _errors(exc), _summary(exc)) from None

    def dump_result(self, result: Any) -> str:
        """Serialise a handler's return value to JSON (raises ``ResultSerializationError``)."""
        try:
            return self.result_adapter.dump_json(result).decode()
        except (pydantic_core.PydanticSerializationError, ValueError, TypeError) as exc:
            raise ResultSerializationError(
                f"job type {self.name!r} returned {type(result).__name__}, which cannot be "
                f"stored as JSON: {exc}. Return JSON data or a pydantic model, and annotate "
                "the handler's return type."
            ) from None


def new_job_id() -> str:
    """A time-ordered job id (UUIDv7): ids sort by creation time."""
    return str(uuid_utils.uuid7())


def _max_attempts(requested: int | None, default: int) -> int:
    if requested is None:
        return default
    if requested < 1:
        raise ConfigurationError(f"max_attempts must be at least 1, got {requested}")
    return requested


def _inspect_handler(handler: Handler, name: str) -> tuple[Any, Any, bool]:
    """Find the payload type, result type and whether the handler takes a context."""
    if not callable(handler):
        raise ConfigurationError(f"job {name!r}: the handler must be a function")
    params = [
        p
        for p in inspect.signature(handler).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not 1 <= len(params) <= 2:
        raise ConfigurationError(
            f"job {name!r}: the handler must take (payload) or (payload, ctx), "
            f"got {len(params)} positional parameters"
        )
    try:
        hints = get_type_hints(handler)
    except NameError as exc:
        raise ConfigurationError(f"job {name!r}: cannot resolve a type annotation: {exc}") from exc
    payload_type = hints.get(params[0].name, Any)
    result_type = hints.get("return", Any)
    if result_type is type(None):
        result_type = type(None)
    return payload_type, result_type, len(params) == 2


def _errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def _summary(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(x) for x in err["loc"]) or "(payload)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
