"""What every command shares: the ``cli`` group, finding the app and the store,
running a coroutine with the store closed afterwards."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click

from conveyor.app import Conveyor

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="conveyor")
def cli() -> None:
    """conveyor: durable background jobs."""


def load_app(spec: str) -> Conveyor:
    """Import ``module:attribute`` (the attribute may be dotted) with the current
    directory on ``sys.path``, and check that it is a ``Conveyor``.

    Raises ``click.BadParameter`` naming what is wrong. Errors raised by the module's
    own code other than imports (a ``SyntaxError``, say) propagate: they are bugs to
    see in full.
    """
    target = load_object(spec)
    if not isinstance(target, Conveyor):
        raise _bad_app(f"{spec} is {type(target).__name__!r}, not a Conveyor app")
    return target


def load_object(spec: str) -> object:
    """Import ``module:attribute`` as ``load_app`` does, without checking its type."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise _bad_app(f"expected MODULE:ATTRIBUTE such as 'myproject.jobs:app', got {spec!r}")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        target: object = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and f"{module_name}.".startswith(f"{exc.name}."):
            raise _bad_app(f"no module named {exc.name!r} (looked in {cwd} and sys.path)") from None
        raise _bad_app(f"importing {module_name!r} failed: {exc}") from None
    except ImportError as exc:
        raise _bad_app(f"importing {module_name!r} failed: {exc}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise _bad_app(f"module {module_name!r} has no attribute {attribute!r}") from None
    return target


def _bad_app(message: str) -> click.BadParameter:
    return click.BadParameter(message, param_hint="'--app'")


def make_app(app_spec: str | None, url: str | None) -> Conveyor:
    """The ``--app``'s Conveyor (re-pointed at ``--url`` if given), or a bare one."""
    if app_spec is None:
        return Conveyor(url)
    app = load_app(app_spec)
    if url is not None:
        app.configure(url=url)
    return app


def run(app: Conveyor, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` in a fresh event loop and close the app's store afterwards."""

    async def run_and_close() -> T:
        try:
            return await work()
        finally:
            await app.close()

    return asyncio.run(run_and_close())


def store_options(*, app_required: bool) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        command = click.option(
            "--url",
            metavar="URL",
            help="Store URL; overrides the app's (default: $CONVEYOR_URL).",
        )(command)
        return click.option(
            "--app",
            "app_spec",
            metavar="MODULE:ATTR",
            envvar="CONVEYOR_APP",
            required=app_required,
            help="The Conveyor app to import, e.g. myproject.jobs:app (default: $CONVEYOR_APP).",
        )(command)

    return decorate


def redact(url: str) -> str:
    """``url`` with its password masked, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
