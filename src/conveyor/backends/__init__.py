"""Open a store by URL: the scheme picks the backend, imported lazily.

``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (the embedded default),
``postgresql://...`` and ``redis://...`` (when their backends are installed).
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from conveyor.backends.base import Backend
from conveyor.errors import ConfigurationError, UnknownSchemeError

#: scheme -> (module, class). Server stores join here with their extras.
_SCHEMES: dict[str, tuple[str, str, str | None]] = {
    "sqlite": ("conveyor.backends.sqlite", "SQLiteBackend", None),
    "postgresql": ("conveyor.backends.postgres", "PostgresBackend", "postgres"),
    "postgres": ("conveyor.backends.postgres", "PostgresBackend", "postgres"),
    "redis": ("conveyor.backends.redis", "RedisBackend", "redis"),
    "rediss": ("conveyor.backends.redis", "RedisBackend", "redis"),
}


def check_url(url: str) -> str:
    """Return the scheme of ``url`` if a backend serves it; no I/O, no imports.

    Raises ``UnknownSchemeError`` naming the schemes that exist.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        known = ", ".join(f"{name}://" for name in sorted(_SCHEMES))
        shown = f"{scheme}://" if scheme else "(none)"
        raise UnknownSchemeError(
            f"Unknown store URL scheme {shown} in {url!r}; supported: {known} "
            "(e.g. sqlite:///conveyor.db)"
        )
    return scheme


def open_backend(url: str) -> Backend:
    """Build (not yet open) the backend for ``url``.

    Raises ``UnknownSchemeError`` for a scheme no backend serves, naming the ones that
    exist, and ``ConfigurationError`` for a malformed URL of a known scheme.
    """
    module_name, class_name, extra = _SCHEMES[check_url(url)]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra is None or exc.name == module_name:
            raise
        raise ConfigurationError(
            f"The store URL {url!r} needs the {exc.name} package: pip install 'conveyor[{extra}]'"
        ) from exc
    backend_class = getattr(module, class_name)
    backend: Backend = backend_class(url)
    return backend
