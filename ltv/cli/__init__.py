"""The ``ltv`` command line.

Command modules live beside this one (one per command) and register themselves
on :data:`app`. Heavy imports (pyHanko, asn1crypto) happen inside the command
bodies so that ``ltv --help`` stays fast.

Errors: every :class:`ltv.errors.LtvError` is caught here, in one place, and
printed as one line on stderr with its exit code. Anything else is a bug: it is
reported as one line too (set ``LTV_DEBUG=1`` for the traceback) with exit 70.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from ltv.errors import LtvError

app = typer.Typer(
    name="ltv",
    help="Long-term validation of signed PDFs with stapled evidence.",
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)

EXIT_INTERNAL = 70

_COMMAND_MODULES = ("inspect", "probe", "sign", "trust", "verify")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"ltv.cli.{_name}").register(app)


def _print_version(value: bool) -> None:
    if value:
        from ltv import __version__

        typer.echo(f"ltv {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version."
    ),
) -> None:
    """Long-term validation of signed PDFs with stapled evidence."""


def fail(err: LtvError) -> typer.Exit:
    """Print an LtvError as one line and return the Exit to raise."""
    typer.echo(f"ltv: error: {err.diagnostics()}", err=True)
    return typer.Exit(err.exit_code)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except LtvError as err:
        typer.echo(f"ltv: error: {err.diagnostics()}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("ltv: interrupted", err=True)
        sys.exit(130)
    except Exception as err:
        if os.environ.get("LTV_DEBUG"):
            raise
        msg = " ".join(str(err).split()) or "no message"
        typer.echo(
            f"ltv: internal error: {type(err).__name__}: {msg} (set LTV_DEBUG=1 for a traceback)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
