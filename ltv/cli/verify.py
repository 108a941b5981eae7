"""``ltv verify``: long-term validation of signed PDFs.

::

    ltv verify FILE.pdf... [--trust PEM|DIR]... [--tsa-trust PEM|DIR]... [--policy FILE.toml|PRESET]
               [--online never|fallback|always] [--at ISO-8601] [--as-of ISO-8601]
               [--format text|json] [--output FILE [--force]]
               [--connect-to HOST:PORT:ADDR:PORT]... [--timeout S]

Exit codes (DESIGN.md): 0 every signature TOTAL-PASSED · 1 any TOTAL-FAILED · 2 usage error
(bad options, bad policy, no/unusable trust anchors, a missing or unreadable FILE, a directory)
· 3 INDETERMINATE and none failed · 4 an input could not be evaluated (not a PDF, no signature).
With several files the worst wins in the order 1 > 4 > 3 > 0; 130 when interrupted.

Many files, as people expect: every report is written as soon as its file is done (text, or one
JSON object per line); a totals line follows (text: on stdout; JSON: on stderr); a progress bar
shows on a terminal for more than a few files; Ctrl-C keeps what is done (``--output``: the
reports finished so far, written atomically) and says so. ``--online never`` (the default)
opens no socket.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from ltv.cli._common import (
    AsOfOption,
    AtOption,
    ConnectToOption,
    ForceOption,
    Format,
    OnlineOption,
    PolicyOption,
    TimeoutOption,
    TrustOption,
    TrustStoreOption,
    TsaTrustOption,
    VerboseOption,
    build_policy,
    check_timeout,
    configure_logging,
    parse_connect_to,
    parse_time,
)

if TYPE_CHECKING:
    from datetime import datetime

    from ltv.errors import LtvError
    from ltv.report import Report

PROGRESS_AFTER = 3
"""A progress bar shows on a terminal for more files than this."""


def register(app: typer.Typer) -> None:
    """Register ``verify`` on ``app``."""
    app.command(name="verify")(verify_command)


def parse_at(value: str) -> datetime:
    """``--at``: ISO 8601 with an offset (or 'Z'); a naive time is refused rather than guessed."""
    return parse_time("--at", value)


def exit_code(reports: Sequence[Report]) -> int:
    """Worst first: any TOTAL-FAILED → 1; any unevaluable → 4; any INDETERMINATE → 3; else 0."""
    return worst({r.exit_code for r in reports})


def worst(codes: set[int] | Counter[int]) -> int:
    for code in (1, 4, 3):
        if code in codes:
            return code
    return 0


def check_inputs(files: Sequence[str]) -> None:
    """Every FILE must be a readable file: a usage error naming the first that is not (exit 2),
    before any work is done."""
    from ltv.errors import UsageError

    for name in files:
        try:
            info = os.stat(name)
        except FileNotFoundError:
            raise UsageError(f"{name}: no such file") from None
        except OSError as err:
            raise UsageError(f"{name}: cannot read ({err.strerror or err})") from None
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(
                f"{name} is a directory",
                hint=f"name the PDF files, or audit the tree: ltv audit {name} --db audit.sqlite",
            )
        if not os.access(name, os.R_OK):
            raise UsageError(f"{name}: not readable (permission denied)")


class _Output:
    """Where reports go: standard output, or ``--output`` written to a temporary file beside
    it and renamed over it at the end (atomically; on Ctrl-C with what is done)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._tmp: IO[str] | None = None
        if path is not None:  # made before any file is verified: a directory we cannot write
            directory = path.parent if str(path.parent) else Path()  # to fails now
            try:
                fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
            except OSError as err:
                raise self._failed(err) from None
            self._tmp = os.fdopen(fd, "w", encoding="utf-8")
            self._tmp_name = name

    def _failed(self, err: OSError) -> LtvError:
        """A full disk, ``ulimit -f``, a read-only directory: one line naming the output, exit 4
        (never a traceback, never silently truncated output)."""
        from ltv.output import output_failed, silence_stdout

        if self.path is None:
            silence_stdout()
            return output_failed("the reports to standard output", err)
        return output_failed(repr(str(self.path)), err)

    def write(self, text: str) -> None:
        try:
            if self._tmp is None:
                from ltv.output import write_stdout

                write_stdout(text)  # every byte out, or the OSError it is
            else:
                self._tmp.write(text)
                self._tmp.flush()
        except OSError as err:
            self.abort()
            raise self._failed(err) from None

    def commit(self) -> None:
        if self._tmp is None or self.path is None:
            return
        try:
            self._tmp.flush()
            os.fsync(self._tmp.fileno())
            self._tmp.close()
            os.chmod(self._tmp_name, 0o644)
            os.replace(self._tmp_name, self.path)
        except OSError as err:
            self.abort()
            raise self._failed(err) from None
        self._tmp = None

    def abort(self) -> None:
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.close()
            with contextlib.suppress(OSError):
                os.unlink(self._tmp_name)
            self._tmp = None


def totals_line(counts: Counter[str], files: int, ltv: Counter[str], code: int) -> str:
    from ltv.report import Indication

    parts = [f"{counts[i.value]} {i.value}" for i in Indication if counts[i.value]]
    enabled = ""
    if sum(ltv.values()):
        enabled = f"; LTV enabled: {ltv['yes']} of {sum(ltv.values())} signature(s)"
    return f"totals: {files} file(s): {', '.join(parts) or 'none'}{enabled} (exit {code})"


