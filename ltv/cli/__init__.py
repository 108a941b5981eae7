"""The ``ltv`` command line.

Command modules live beside this one (one per command) and register themselves on the app.
Start-up is lazy: :func:`main` imports only the module of the command asked for (all of them
for ``ltv --help`` and shell completion), heavy imports (pyHanko, asn1crypto) happen inside the
command bodies, and ``pyhanko.sign``'s package ``__init__`` (the signing API, aiohttp) runs only
if a command needs it (``ltv._imports.defer_pyhanko_sign_init``). ``ltv.cli.app`` is the
whole app, built on first use (tests run it in-process).

Errors: every :class:`ltv.errors.LtvError` is caught here, in one place, and printed as one line
on stderr with its exit code; so are usage errors of the command line itself (unknown option,
missing argument, bad choice: ``ltv: error: ...``, exit 2). Anything else is a bug: it is
reported as one line too (set ``LTV_DEBUG=1`` for the traceback) with exit 70.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import typer
import typer.core

from ltv.errors import LtvError

if TYPE_CHECKING:
    from typer._click import Context

EXIT_INTERNAL = 70

_COMMAND_MODULES = ("audit", "inspect", "probe", "sign", "trust", "verify")

_MODULE_OF = {"extend": "sign"}
"""Commands registered by a module of another name (the rest: module name = command name)."""

_ROOT_HELP = "Long-term validation of signed PDFs with stapled evidence."


def _no_type(ctx: object) -> None:
    return None


def _constant(text: str) -> Callable[[], str]:
    return lambda: text


def _plain_metavars(params: list[Any]) -> list[Any]:
    """Help shows what to type, never Python type names (``<list[str]>``, ``<bool>``): flags
    show nothing, choices stay ``<a|b>``, arguments their name (``FILE.pdf...``), anything else
    its metavar or upper-cased name."""
    for param in params:
        if isinstance(param, typer.core.TyperArgument):
            if param.metavar is None:
                param.metavar = (param.name or "value").upper()
            shown = param.metavar + ("..." if param.nargs != 1 else "")
            # (instance attributes: typer shows an argument's Python type whatever its metavar)
            target: Any = param
            target.display_type_rich = _no_type
            target._usage_display_name = target._rich_display_name = _constant(shown)
            continue
        if getattr(param, "metavar", None) is not None:
            continue
        desc = getattr(param, "type_descriptor", None)
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif desc is not None and desc.is_choice:
            continue
        else:
            param.metavar = (param.name or "value").upper()
    return params


class LtvCommand(typer.core.TyperCommand):
    def get_params(self, ctx: Context) -> list[Any]:
        return _plain_metavars(super().get_params(ctx))


class LtvGroup(typer.core.TyperGroup):
    def get_params(self, ctx: Context) -> list[Any]:
        return _plain_metavars(super().get_params(ctx))


def _print_version(value: bool) -> None:
    if value:
        from ltv import __version__

        typer.echo(f"ltv {__version__}")
        raise typer.Exit(0)


def _root(
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_print_version,
        help="Print the version.",
        metavar="",
    ),
) -> None:
    """Long-term validation of signed PDFs with stapled evidence."""


def build_app(modules: Sequence[str] = _COMMAND_MODULES) -> typer.Typer:
    """The app with the commands of ``modules`` (all by default)."""
    app = typer.Typer(
        name="ltv",
        help=_ROOT_HELP,
        cls=LtvGroup,
        pretty_exceptions_show_locals=False,
        pretty_exceptions_enable=False,
        no_args_is_help=True,
        add_completion=True,
    )
    app.callback()(_root)
    for name in modules:
        importlib.import_module(f"ltv.cli.{name}").register(app)
    for info in app.registered_commands:
        if info.cls is None or info.cls is typer.core.TyperCommand:
            info.cls = LtvCommand
    return app


_APP: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """``ltv.cli.app``: the whole app, built once on first use."""
    global _APP
    if name == "app":
        if _APP is None:
            _APP = build_app()
        return _APP
    raise AttributeError(f"module 'ltv.cli' has no attribute {name!r}")


def _modules_for(argv: Sequence[str]) -> Sequence[str]:
    """Only the invoked command's module; all for root help, completion, anything unknown."""
    if any(key.startswith("_LTV_COMPLETE") for key in os.environ):
        return _COMMAND_MODULES
    for arg in argv:
        if arg.startswith("-"):
            return _COMMAND_MODULES  # root options (--help, --version, completion)
        module = _MODULE_OF.get(arg, arg)
        return (module,) if module in _COMMAND_MODULES else _COMMAND_MODULES
    return _COMMAND_MODULES


def fail(err: LtvError) -> typer.Exit:
    """Print an LtvError as one line and return the Exit to raise."""
    typer.echo(f"ltv: error: {err.diagnostics()}", err=True)
    return typer.Exit(err.exit_code)


def _usage_line(err: Any) -> str:
    """A command-line usage error as one line, with where to read more."""
    message = " ".join(str(err.format_message()).split())
    ctx = getattr(err, "ctx", None)
    path = ctx.command_path if ctx is not None else "ltv"
    return f"ltv: error: {message} (hint: see '{path} --help')"


def main() -> None:
    """Console-script entry point."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
    from typer.exceptions import Abort

    from ltv._imports import defer_pyhanko_sign_init

    defer_pyhanko_sign_init()
    argv = sys.argv[1:]
    try:
        app = build_app(_modules_for(argv))
        code = app(args=argv, prog_name="ltv", standalone_mode=False)
    except NoArgsIsHelpError as err:
        typer.echo(err.format_message(), err=True)
        sys.exit(2)
    except UsageError as err:
        typer.echo(_usage_line(err), err=True)
        sys.exit(2)
    except ClickException as err:  # e.g. a file option that cannot be opened
        typer.echo(f"ltv: error: {' '.join(str(err.format_message()).split())}", err=True)
        sys.exit(err.exit_code)
    except LtvError as err:
        typer.echo(f"ltv: error: {err.diagnostics()}", err=True)
        sys.exit(err.exit_code)
    except (KeyboardInterrupt, Abort):
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
    sys.exit(code if isinstance(code, int) else 0)
