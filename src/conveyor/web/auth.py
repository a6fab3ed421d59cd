"""API keys and who is asking.

A key is ``cvk_`` followed by 256 random bits (URL-safe base64). It is shown once, when
created; the store keeps only its SHA-256 (hex), so a leaked database does not leak
keys, and lookup is one indexed read of the hash. A request's ``Principal`` says which
tenant it acts for and whether it is an admin (sees every tenant).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import uuid_utils

from conveyor.backends.base import NewApiKey
from conveyor.models import ApiKey, Job

KEY_PREFIX = "cvk_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for. ``tenant`` stamps the jobs it submits; a non-admin sees
    and changes only jobs of its tenant."""

    tenant: str | None
    admin: bool
    key_id: str | None = None

    def can_see(self, job: Job) -> bool:
        """Whether this principal may see (and act on) ``job``."""
        return self.admin or job.tenant == self.tenant


#: The principal of every request when authentication is off (local development).
ANONYMOUS_ADMIN = Principal(tenant=None, admin=True)


def hash_key(secret: str) -> str:
    """The hex SHA-256 of a key, as stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: ``secret`` is shown to the user once and never stored."""

    secret: str
    record: NewApiKey


def issue_key(*, tenant: str | None, admin: bool = False, name: str | None = None) -> IssuedKey:
    """Make a key for ``tenant``. Raises ``ValueError`` for a non-admin key without a
    tenant (it could see nothing and would stamp no tenant on its jobs)."""
    if not admin and not tenant:
        raise ValueError("a non-admin key needs a tenant (--tenant NAME), or make it --admin")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)  # 32 bytes = 256 bits
    record = NewApiKey(
        id=f"key_{uuid_utils.uuid7().hex[-12:]}",
        key_hash=hash_key(secret),
        tenant=tenant or None,
        admin=admin,
        name=name,
    )
    return IssuedKey(secret=secret, record=record)


def principal_of(key: ApiKey) -> Principal:
    """The principal a stored (active) key authenticates."""
    return Principal(tenant=key.tenant, admin=key.admin, key_id=key.id)