@contextlib.contextmanager
def _progress(total: int, enabled: bool) -> Iterator[tuple[object | None, object | None]]:
    """(rich Progress, task) on stderr when enabled, else (None, None)."""
    if not enabled:
        yield None, None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from ltv.cli._common import console

    progress = Progress(
        TextColumn("verify"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with progress:
        task = progress.add_task("verify", total=total, rate="")
        yield progress, task


def verify_command(
    files: Annotated[
        list[str], typer.Argument(help="Signed PDF files to verify.", metavar="FILE.pdf")
    ],
    trust: TrustOption = None,
    tsa_trust: TsaTrustOption = None,
    trust_store: TrustStoreOption = None,
    policy_file: PolicyOption = None,
    online: OnlineOption = None,
    at: AtOption = None,
    as_of: AsOfOption = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="text, or json (one object per file per line).")
    ] = Format.text,
    output: Annotated[
        str | None,
        typer.Option("--output", metavar="FILE", help="Write the reports to FILE (atomically)."),
    ] = None,
    force: ForceOption = False,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
    verbose: VerboseOption = False,
) -> None:
    """Validate signatures at their trusted time, on stapled evidence (offline by default)."""
    import time

    configure_logging(verbose)
    check_timeout(timeout)
    check_inputs(files)
    moment = parse_at(at) if at is not None else None
    now = parse_time("--as-of", as_of) if as_of is not None else None
    policy = build_policy(policy_file, online, trust, tsa_trust, trust_store)
    out_path = None
    if output is not None:
        from ltv.output import check_output_path

        out_path = check_output_path(output, inputs=files, force=force)

    from ltv.audit import speedups
    from ltv.cli._common import console, stderr_is_terminal, stdout_is_terminal
    from ltv.verify import Verifier

    speedups.install()  # pyHanko's hex-string reader, equivalent and faster (as in audit)

    verifier = Verifier(policy, connect_to=parse_connect_to(connect_to or []), timeout=timeout)
    out = _Output(out_path)
    counts: Counter[str] = Counter()
    ltv_enabled: Counter[str] = Counter()
    codes: Counter[int] = Counter()
    done = 0
    json_mode = fmt is Format.json
    show_progress = len(files) > PROGRESS_AFTER and stderr_is_terminal()
    started = time.monotonic()
    restore_sigint = _own_sigint()
    try:
        with _progress(len(files), show_progress) as (progress, task):
            # on a terminal, reports are printed above the bar (same screen, no garbling)
            text_console = None  # a terminal gets rich text; a file or a pipe plain lines
            if not json_mode and out_path is None and stdout_is_terminal():
                if progress is not None:
                    text_console = progress.console  # type: ignore[attr-defined]
                else:
                    text_console = console()
            for file in files:
                report = verifier.verify(file, at=moment, now=now)
                done += 1
                counts[report.indication.value] += 1
                codes[report.exit_code] += 1
                for s in report.signatures:
                    if s.kind == "signature":
                        ltv_enabled[{True: "yes", False: "no", None: "unknown"}[s.ltv_enabled]] += 1
                if json_mode:
                    from ltv.render import render_json

                    line = render_json(report) + "\n"
                    if progress is not None and out_path is None and stdout_is_terminal():
                        progress.console.print(  # type: ignore[attr-defined]
                            line, end="", markup=False, highlight=False, soft_wrap=True
                        )
                    else:
                        out.write(line)
                elif text_console is not None:
                    from ltv.render import render_text

                    text_console.print(render_text(report))
                else:
                    from ltv.render import render_plain

                    out.write(render_plain(report) + "\n")
                if report.error and not report.signatures:
                    message = f"ltv: {file}: {report.error}"
                    if progress is not None:
                        progress.console.print(message, markup=False, highlight=False)  # type: ignore[attr-defined]
                    else:
                        typer.echo(message, err=True)
                if progress is not None:
                    rate = done / max(time.monotonic() - started, 1e-6)
                    progress.update(task, advance=1, rate=f"{rate:.1f} files/s")  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        out.commit()  # what is done is kept
        where = f" (in {out_path})" if out_path is not None else ""
        _totals(counts, done, ltv_enabled, 130, json_mode or out_path is not None)
        typer.echo(
            f"ltv: interrupted after {done} of {len(files)} file(s); their reports are kept{where}",
            err=True,
        )
        raise typer.Exit(130) from None
    except BaseException:
        out.abort()
        raise
    finally:
        restore_sigint()
    out.commit()
    code = worst(codes)
    if len(files) > 1:
        _totals(counts, done, ltv_enabled, code, json_mode or out_path is not None)
    raise typer.Exit(code)


def _own_sigint() -> Callable[[], None]:
    """Ctrl-C raises KeyboardInterrupt wherever the main thread is, as Python's default handler
    does — installed as ltv's own so that ``asyncio.run`` (each file's verification) leaves it
    alone: asyncio turns an interrupt into a cancellation of its task, and a cancellation that
    lands while the file is still being opened (a FIFO, a slow mount) could be lost, the file
    then verified and the batch going on. Returns what restores the previous handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)

    return restore


def _totals(
    counts: Counter[str], files: int, ltv_enabled: Counter[str], code: int, to_stderr: bool
) -> None:
    line = totals_line(counts, files, ltv_enabled, code)
    if to_stderr:
        typer.echo(f"ltv: {line}", err=True)
    else:
        typer.echo(line)
