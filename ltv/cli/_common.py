"""What every command shares: logging policy and the ``--connect-to`` option.

Kept free of heavy imports: the CLI imports this at start-up.
"""

from __future__ import annotations

import enum
import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ltv.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from ltv.policy import ValidationPolicy

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
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Seconds per network request (connect to last byte).",
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose", help="Show library log records (with tracebacks) on stderr.", metavar=""
    ),
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


# -- what verify and audit share (batch: options, policy, times, choices) -----------------------


class Format(enum.StrEnum):
    """``--format``: human text, or JSON (one object per file: JSON Lines)."""

    text = "text"
    json = "json"


class OnlineMode(enum.StrEnum):
    """``--online``: when to fetch revocation evidence (``never`` opens no socket)."""

    never = "never"
    fallback = "fallback"
    always = "always"


PRESET_NAMES = ("default", "fallback", "online", "strict")
"""The policy presets (``ltv.policy.PRESETS``; kept here so that help needs no import)."""

TrustOption = Annotated[
    list[str] | None,
    typer.Option(
        "--trust",
        metavar="PEM|DIR",
        help="Trust anchor for signers (PEM/DER file or a directory of them); repeatable.",
    ),
]
TsaTrustOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tsa-trust",
        metavar="PEM|DIR",
        help="Trust anchor for TSAs; repeatable (default: the --trust anchors).",
    ),
]
TrustStoreOption = Annotated[
    str | None,
    typer.Option(
        "--trust-store",
        metavar="DIR",
        help="Trust store (ltv trust): EU trusted lists with their history, plain anchors.",
    ),
]
PolicyOption = Annotated[
    str | None,
    typer.Option(
        "--policy",
        metavar="FILE.toml|PRESET",
        help="Policy TOML file, or a preset: " + ", ".join(PRESET_NAMES) + " (default: default).",
    ),
]
OnlineOption = Annotated[
    OnlineMode | None,
    typer.Option(
        "--online",
        help="Fetch revocation evidence online: never (default: no socket), fallback (when the "
        "file's evidence does not settle it), always.",
        show_default=False,
    ),
]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="ISO-8601",
        help="Validation time for signatures without a trusted timestamp (default: --as-of).",
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="ISO-8601",
        help="Judge as if now were this time: the moment the outermost timestamps and the "
        "evidence are judged at (default: now). 'What will still pass in 2030?'",
    ),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace an existing output file.", metavar="")
]


def parse_time(option: str, value: str) -> datetime:
    """ISO 8601 with an offset (or 'Z'), as UTC; a naive time is refused rather than guessed."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise UsageError(
            f"{option} {value!r}: not an ISO-8601 time", hint="e.g. 2026-01-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise UsageError(
            f"{option} {value!r}: needs a UTC offset", hint="e.g. 2026-01-01T00:00:00Z"
        )
    return moment.astimezone(UTC)


def build_policy(
    policy: str | None,
    online: OnlineMode | None,
    trust: list[str] | None,
    tsa_trust: list[str] | None,
    trust_store: str | None = None,
) -> ValidationPolicy:
    """``--policy`` (a TOML file or a preset), ``--online``, ``--trust``, ``--tsa-trust``,
    ``--trust-store`` (EU trusted lists with their history: ``ltv trust``)."""
    from pathlib import Path

    from ltv.errors import PolicyError
    from ltv.policy import PRESETS, Online, ValidationPolicy, load_policy
    from ltv.trust import TrustStore

    if policy is None:
        chosen = ValidationPolicy.preset("default")
    elif Path(policy).exists():
        chosen = load_policy(policy)
    elif policy in PRESETS:
        chosen = ValidationPolicy.preset(policy)
    else:
        raise PolicyError(
            f"--policy {policy!r}: no such file, nor a preset",
            hint=f"presets: {', '.join(sorted(PRESETS))}; or a TOML file (samples/policies/)",
        )
    if online is not None:
        chosen = chosen.replace(online=Online(online.value))
    chosen = chosen.with_trust(
        TrustStore.from_paths(trust) if trust else None,
        TrustStore.from_paths(tsa_trust) if tsa_trust else None,
    )
    if trust_store is not None:
        from ltv.trustlists.store import TrustListStore

        chosen = chosen.replace(trust_store=TrustListStore.open(trust_store))
    return chosen


def check_timeout(timeout: float) -> None:
    if timeout <= 0:
        raise UsageError("--timeout must be positive")


def stdout_is_terminal() -> bool:
    import sys

    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def stderr_is_terminal() -> bool:
    import sys

    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def console(*, stderr: bool = False) -> Console:
    """A rich console for text output: the terminal's width on a terminal; never wrapped when
    piped or redirected (one logical line stays one line, whatever its length)."""
    from rich.console import Console

    tty = stderr_is_terminal() if stderr else stdout_is_terminal()
    if tty:
        return Console(stderr=stderr, highlight=False, soft_wrap=True)
    return Console(
        stderr=stderr, highlight=False, soft_wrap=True, width=100_000, no_color=True, emoji=False
    )
