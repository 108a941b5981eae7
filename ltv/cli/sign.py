"""``ltv sign`` and ``ltv extend``: produce PAdES B-B/B-T/B-LT/B-LTA, renew and LTV-enable.

::

    ltv sign IN.pdf OUT.pdf --level B-LT --p12 signer.p12 --passphrase-env P12_PASS \\
             --tsa http://tsa.example/ [--chain CA.pem]... [--field NAME] [--reason TEXT]
             [--location TEXT] [--visible PAGE:X1,Y1,X2,Y2] [--at ISO-8601]
             [--connect-to HOST:PORT:ADDR:PORT]... [--timeout S] [--network-budget S] [--force]
    ltv extend IN.pdf OUT.pdf --tsa URL --trust PEM|DIR... [--chain PEM]... [--add-evidence]
             [--at ISO-8601] [--force] [--overwrite] [...]

The passphrase is read from the environment variable named by ``--passphrase-env``, or
prompted for (never a command-line argument: it would show in ``ps`` and shell history).

Exit codes: 0 written; 2 usage (bad options, OUT is IN, OUT exists without ``--force`` (sign) /
``--overwrite`` (extend), no ``--tsa`` for B-T and above, no ``--trust`` for extend); 4 input,
output or evidence problem (unreadable PDF or key, evidence revoked/unknown/offline, TSA
failure, a document whose verification fails for extend, an output directory that is missing,
read-only or full). Nothing is written unless everything succeeded: OUT is written through a
temporary file beside it — created before any network request — and renamed at the end.

``extend --force`` renews a document even when its verification fails (the refusal's reasons are
then printed as a warning); it is not about replacing OUT (that is ``--overwrite``).

stderr carries one line per error and nothing else: what pyHanko (and asyncio) log — some of it
with a traceback — is kept off it unless ``--verbose`` (:func:`configure_logging`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
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
    from ltv.evidence.http import HttpClient
    from ltv.sign import Signer, SigningPolicy

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="ISO-8601",
        help="The time to act at (signing time / extension time), e.g. 2026-01-01T00:00:00Z; "
        "default: now.",
    ),
]
BudgetOption = Annotated[
    float,
    typer.Option(
        "--network-budget",
        metavar="SECONDS",
        help="Seconds for all network requests of this document together.",
    ),
]


def register(app: typer.Typer) -> None:
    """Register ``sign`` and ``extend`` on ``app``."""
    app.command(name="sign")(sign_command)
    app.command(name="extend")(extend_command)


def _client(connect_to: list[str] | None, timeout: float, budget: float) -> HttpClient:
    from ltv.errors import UsageError
    from ltv.evidence.http import HttpClient

    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    if budget <= 0:
        raise UsageError("--network-budget must be positive")
    return HttpClient(
        timeout=timeout, connect_to=parse_connect_to(connect_to or []), keep_alive=True
    )


def _parse_at(value: str | None) -> datetime | None:
    """ISO-8601 with an offset (or 'Z'); a naive time is refused rather than guessed."""
    from ltv.errors import UsageError

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise UsageError(
            f"--at {value!r}: not an ISO-8601 time", hint="e.g. 2026-01-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise UsageError(f"--at {value!r}: needs a UTC offset", hint="e.g. 2026-01-01T00:00:00Z")
    return moment.astimezone(UTC)


def _passphrase(env: str | None, what: str) -> str:
    from ltv.errors import UsageError

    if env:
        value = os.environ.get(env)
        if value is None:
            raise UsageError(f"environment variable {env} (--passphrase-env) is not set")
        return value
    result: str = typer.prompt(f"Passphrase for {what}", hide_input=True, err=True)
    return result


def _check_input(path: Path) -> None:
    from ltv.errors import InputError

    if not path.exists():
        raise InputError(f"input {str(path)!r} does not exist")
    if path.is_dir():
        raise InputError(f"input {str(path)!r} is a directory")


def sign_command(
    input_pdf: Annotated[
        Path, typer.Argument(metavar="IN.pdf", help="PDF to sign (never modified).")
    ],
    output_pdf: Annotated[Path, typer.Argument(metavar="OUT.pdf", help="Signed PDF to write.")],
    level: Annotated[
        str,
        typer.Option(
            "--level", metavar="B-B|B-T|B-LT|B-LTA", help="PAdES baseline level (EN 319 142-1)."
        ),
    ],
    p12: Annotated[
        Path | None, typer.Option("--p12", help="PKCS#12 file with key and certificate.")
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Private key (PEM/DER).")] = None,
    cert: Annotated[
        Path | None, typer.Option("--cert", help="Signer certificate (PEM/DER).")
    ] = None,
    chain: Annotated[
        list[Path] | None,
        typer.Option(
            "--chain",
            metavar="PEM",
            help="CA certificate(s) completing the signer's or TSA's chain.",
        ),
    ] = None,
    passphrase_env: Annotated[
        str | None,
        typer.Option("--passphrase-env", metavar="VAR", help="Read the key passphrase from $VAR."),
    ] = None,
    tsa: Annotated[
        str | None, typer.Option("--tsa", metavar="URL", help="RFC 3161 TSA (B-T and above).")
    ] = None,
    field: Annotated[str, typer.Option("--field", help="Signature field name.")] = "Signature1",
    reason: Annotated[str | None, typer.Option("--reason", help="Reason for signing.")] = None,
    location: Annotated[str | None, typer.Option("--location", help="Location of signing.")] = None,
    visible: Annotated[
        str | None,
        typer.Option(
            "--visible",
            metavar="PAGE:X1,Y1,X2,Y2",
            help="Show the signature as text in this box (points from the bottom-left; page 1 "
            "is the first, -1 the last). An existing empty --field shows in its own widget.",
        ),
    ] = None,
    at: AtOption = None,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
    network_budget: BudgetOption = 30.0,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Sign IN.pdf at a PAdES level; for B-LT/B-LTA, staple checked evidence (DSS)."""
    from ltv.errors import UsageError

    configure_logging(verbose)
    lvl = level.upper()
    if lvl not in LEVELS:
        raise UsageError(f"--level {level!r}: expected one of {', '.join(LEVELS)}")
    if lvl != "B-B" and not tsa:
        raise UsageError(f"--level {lvl} needs --tsa URL", hint="or sign at --level B-B")
    if p12 is not None and (key is not None or cert is not None):
        raise UsageError("give either --p12 or --key/--cert, not both")
    if p12 is None and (key is None or cert is None):
        raise UsageError("give --p12 FILE, or --key PEM and --cert PEM")
    from ltv.output import check_output_path
    from ltv.sign import PadesLevel, Signer, SigningPolicy, VisibleSignature

    when = _parse_at(at)
    appearance = VisibleSignature.parse(visible) if visible is not None else None
    out = check_output_path(output_pdf, inputs=[input_pdf], force=force)
    client = _client(connect_to, timeout, network_budget)
    _check_input(input_pdf)
    policy = SigningPolicy(
        level=PadesLevel(lvl), tsa_url=tsa if lvl != "B-B" else None, field=field
    )
    chains = list(chain or [])
    if p12 is not None:
        signer = Signer.from_pkcs12(
            p12,
            _passphrase(passphrase_env, str(p12)),
            policy=policy,
            network=client,
            chain=chains,
            network_budget=network_budget,
        )
    else:
        assert key is not None and cert is not None  # noqa: S101 - checked above
        signer = _pem_signer(key, cert, chains, passphrase_env, policy, client, network_budget)
    result = signer.sign_to(
        input_pdf,
        out,
        field=field,
        reason=reason,
        location=location,
        visible=appearance,
        at=when,
    )
    typer.echo(
        f"signed {out} ({lvl}, field {field!r}, {result.size} bytes, "
        f"{len(result.requests)} requests, {result.seconds:.2f} s)"
    )


