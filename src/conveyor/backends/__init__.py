"""Open a store by URL: the scheme picks the backend, imported lazily.

``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (the embedded default),
``postgresql://...`` and ``redis://...`` (when their backends are installed).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from conveyor.backends.base import Backend
from conveyor.errors import UnknownSchemeError

_SCHEMES = {
    "sqlite": ("conveyor.backends.sqlite", "SQLiteBackend", None),
}


def open_backend(url: str) -> Backend:
    """Build (not yet open) the backend for ``url``.

    Raises ``UnknownSchemeError`` for a scheme no backend serves, naming the ones that
    exist, and ``ConfigurationError`` if the backend's extra is not installed.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        known = ", ".join(f"{name}://" for name in sorted(_SCHEMES))
        raise UnknownSchemeError(
            f"Unknown store URL scheme {scheme + '://' if scheme else '(none)'} in {url!r}; "
            f"supported: {known}"
        )
    module_name, class_name, _extra = _SCHEMES[scheme]
    import importlib

    module = importlib.import_module(module_name)
    backend_class = getattr(module, class_name)
    backend: Backend = backend_class(url)
    return backend
