"""``ltv audit``: re-validate whole archives, resumable, stored in SQLite.

::

    ltv audit PATH... --db FILE.sqlite [--jobs N] [--html FILE] [--json FILE] [--force]
              [--as-of ISO-8601] [--dask ADDRESS] [--reexamine] [--new-run]
              [--trust PEM|DIR]... [--tsa-trust PEM|DIR]... [--policy FILE.toml|PRESET]
              [--online never|fallback|always] [--at ISO-8601]
              [--connect-to HOST:PORT:ADDR:PORT]... [--timeout S] [--verbose]

PATH: PDF files, directories (recursive), zip archives (read in place), or ``-`` for a list on
stdin. What a file *is* is stored once per content hash and re-used by later runs (a re-run at
another ``--as-of`` or under another policy parses nothing again); what it is *worth* is stored
per run. The same command resumes a run that was interrupted or killed. Exit code: the worst
verdict, as for ``verify`` (0 · 1 failed · 3 indeterminate · 4 not evaluable; 2 usage; 130
interrupted). Schema of the store: ``docs/audit-store.md``; of ``--json``:
``schemas/audit.schema.json``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ltv.cli._common import (
    AsOfOption,
    AtOption,
    ConnectToOption,
    ForceOption,
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
    from pathlib import Path

    from ltv.policy import ValidationPolicy

PLAIN_PROGRESS_EVERY = 5.0
"""Seconds between progress lines when stderr is not a terminal (CI, logs)."""


def register(app: typer.Typer) -> None:
    """Register ``audit`` on ``app``."""
    app.command(name="audit")(audit_command)


def _policy_config(policy: ValidationPolicy) -> dict[str, Any]:
    """What identifies a policy for resuming: every field (anchors by SHA-256)."""
    import dataclasses

    out: dict[str, Any] = {}
    for f in dataclasses.fields(policy):
        if f.name in ("trust", "tsa_trust"):
            continue
        out[f.name] = repr(getattr(policy, f.name))
    out["signer_anchors"] = sorted(policy.signer_anchors.fingerprints())
    out["tsa_anchors"] = sorted(policy.tsa_anchors.fingerprints())
    return out


def _fingerprint(config: dict[str, Any]) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


class _Progress:
    """A rich bar with rate and ETA on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, *, terminal: bool) -> None:
        self.terminal = terminal
        self.started = time.monotonic()
        self.last_line = 0.0
        self.first: int | None = None
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        if self.terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            from ltv.cli._common import console

            self.bar = Progress(
                TextColumn("audit"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console(stderr=True),
                transient=True,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = done  # files already done (a resumed run) do not count in the rate
        elapsed = max(now - self.started, 1e-6)
        rate = (done - self.first) / elapsed
        if self.bar is not None:
            if self.task is None:
                self.task = self.bar.add_task("audit", total=total, completed=done, rate="")
            self.bar.update(self.task, completed=done, rate=f"{rate:.1f} files/s")
            return
        if done < total and now - self.last_line < PLAIN_PROGRESS_EVERY:
            return
        self.last_line = now
        left = total - done
        eta = f", ETA {left / rate:.0f} s" if rate > 0 and left else ""
        typer.echo(f"ltv: audit: {done}/{total} files, {rate:.1f} files/s{eta}", err=True)


def _read_inputs(paths: list[str]) -> list[str]:
    from ltv.audit.walk import read_list
    from ltv.errors import UsageError

    out: list[str] = []
    for path in paths:
        if path == "-":
            if sys.stdin is None or sys.stdin.isatty():
                raise UsageError("PATH '-': give the list of paths on stdin (one per line)")
            out.extend(read_list(sys.stdin))
        else:
            out.append(path)
    if not out:
        raise UsageError("nothing to audit: the list on stdin is empty")
    return out


def _write(path: Path, data: str) -> None:
    from ltv.output import write_atomic

    write_atomic(path, data.encode("utf-8"))


def audit_command(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="PDF files, directories (recursive), zip archives, or - (a list on stdin).",
            metavar="PATH",
        ),
    ],
    db: Annotated[
        str,
        typer.Option(
            "--db",
            metavar="FILE.sqlite",
            help="The audit store (created if missing).",
            show_default=False,
        ),
    ],
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", metavar="N", help="Worker processes (default: the CPU count)."),
    ] = None,
    html: Annotated[
        str | None,
        typer.Option(
            "--html", metavar="FILE", help="Write the summary as one self-contained page."
        ),
    ] = None,
    json_out: Annotated[
        str | None,
        typer.Option(
            "--json", metavar="FILE", help="Write the summary as JSON (schemas/audit.schema.json)."
        ),
    ] = None,
    force: ForceOption = False,
    as_of: AsOfOption = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            metavar="ADDRESS",
            help="Run the work on a Dask cluster (e.g. tcp://scheduler:8786); results come back "
            "to --db.",
        ),
    ] = None,
    reexamine: Annotated[
        bool,
        typer.Option(
            "--reexamine",
            metavar="",
            help="Parse every file again instead of re-using the facts stored for its content.",
        ),
    ] = False,
    new_run: Annotated[
        bool,
        typer.Option(
            "--new-run",
            metavar="",
            help="Start a new run even if an unfinished one with the same settings can resume.",
        ),
    ] = False,
    trust: TrustOption = None,
    tsa_trust: TsaTrustOption = None,
    trust_store: TrustStoreOption = None,
    policy_file: PolicyOption = None,
    online: OnlineOption = None,
    at: AtOption = None,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
    verbose: VerboseOption = False,
) -> None:
    """Re-validate whole archives: resumable, stored in SQLite, incremental on re-runs."""
    from ltv.errors import UsageError

    configure_logging(verbose)
    check_timeout(timeout)
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs must be at least 1")
    workers = jobs or os.cpu_count() or 1
    moment = parse_time("--at", at) if at is not None else None
    now_given = parse_time("--as-of", as_of) if as_of is not None else None
    inputs = _read_inputs(paths)
    from ltv.audit.runner import start_workers

    # The worker processes start (and import what they need) while this one walks the
    # archive and opens the store; run_audit closes them, and so does a run that never starts.
    pool = start_workers(workers) if not dask and workers > 1 else None
    try:
        from ltv.audit.walk import list_inputs

        listing = list_inputs(inputs)  # a missing/unreadable PATH: usage error, exit 2
        if not listing.entries:
            raise UsageError(
                f"nothing to audit: no PDF file or zip archive in {', '.join(inputs)}",
                hint="audit files named *.pdf, directories holding them, or zip archives",
            )
        policy = build_policy(policy_file, online, trust, tsa_trust, trust_store)
        _ = policy.signer_anchors  # no trust: exit 2 now, not after the walk

        from ltv.output import check_output_path, same_file

        outputs = {}
        for option, value in (("--html", html), ("--json", json_out)):
            if value is not None:
                if same_file(value, db):
                    raise UsageError(f"{option} {value!r} is the --db file")
                outputs[option] = check_output_path(value, inputs=inputs, force=force)

        from ltv import __version__
        from ltv.audit.store import AuditStore
        from ltv.report import rfc3339
        from ltv.verify import utc_now

        config = {
            "inputs": [os.path.abspath(p) for p in inputs],
            "policy": _policy_config(policy),
            "as_of": rfc3339(now_given),
            "at": rfc3339(moment),
        }
        config_sha = _fingerprint(config)
        with AuditStore(db) as store:
            run = None if new_run else store.resumable(config_sha)
            if run is not None:
                now: datetime = parse_time("stored as-of", run.as_of)
                done = len(store.done_paths(run.id))
                typer.echo(
                    f"ltv: resuming run {run.id} of {db} ({done} of {len(listing.entries)} files "
                    f"done, judged as of {run.as_of})",
                    err=True,
                )
            else:
                now = now_given or utc_now()
                run = store.begin_run(
                    as_of=rfc3339(now) or "",
                    at=rfc3339(moment),
                    policy=policy.name,
                    online=str(policy.online),
                    config_sha256=config_sha,
                    config=config,
                    ltv_version=__version__,
                )
            from ltv.audit.runner import AuditConfig, Interrupted, run_audit
            from ltv.audit.store import producer
            from ltv.cli._common import stderr_is_terminal

            audit_config = AuditConfig(
                policy=policy,
                now=now,
                at=moment,
                connect_to=parse_connect_to(connect_to or []),
                timeout=timeout,
                # workers of this machine read what earlier runs checked; Dask ones cannot
                store=None if (dask or reexamine) else str(os.path.abspath(db)),
                made_by=producer(),
            )
            try:
                with _Progress(terminal=stderr_is_terminal()) as progress:
                    result = run_audit(
                        listing.entries,
                        store,
                        run,
                        audit_config,
                        jobs=workers,
                        dask=dask,
                        progress=progress,
                        reexamine=reexamine,
                        extra_stats={"skipped": listing.skipped, "problems": listing.problems},
                        workers=pool,
                    )
            except Interrupted as stop:
                typer.echo(
                    f"ltv: interrupted: {stop.done} of {stop.total} files committed in run "
                    f"{stop.run.id} of {db}; to resume, run the same ltv audit command again",
                    err=True,
                )
                raise typer.Exit(130) from None
            except KeyboardInterrupt:
                typer.echo(
                    f"ltv: interrupted: the files committed so far are in run {run.id} of {db}; "
                    "to resume, run the same ltv audit command again",
                    err=True,
                )
                raise typer.Exit(130) from None

            from ltv.audit.summary import exit_code, render_text, summarize

            summary = summarize(store, result.run)
            for problem in listing.problems:
                typer.echo(f"ltv: {problem}", err=True)
            typer.echo(render_text(summary, db=db))
            if "--json" in outputs:
                import json

                _write(outputs["--json"], json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
            if "--html" in outputs:
                from ltv.audit.html import render_page

                _write(outputs["--html"], render_page(summary))
        raise typer.Exit(exit_code(summary))
    finally:
        if pool is not None:
            pool.close(cancel=True)
