"""``ltv verify``: long-term validation of signed PDFs.

::

    ltv verify FILE.pdf... [--trust PEM|DIR]... [--tsa-trust PEM|DIR]... [--trust-store DIR]
               [--policy FILE.toml|PRESET]
               [--online never|fallback|always] [--at ISO-8601] [--format text|json]
               [--output FILE] [--connect-to HOST:PORT:ADDR:PORT]... [--timeout S]

Exit codes (DESIGN.md): 0 every signature TOTAL-PASSED · 1 any TOTAL-FAILED · 2 usage error
(bad options, bad policy, no/unusable trust anchors) · 3 INDETERMINATE and none failed ·
4 an input could not be evaluated (unreadable, not a PDF, no signature). With several files the
worst wins in the order 1 > 4 > 3 > 0. One bad file never aborts the run; ``--format json``
prints one object per line (JSON Lines). ``--online never`` (the default) opens no socket.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ltv.cli._common import (
    ConnectToOption,
    TimeoutOption,
    VerboseOption,
    configure_logging,
    parse_connect_to,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ltv.policy import ValidationPolicy
    from ltv.report import Report

_FORMATS = ("text", "json")
_ONLINE = ("never", "fallback", "always")


def register(app: typer.Typer) -> None:
    """Register ``verify`` on ``app``."""
    app.command(name="verify")(verify_command)


def parse_at(value: str) -> datetime:
    """ISO-8601 with an offset (or 'Z'); a naive time is refused rather than guessed."""
    from ltv.errors import UsageError

    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError as err:
        raise UsageError(
            f"--at {value!r}: not an ISO-8601 time", hint="e.g. 2026-01-01T00:00:00Z"
        ) from err
    if moment.tzinfo is None:
        raise UsageError(f"--at {value!r}: needs a UTC offset", hint="e.g. 2026-01-01T00:00:00Z")
    return moment.astimezone(UTC)


def _policy_from_option(value: str | None) -> ValidationPolicy:
    """``--policy``: a TOML file, or the name of a preset (``default``, ``strict``, ...)."""
    from pathlib import Path

    from ltv.errors import PolicyError
    from ltv.policy import PRESETS, ValidationPolicy, load_policy

    if value is None:
        return ValidationPolicy.preset("default")
    if not Path(value).exists():
        if value in PRESETS:
            return ValidationPolicy.preset(value)
        raise PolicyError(
            f"--policy {value!r}: no such file, nor a preset",
            hint=f"presets: {', '.join(sorted(PRESETS))}; or a TOML file (samples/policies/)",
        )
    return load_policy(value)


def exit_code(reports: list[Report]) -> int:
    """Worst first: any TOTAL-FAILED → 1; any unevaluable → 4; any INDETERMINATE → 3; else 0."""
    codes = {r.exit_code for r in reports}
    for code in (1, 4, 3):
        if code in codes:
            return code
    return 0


def verify_command(
    files: Annotated[list[str], typer.Argument(help="Signed PDF files to verify.")],
    trust: Annotated[
        list[str] | None,
        typer.Option("--trust", help="Trust anchor for signers (PEM/DER file or dir); repeatable."),
    ] = None,
    tsa_trust: Annotated[
        list[str] | None,
        typer.Option("--tsa-trust", help="Trust anchor for TSAs (default: the --trust anchors)."),
    ] = None,
    trust_store: Annotated[  # trustlists:
        str | None,
        typer.Option(
            "--trust-store",
            help="Trust store (ltv trust): EU trusted lists with their history, plain anchors.",
        ),
    ] = None,
    policy_file: Annotated[
        str | None, typer.Option("--policy", help="Policy TOML file, or a preset name.")
    ] = None,
    online: Annotated[
        str | None, typer.Option("--online", help="never (default) | fallback | always.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Validation time (ISO-8601) when no trusted timestamp exists."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text | json (JSON Lines).")] = "text",
    output: Annotated[str | None, typer.Option("--output", help="Write the report here.")] = None,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
    verbose: VerboseOption = False,
) -> None:
    """Validate signatures at their trusted time, on stapled evidence (offline by default)."""
    from ltv.errors import UsageError
    from ltv.policy import Online
    from ltv.trust import TrustStore

    configure_logging(verbose)
    trust = trust or []
    tsa_trust = tsa_trust or []
    connect_to = connect_to or []
    if fmt not in _FORMATS:
        raise UsageError(f"--format {fmt!r}: expected text or json")
    if online is not None and online not in _ONLINE:
        raise UsageError(f"--online {online!r}: expected never, fallback or always")
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    moment = parse_at(at) if at is not None else None
    policy = _policy_from_option(policy_file)
    if online is not None:
        policy = policy.replace(online=Online(online))
    policy = policy.with_trust(
        TrustStore.from_paths(trust) if trust else None,
        TrustStore.from_paths(tsa_trust) if tsa_trust else None,
    )
    if trust_store is not None:  # trustlists:
        from ltv.trustlists.store import TrustListStore

        policy = policy.replace(trust_store=TrustListStore.open(trust_store))
    out_path = None
    if output is not None:
        from ltv.output import check_output_path

        out_path = check_output_path(output, inputs=files, force=True)
        try:  # harden: a directory we cannot write to fails now, before any network request
            import tempfile

            with tempfile.TemporaryFile(dir=out_path.parent if str(out_path.parent) else "."):
                pass
        except OSError as err:
            from ltv.output import output_failed

            raise output_failed(repr(str(out_path)), err) from None

    from ltv.verify import Verifier

    verifier = Verifier(policy, connect_to=parse_connect_to(connect_to), timeout=timeout)
    reports: list[Report] = []
    for file in files:
        report = verifier.verify_file(file, at=moment)
        reports.append(report)
        if report.error and not report.signatures:
            typer.echo(f"ltv: {file}: {report.error}", err=True)

    try:  # harden: an output that cannot be written is one line naming it, exit 4
        _write_reports(reports, fmt, out_path)
    except OSError as err:
        from ltv.output import output_failed, silence_stdout

        if out_path is None:
            silence_stdout()
        raise output_failed(
            repr(str(out_path)) if out_path is not None else "the report to standard output", err
        ) from None
    raise typer.Exit(exit_code(reports))


def _write_reports(reports: list[Report], fmt: str, out_path: Path | None) -> None:
    """The reports as text or JSON Lines, to ``out_path`` (atomically) or standard output."""
    import sys

    if fmt == "json":
        from ltv.render import render_jsonl

        text = render_jsonl(reports)
        if out_path is not None:
            from ltv.output import write_atomic

            write_atomic(out_path, text.encode("utf-8"))
        else:
            from ltv.output import write_stdout

            write_stdout(text)
    else:
        from rich.console import Console

        from ltv.render import render_text

        if out_path is not None:
            import io

            buf = io.StringIO()
            console = Console(file=buf, width=100, no_color=True, highlight=False)
            for r in reports:
                console.print(render_text(r))
            from ltv.output import write_atomic

            write_atomic(out_path, buf.getvalue().encode("utf-8"))
        else:
            import io

            from ltv.output import write_stdout

            buf = io.StringIO()
            console = Console(
                file=buf,
                highlight=False,
                soft_wrap=True,
                force_terminal=sys.stdout.isatty(),
                width=_tty_width(),
            )
            for r in reports:
                console.print(render_text(r))
            write_stdout(buf.getvalue())  # a full disk or ulimit -f is an error, not truncation


def _tty_width() -> int | None:
    """The terminal's width when standard output is one (rich renders into a buffer first)."""
    import shutil
    import sys

    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None
