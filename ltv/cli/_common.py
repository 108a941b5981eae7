"""What every command shares: logging policy and the ``--connect-to`` option.

Kept free of heavy imports: the CLI imports this at start-up.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

import typer

from ltv.errors import UsageError

LIBRARY_LOGGERS = ("pyhanko", "pyhanko_certvalidator", "asyncio", "aiohttp", "ltv")
"""Loggers whose records a command keeps off stderr unless ``--verbose``."""

ConnectToOption = Annotated[
    list[str] | None,
    typer.Option(
        "--connect-to",
        metavar="HOST:PORT:ADDR:PORT",
        help="Connect to ADDR:PORT for URLs on HOST:PORT (curl's --connect-to); repeatable.",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds per network request (connect to last byte).")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", help="Show library log records (with tracebacks) on stderr.")
]

_CONNECT_TO = re.compile(r"^(\[[^\]]+\]|[^:\[\]]+):(\d+):(\[[^\]]+\]|[^:\[\]]+):(\d+)$")


class _VerboseHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler ``--verbose`` installs (a class of its own, so it can be removed)."""


def configure_logging(verbose: bool) -> None:
    """The CLI owns logging; idempotent, so in-process callers may run commands repeatedly.

    Quiet (default): a ``NullHandler`` on each of :data:`LIBRARY_LOGGERS`. Python writes a
    record to stderr by itself only through its last-resort handler, i.e. when no handler is
    found on the logger's way to the root; the ``NullHandler`` is such a handler, so nothing
    (tracebacks included — pyHanko logs the failures it hands back with ``exc_info=True``)
    reaches stderr, while records still propagate to any handler a host application configured.
    ``--verbose``: records at INFO and above go to stderr as ``ltv: log: NAME: LEVEL: message``,
    tracebacks included.
    """
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, _VerboseHandler)]:
            logger.removeHandler(handler)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.INFO if verbose else logging.NOTSET)
    if verbose:
        verbose_handler = _VerboseHandler()
        verbose_handler.setFormatter(
            logging.Formatter("ltv: log: %(name)s: %(levelname)s: %(message)s")
        )
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).addHandler(verbose_handler)


def parse_connect_to(values: list[str]) -> dict[str, tuple[str, int]]:
    """curl's ``--connect-to HOST:PORT:ADDR:PORT`` → the HttpClient ``connect_to`` map."""
    out: dict[str, tuple[str, int]] = {}
    for value in values:
        m = _CONNECT_TO.match(value.strip())
        if m is None:
            raise UsageError(
                f"--connect-to {value!r}: expected HOST:PORT:ADDRESS:PORT",
                hint="e.g. --connect-to pki.ltv.test:80:127.0.0.1:8080",
            )
        host, port, addr, aport = m.groups()
        out[f"{host.strip('[]').lower()}:{int(port)}"] = (addr.strip("[]"), int(aport))
    return out
