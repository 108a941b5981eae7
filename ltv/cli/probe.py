"""``ltv probe``: measure revocation and timestamp services; ``--tls``: OCSP stapling.

::

    ltv probe [URL|KIND=URL...] [--from FILE.pdf | --cert CERT.pem --issuer ISSUER.pem]
              [--count N] [--interval S] [--method get|post|both] [--nonce] [--sla S]
              [--db FILE.sqlite] [--format text|json] [--html FILE] [--connect-to ...] [--timeout S]
    ltv probe report --db FILE.sqlite [--since ISO] [--until ISO] [--format text|json] [--html FILE]
    ltv probe --tls HOST:PORT [--servername NAME] [--format text|json]

Exit codes: 0 every target answered correctly within the SLA (``--tls``: a valid staple) ·
1 a target down, failing or over the SLA (``--tls``: no staple, or one that is stale, for another
certificate, revoked...) · 2 usage · 3 every round was a local network problem (nothing could be
measured) · 4 input or connection problem (unreadable PDF/certificate/database; ``--tls``: no
handshake).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ltv.cli._common import ConnectToOption, TimeoutOption, VerboseOption, configure_logging

if TYPE_CHECKING:
    from asn1crypto import x509

_FORMATS = ("text", "json")
_METHODS = {"get": ("GET",), "post": ("POST",), "both": ("GET", "POST")}
_HOSTPORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]\s]+):(\d{1,5})$")


def register(app: typer.Typer) -> None:
    """Register ``probe`` on ``app``."""
    app.command(
        name="probe",
        help=(
            "Measure the OCSP, CRL, caIssuers and TSA services of URLs, a certificate or a"
            " signed PDF (ltv probe report --db FILE: history; ltv probe --tls HOST:PORT:"
            " OCSP stapling)."
        ),
    )(probe_command)


def _time(option: str, value: str | None) -> datetime | None:
    from ltv.errors import UsageError

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{option} {value!r}: not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise UsageError(f"{option} {value!r}: needs a UTC offset", hint="e.g. 2026-01-01T00:00Z")
    return moment.astimezone(UTC)


def _connect_to(values: list[str]) -> dict[str, list[tuple[str, int]]]:
    """``--connect-to`` (repeatable); the same HOST:PORT given twice lists two addresses."""
    from ltv.cli._common import parse_connect_to

    out: dict[str, list[tuple[str, int]]] = {}
    for value in values:
        for key, pair in parse_connect_to([value]).items():
            out.setdefault(key, []).append(pair)
    return out


def _load_one_cert(option: str, path: str) -> x509.Certificate:
    from ltv.certs import load_certificates
    from ltv.errors import InputError

    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"{option} {path!r}: cannot read ({err.strerror})") from None
    certs = load_certificates(data)
    if not certs:
        raise InputError(f"{option} {path!r}: no certificate in it")
    return certs[0]


def _write_html(path: str, data: bytes, inputs: list[str]) -> None:
    from ltv.output import check_output_path, write_atomic

    out = check_output_path(path, inputs=inputs, force=True)
    write_atomic(out, data)


def probe_command(
    urls: Annotated[
        list[str] | None,
        typer.Argument(
            help="URLs to probe (KIND=URL names the kind: ocsp, crl, ca-issuers, tsa), or"
            " 'report' to summarise --db.",
            show_default=False,
        ),
    ] = None,
    from_pdf: Annotated[
        str | None,
        typer.Option("--from", help="Probe every URL the signed PDF's certificates point to."),
    ] = None,
    cert: Annotated[
        str | None, typer.Option("--cert", help="Certificate to ask OCSP responders about.")
    ] = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="Its issuer (the CertID).")] = None,
    count: Annotated[int, typer.Option("--count", help="Rounds of requests.")] = 1,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between rounds (at least 1).")
    ] = 1.0,
    method: Annotated[str, typer.Option("--method", help="OCSP: get | post | both.")] = "both",
    nonce: Annotated[bool, typer.Option("--nonce", help="Put a nonce in OCSP requests.")] = False,
    sla: Annotated[
        float, typer.Option("--sla", help="Seconds; slower answers are SLA breaches.")
    ] = 10.0,
    db: Annotated[
        str | None, typer.Option("--db", help="SQLite history: append every measurement.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text | json.")] = "text",
    html: Annotated[str | None, typer.Option("--html", help="Write a self-contained page.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="report: from this time (ISO-8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="report: until this time (ISO-8601).")
    ] = None,
    tls: Annotated[
        str | None, typer.Option("--tls", help="HOST:PORT: does this TLS server staple OCSP?")
    ] = None,
    servername: Annotated[
        str | None, typer.Option("--servername", help="--tls: SNI name (default: HOST).")
    ] = None,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
    verbose: VerboseOption = False,
) -> None:
    """Measure responders (latency, sizes, validity, IPv6, Host header, SLA) or TLS stapling."""
    from ltv.cli import fail
    from ltv.errors import LtvError

    configure_logging(verbose)
    try:
        code = _dispatch(
            list(urls or []),
            from_pdf=from_pdf,
            cert=cert,
            issuer=issuer,
            count=count,
            interval=interval,
            method=method,
            nonce=nonce,
            sla=sla,
            db=db,
            fmt=fmt,
            html=html,
            since=since,
            until=until,
            tls=tls,
            servername=servername,
            connect_to=connect_to or [],
            timeout=timeout,
        )
    except LtvError as err:
        raise fail(err) from None
    raise typer.Exit(code)


def _dispatch(
    urls: list[str],
    *,
    from_pdf: str | None,
    cert: str | None,
    issuer: str | None,
    count: int,
    interval: float,
    method: str,
    nonce: bool,
    sla: float,
    db: str | None,
    fmt: str,
    html: str | None,
    since: str | None,
    until: str | None,
    tls: str | None,
    servername: str | None,
    connect_to: list[str],
    timeout: float,
) -> int:
    from ltv.errors import UsageError

    if fmt not in _FORMATS:
        raise UsageError(f"--format {fmt!r}: expected text or json")
    if tls is not None:
        if urls or from_pdf or cert or issuer or db:
            raise UsageError("--tls probes one TLS server: give no URL, --from, --cert or --db")
        return _tls(tls, servername, timeout, fmt, html)
    if servername is not None:
        raise UsageError("--servername goes with --tls")
    if urls[:1] == ["report"]:
        if len(urls) > 1 or from_pdf or cert or issuer:
            raise UsageError("ltv probe report takes only --db, --since, --until, --format, --html")
        if db is None:
            raise UsageError("ltv probe report needs --db FILE.sqlite")
        _report(db, _time("--since", since), _time("--until", until), fmt, html)
        return 0
    if since or until:
        raise UsageError("--since/--until go with 'ltv probe report'")
    if method.lower() not in _METHODS:
        raise UsageError(f"--method {method!r}: expected get, post or both")
    return _probe(
        urls,
        from_pdf=from_pdf,
        cert_path=cert,
        issuer_path=issuer,
        count=count,
        interval=interval,
        methods=_METHODS[method.lower()],
        nonce=nonce,
        sla=sla,
        db=db,
        fmt=fmt,
        html=html,
        connect_to=_connect_to(connect_to),
        timeout=timeout,
    )


def _probe(
    urls: list[str],
    *,
    from_pdf: str | None,
    cert_path: str | None,
    issuer_path: str | None,
    count: int,
    interval: float,
    methods: tuple[str, ...],
    nonce: bool,
    sla: float,
    db: str | None,
    fmt: str,
    html: str | None,
    connect_to: dict[str, list[tuple[str, int]]],
    timeout: float,
) -> int:
    import json

    from ltv.errors import InputError, UsageError
    from ltv.evidence.http import HttpClient
    from ltv.probe.html import render_page
    from ltv.probe.measure import ProbeRun, run_probe
    from ltv.probe.model import Measurement, ProbeOptions, Target
    from ltv.probe.report import run_exit_code, run_json, run_text
    from ltv.probe.store import ProbeStore
    from ltv.probe.summary import summarize
    from ltv.probe.targets import merge, targets_for_cert, targets_from_pdf, targets_from_urls

    options = ProbeOptions(
        count=count, interval=interval, methods=methods, nonce=nonce, sla=sla, timeout=timeout
    )
    if (cert_path is None) != (issuer_path is None):
        raise UsageError("--cert and --issuer go together (the CertID needs the issuer)")
    if from_pdf and cert_path:
        raise UsageError("give --from FILE.pdf or --cert/--issuer, not both")
    cert = _load_one_cert("--cert", cert_path) if cert_path else None
    issuer = _load_one_cert("--issuer", issuer_path) if issuer_path else None
    targets: list[Target] = []
    if from_pdf:
        try:
            data = Path(from_pdf).read_bytes()
        except OSError as err:
            raise InputError(f"--from {from_pdf!r}: cannot read ({err.strerror})") from None
        targets.extend(targets_from_pdf(data))
    elif cert is not None and not urls:
        targets.extend(targets_for_cert(cert, issuer))
    targets.extend(targets_from_urls(urls, cert, issuer))
    targets = merge(targets)
    if not targets:
        raise UsageError("nothing to probe", hint="give URLs, --cert/--issuer, or --from FILE.pdf")
    inputs = [p for p in (from_pdf, cert_path, issuer_path) if p]
    if db is not None:
        from ltv.output import same_file

        if any(same_file(db, p) for p in inputs):
            raise UsageError(f"--db {db!r} is an input file", hint="ltv never modifies its input")
    if html is not None:
        # checked before any request is made
        from ltv.output import check_output_path

        check_output_path(html, inputs=[*inputs, *([db] if db else [])], force=True)

    client = HttpClient(timeout=timeout, connect_to=connect_to, retries=0)
    store = ProbeStore(db) if db is not None else None
    try:
        started: list[ProbeRun] = []

        def on_start(run: ProbeRun) -> None:
            started.append(run)
            if store is not None:
                store.begin_run(run.run_id, run.started_at, options)
                store.add_targets(targets)

        def on_round(round_no: int, batch: list[Measurement], local: bool) -> None:
            if store is not None:
                store.add_round(started[0].run_id, round_no, batch, local)

        run = run_probe(
            targets,
            client=client,
            options=options,
            clock=_now,
            on_start=on_start,
            on_round=on_round,
        )
        if store is not None and run.finished_at is not None:
            store.finish_run(run.run_id, run.finished_at)
    finally:
        if store is not None:
            store.close()
    summaries = summarize(run.measurements, run.targets, run.families)
    if fmt == "json":
        typer.echo(json.dumps(run_json(run, summaries), indent=2, ensure_ascii=False))
    else:
        typer.echo(run_text(run, summaries), nl=False)
    if html is not None:
        notes = [f"{run.rounds} round(s) from {run.started_at.isoformat()}, SLA {sla:g} s"]
        if run.local_problem_rounds:
            notes.append(
                "Local network problem in round(s) "
                + ", ".join(str(r) for r in run.local_problem_rounds)
                + ": every target failed at once; not counted as outages."
            )
        _write_html(
            html,
            render_page("ltv probe", summaries, run.measurements, sla=sla, notes=notes),
            [*inputs, *([db] if db else [])],
        )
    return run_exit_code(run, summaries)


def _now() -> datetime:
    return datetime.now(UTC)


def _report(
    db: str, since: datetime | None, until: datetime | None, fmt: str, html: str | None
) -> None:
    import json

    from ltv.probe.html import render_page
    from ltv.probe.report import HistoryReport, history_json, history_text
    from ltv.probe.store import ProbeStore
    from ltv.probe.summary import summarize

    if html is not None:
        from ltv.output import check_output_path

        check_output_path(html, inputs=[db], force=True)
    with ProbeStore(db, create=False) as store:
        measurements = store.measurements(since, until)
        targets = store.targets()
        runs = [
            r
            for r in store.runs()
            if (since is None or (r.finished_at or r.started_at) >= since)
            and (until is None or r.started_at <= until)
        ]
    sla = min((r.sla for r in runs), default=10.0)
    seen = {m.target for m in measurements}
    summaries = summarize(measurements, [t for t in targets if t.key in seen])
    report = HistoryReport(db=db, since=since, until=until, runs=runs, summaries=summaries, sla=sla)
    if fmt == "json":
        typer.echo(json.dumps(history_json(report), indent=2, ensure_ascii=False))
    else:
        typer.echo(history_text(report), nl=False)
    if html is not None:
        doc = history_json(report)
        notes = [
            f"{doc['runs']} run(s), {report.rounds} round(s) from {doc['period']['from']}"
            f" to {doc['period']['to']}",
            f"{report.excluded_rounds} round(s) excluded: every target failed at once"
            " (local network problem).",
        ]
        _write_html(
            html,
            render_page(
                f"ltv probe report: {Path(db).name}", summaries, measurements, sla=sla, notes=notes
            ),
            [db],
        )


def _tls(target: str, servername: str | None, timeout: float, fmt: str, html: str | None) -> int:
    import json

    from ltv.errors import UsageError
    from ltv.evidence.tls import probe_stapling
    from ltv.probe.report import tls_json, tls_text

    if html is not None:
        raise UsageError("--html is for responder measurements, not --tls")
    m = _HOSTPORT.match(target.strip())
    if m is None:
        raise UsageError(f"--tls {target!r}: expected HOST:PORT", hint="e.g. --tls example.org:443")
    host, port = m.group(1).strip("[]"), int(m.group(2))
    report = probe_stapling(
        host, port, at=_now(), servername=servername or _default_sni(host), timeout=timeout
    )
    if fmt == "json":
        typer.echo(json.dumps(tls_json(report), indent=2, ensure_ascii=False))
    else:
        typer.echo(tls_text(report), nl=False)
    return 0 if report.valid else 1


def _default_sni(host: str) -> str | None:
    """SNI is a host name (RFC 6066 §3): none for an IP address literal."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None
