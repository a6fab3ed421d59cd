"""The ``conveyor`` command line: run workers, enqueue and inspect jobs, migrate the store.

Every command finds its store as the app does: ``--url`` if given, else the ``--app``'s
own settings, which read ``CONVEYOR_URL`` (default ``sqlite:///conveyor.db``).
``--app module:attribute`` (or ``CONVEYOR_APP``) imports a ``Conveyor`` object, with
the current directory on ``sys.path`` as uvicorn does; with ``--url`` too, the app's
job types run against that store.

This is a thin surface: it parses, calls the app and renders. User errors (any
``ConveyorError``, a malformed JSON argument, a bad ``--app``, a usage error) print
one line, ``error: ...``, on stderr and exit 1, or 2 for usage errors (click's
convention). Only a genuine bug shows a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import NoReturn

import click

from conveyor.cli import keys, serve, store_commands, worker  # noqa: F401 (importing registers the commands)
from conveyor.cli.common import cli, load_app
from conveyor.errors import ConveyorError

__all__ = ["cli", "load_app", "main"]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the command line (the ``conveyor`` script and ``python -m conveyor``)."""
    try:
        result = cli.main(args=argv, prog_name="conveyor", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # plain `conveyor`: the help text, not an error line
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _exit_with_error(_click_message(exc), exc.exit_code)
    except click.Abort:
        _exit_with_error("interrupted", 130)
    except ConveyorError as exc:
        _exit_with_error(str(exc), 1)
    except ExceptionGroup as group:
        # A worker's TaskGroup wraps a store failure; show it like any other user error.
        errors, rest = group.split(ConveyorError)
        if errors is None or rest is not None:
            raise
        _exit_with_error("; ".join(str(e) for e in _leaves(errors)), 1)
    sys.exit(result if isinstance(result, int) else 0)


def _exit_with_error(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _click_message(exc: click.ClickException) -> str:
    message = exc.format_message()
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return message


def _leaves(group: BaseExceptionGroup[ConveyorError]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc
