"""Settings from arguments and ``CONVEYOR_*`` environment variables.

Precedence: an explicit argument, then the environment variable, then the default.
A malformed variable raises ``ConfigurationError`` naming the variable.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass

from conveyor.errors import ConfigurationError

DEFAULT_URL = "sqlite:///conveyor.db"
DEFAULT_HEARTBEAT_SECONDS = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything an app needs to know besides its job types.

    ``lease_seconds``: how long a claimed job is held without a heartbeat before another
    worker may run it again. ``heartbeat_seconds``: how often a worker renews its leases
    (must be well under the lease). ``result_ttl``: how long finished jobs (and their
    results, attempts and events) are kept.
    """

    url: str = DEFAULT_URL
    lease_seconds: float = 30.0
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    result_ttl: dt.timedelta = dt.timedelta(days=7)
    concurrency: int = 16
    shutdown_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.lease_seconds <= 0:
            raise ConfigurationError(f"lease_seconds must be positive, got {self.lease_seconds}")
        if not 0 < self.heartbeat_seconds < self.lease_seconds:
            raise ConfigurationError(
                f"heartbeat_seconds ({self.heartbeat_seconds}) must be positive and shorter "
                f"than lease_seconds ({self.lease_seconds}), or leases expire between heartbeats"
            )
        if self.concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.result_ttl.total_seconds() <= 0:
            raise ConfigurationError("result_ttl must be positive")
        if self.shutdown_timeout < 0:
            raise ConfigurationError("shutdown_timeout must not be negative")

    @classmethod
    def load(
        cls,
        *,
        url: str | None = None,
        lease_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
        result_ttl: dt.timedelta | float | None = None,
        concurrency: int | None = None,
        shutdown_timeout: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from explicit values, falling back to ``CONVEYOR_*`` variables.

        When only the lease is given, the heartbeat defaults to a third of it (capped at
        the 10 s default), so a short lease is still renewed in time.
        """
        env = os.environ if environ is None else environ
        lease = lease_seconds if lease_seconds is not None else _float(env, "LEASE_SECONDS")
        heartbeat = (
            heartbeat_seconds if heartbeat_seconds is not None else _float(env, "HEARTBEAT_SECONDS")
        )
        if lease is not None and heartbeat is None:
            heartbeat = min(DEFAULT_HEARTBEAT_SECONDS, lease / 3)
        ttl: dt.timedelta | float | None = result_ttl
        if ttl is None:
            ttl = _float(env, "RESULT_TTL_SECONDS")
        if isinstance(ttl, int | float):
            ttl = dt.timedelta(seconds=ttl)
        values: dict[str, object] = {
            "url": url or env.get("CONVEYOR_URL") or None,
            "lease_seconds": lease,
            "heartbeat_seconds": heartbeat,
            "result_ttl": ttl,
            "concurrency": concurrency if concurrency is not None else _int(env, "CONCURRENCY"),
            "shutdown_timeout": (
                shutdown_timeout
                if shutdown_timeout is not None
                else _float(env, "SHUTDOWN_TIMEOUT")
            ),
        }
        return cls(**{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]  # values checked per field above


def _float(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(f"CONVEYOR_{name}")
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"CONVEYOR_{name} must be a number, got {raw!r}") from None


def _int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(f"CONVEYOR_{name}")
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"CONVEYOR_{name} must be an integer, got {raw!r}") from None
