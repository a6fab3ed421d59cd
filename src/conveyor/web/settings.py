"""``WebSettings``: the knobs of the HTTP service, from arguments and ``CONVEYOR_*``
environment variables (same precedence as ``conveyor.settings``: argument, variable,
default). A malformed variable raises ``ConfigurationError`` naming it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from conveyor.errors import ConfigurationError

#: Request headers never written into a job's captured request, whatever is configured.
ALWAYS_REDACTED = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSettings:
    """How the HTTP service behaves.

    ``auth``: require ``Authorization: Bearer KEY`` on every ``/v1`` request.
    ``max_body_bytes``: larger request bodies answer 413 (counted while reading).
    ``store_timeout``: seconds a store call may take before the request answers 503.
    ``retry_after``: the ``Retry-After`` seconds sent with 503 and 429.
    ``max_waiting_per_queue`` / ``max_waiting_per_tenant``: backpressure; a submission
    to a queue (or from a tenant) already holding that many waiting jobs answers 429
    and stores nothing (``None``: no limit).
    ``redact_headers``: header names (any case) replaced by ``[redacted]`` in a job's
    captured request, on top of ``Authorization``, ``Cookie`` and ``Proxy-Authorization``.
    """

    auth: bool = True
    max_body_bytes: int = 1024 * 1024
    store_timeout: float = 5.0
    retry_after: int = 1
    max_waiting_per_queue: int | None = None
    max_waiting_per_tenant: int | None = None
    redact_headers: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigurationError(f"max_body_bytes must be positive, got {self.max_body_bytes}")
        if self.store_timeout <= 0:
            raise ConfigurationError(f"store_timeout must be positive, got {self.store_timeout}")
        if self.retry_after < 0:
            raise ConfigurationError(f"retry_after must not be negative, got {self.retry_after}")
        for name in ("max_waiting_per_queue", "max_waiting_per_tenant"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigurationError(f"{name} must be at least 1 (or unset), got {value}")
        object.__setattr__(
            self, "redact_headers", frozenset(h.lower() for h in self.redact_headers)
        )

    @property
    def redacted(self) -> frozenset[str]:
        """Every header name (lower case) that is redacted."""
        return ALWAYS_REDACTED | self.redact_headers

    @classmethod
    def load(
        cls,
        *,
        auth: bool | None = None,
        max_body_bytes: int | None = None,
        store_timeout: float | None = None,
        retry_after: int | None = None,
        max_waiting_per_queue: int | None = None,
        max_waiting_per_tenant: int | None = None,
        redact_headers: Iterable[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> WebSettings:
        """Explicit values first, then ``CONVEYOR_MAX_BODY_BYTES``,
        ``CONVEYOR_STORE_TIMEOUT``, ``CONVEYOR_RETRY_AFTER``,
        ``CONVEYOR_MAX_WAITING_PER_QUEUE``, ``CONVEYOR_MAX_WAITING_PER_TENANT`` and
        ``CONVEYOR_REDACT_HEADERS`` (comma-separated), then the defaults."""
        env = os.environ if environ is None else environ
        headers = redact_headers
        if headers is None and env.get("CONVEYOR_REDACT_HEADERS"):
            headers = [h.strip() for h in env["CONVEYOR_REDACT_HEADERS"].split(",") if h.strip()]
        values: dict[str, object] = {
            "auth": auth,
            "max_body_bytes": _pick(max_body_bytes, env, "MAX_BODY_BYTES", int),
            "store_timeout": _pick(store_timeout, env, "STORE_TIMEOUT", float),
            "retry_after": _pick(retry_after, env, "RETRY_AFTER", int),
            "max_waiting_per_queue": _pick(
                max_waiting_per_queue, env, "MAX_WAITING_PER_QUEUE", int
            ),
            "max_waiting_per_tenant": _pick(
                max_waiting_per_tenant, env, "MAX_WAITING_PER_TENANT", int
            ),
            "redact_headers": None if headers is None else frozenset(headers),
        }
        return cls(**{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]  # each value parsed to its field's type above


def _pick(
    value: float | None, env: Mapping[str, str], name: str, kind: type[int] | type[float]
) -> float | None:
    if value is not None:
        return value
    raw = env.get(f"CONVEYOR_{name}")
    if raw is None or raw == "":
        return None
    try:
        return kind(raw)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise ConfigurationError(f"CONVEYOR_{name} must be {noun}, got {raw!r}") from None
