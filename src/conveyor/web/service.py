"""``Service``: what every route of one mounted API shares (the conveyor app, the web
settings), and the two guards every store call goes through:

- ``call(awaitable)`` bounds a store call by ``store_timeout``: a store that does not
  answer in time, or cannot be reached, answers 503 with ``Retry-After`` instead of
  holding the request (a timed-out write may still complete in the store later, which
  is why clients retry submissions with an ``Idempotency-Key``);
- ``principal(request)`` authenticates ``Authorization: Bearer KEY``.

There are no module globals: two APIs in one process (two apps, two stores) each have
their own ``Service``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from conveyor.app import Conveyor
from conveyor.backends.base import Backend
from conveyor.errors import StoreError
from conveyor.models import ApiKey
from conveyor.web.auth import ANONYMOUS_ADMIN, Principal, hash_key, principal_of
from conveyor.web.problems import Problem, unavailable
from conveyor.web.settings import WebSettings

T = TypeVar("T")

bearer = HTTPBearer(auto_error=False, description="An API key: `conveyor keys create`.")


class Service:
    """The shared state of one mounted API (see the module docstring)."""

    def __init__(self, app: Conveyor, settings: WebSettings) -> None:
        self.app = app
        self.settings = settings

    async def call(self, work: Awaitable[T]) -> T:
        """Await a store call under ``store_timeout``; a timeout or ``StoreError``
        becomes a 503 problem. Other errors pass through for the route's mapping."""
        try:
            async with asyncio.timeout(self.settings.store_timeout):
                return await work
        except TimeoutError:
            raise unavailable(
                f"The store did not answer within {self.settings.store_timeout:g} s.",
                self.settings.retry_after,
            ) from None
        except StoreError as exc:
            raise unavailable(str(exc), self.settings.retry_after) from None

    def dependency(self) -> Callable[..., Awaitable[Principal]]:
        """A FastAPI dependency resolving the request's ``Principal`` (401 if the key
        is missing, malformed, unknown or revoked)."""

        async def principal(
            credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008 (FastAPI's dependency idiom)
        ) -> Principal:
            if not self.settings.auth:
                return ANONYMOUS_ADMIN
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise _unauthorized("Send an API key as 'Authorization: Bearer KEY'.")
            key = await self.call(self._find(credentials.credentials))
            if key is None:
                raise _unauthorized("The API key is unknown or was revoked.")
            if not key.admin and key.tenant is None:
                # A tenant filter of None means "every tenant" to the store: such a key
                # would see everything. `keys create` never makes one; refuse it anyway.
                raise _unauthorized("The API key has no tenant and is not an admin key.")
            return principal_of(key)

        return principal

    async def backend(self) -> Backend:
        """The app's store, opened on first use (so a store that was down when the
        service started is picked up once it is back)."""
        await self.app.open()
        return self.app.backend

    async def _find(self, secret: str) -> ApiKey | None:
        return await (await self.backend()).find_api_key(hash_key(secret))


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