def _pem_signer(
    key: Path,
    cert: Path,
    chain: list[Path],
    passphrase_env: str | None,
    policy: SigningPolicy,
    client: HttpClient,
    budget: float,
) -> Signer:
    from ltv.errors import InputError
    from ltv.sign import Signer

    passphrase = _passphrase(passphrase_env, str(key)) if passphrase_env else None

    def build(secret: str | None) -> Signer:
        return Signer.from_pem(
            key,
            cert,
            chain=chain,
            passphrase=secret,
            policy=policy,
            network=client,
            network_budget=budget,
        )

    try:
        return build(passphrase)
    except InputError:
        if passphrase is not None:
            raise
        # An encrypted key without --passphrase-env: ask once.
        try:
            encrypted = b"ENCRYPTED" in Path(key).read_bytes()
        except OSError:
            raise InputError(f"cannot read key file {str(key)!r}") from None
        if not encrypted:
            raise
        return build(_passphrase(None, str(key)))


def extend_command(
    input_pdf: Annotated[
        Path, typer.Argument(metavar="IN.pdf", help="Signed PDF to renew (never modified).")
    ],
    output_pdf: Annotated[Path, typer.Argument(metavar="OUT.pdf", help="Renewed PDF to write.")],
    tsa: Annotated[
        str, typer.Option("--tsa", metavar="URL", help="TSA for the new document timestamp.")
    ],
    trust: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust",
            metavar="PEM|DIR",
            help="Anchors the document is verified against first (signer and TSA roots); "
            "every TSA chain must end at one.",
        ),
    ] = None,
    chain: Annotated[
        list[Path] | None,
        typer.Option("--chain", metavar="PEM", help="CA certificate(s) completing chains."),
    ] = None,
    add_evidence: Annotated[
        bool,
        typer.Option(
            "--add-evidence",
            help="Also fetch, check and staple evidence for signer chains that have none "
            "(LTV-enable a B-T signature made elsewhere).",
        ),
    ] = False,
    at: AtOption = None,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
    network_budget: BudgetOption = 30.0,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Renew even if the document's verification fails (it is refused otherwise).",
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace OUT if it exists.")
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """Verify IN.pdf, then add fresh evidence for every timestamp and one document timestamp."""
    configure_logging(verbose)
    from ltv.certs import load_certificates
    from ltv.extend import Extender
    from ltv.output import check_output_path

    when = _parse_at(at)
    out = check_output_path(output_pdf, inputs=[input_pdf], force=overwrite)
    client = _client(connect_to, timeout, network_budget)
    _check_input(input_pdf)
    anchors = load_certificates(list(trust or []))
    extender = Extender(
        tsa_url=tsa,
        trust=anchors or None,
        chain=list(chain or []),
        network=client,
        network_budget=network_budget,
        add_evidence=add_evidence,
        force=force,
    )
    result = extender.extend_to(input_pdf, out, at=when)
    if result.forced:
        typer.echo(
            f"ltv: warning: --force: renewed although verification says {result.verdict}",
            err=True,
        )
    added = (
        f", evidence added for {', '.join(result.evidence_added)}" if result.evidence_added else ""
    )
    typer.echo(
        f"extended {out} ({result.verdict}{added}; {result.size} bytes, "
        f"{len(result.requests)} requests, {result.seconds:.2f} s)"
    )
