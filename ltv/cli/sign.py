"""``ltv sign`` and ``ltv extend``: produce PAdES B-B/B-T/B-LT/B-LTA, renew an archive.

::

    ltv sign IN.pdf OUT.pdf --level B-LT --p12 signer.p12 --passphrase-env P12_PASS \\
             --tsa http://tsa.example/ [--chain CA.pem]... [--field NAME] [--reason TEXT]
             [--location TEXT] [--connect-to HOST:PORT:ADDR:PORT]... [--timeout S] [--force]
    ltv extend IN.pdf OUT.pdf --tsa URL [--trust PEM|DIR]... [--chain PEM]... [...]

The passphrase is read from the environment variable named by ``--passphrase-env``, or
prompted for (never a command-line argument: it would show in ``ps`` and shell history).
Exit codes: 0 written; 2 usage (bad options, OUT is IN, OUT exists without ``--force``, no
``--tsa`` for B-T and above); 4 input or evidence problem (unreadable PDF or key, evidence
revoked/unknown/offline, TSA failure). Nothing is written unless everything succeeded; OUT is
written atomically (:func:`ltv.output.write_atomic`).

stderr carries one line per error and nothing else: what pyHanko (and asyncio) log — some of it
with a traceback, ``logger.warning(..., exc_info=True)`` — is kept off it unless ``--verbose``
(:func:`configure_logging`).
"""

from __future__ import annotations

import os
import time
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


def register(app: typer.Typer) -> None:
    """Register ``sign`` and ``extend`` on ``app``."""
    app.command(name="sign")(sign_command)
    app.command(name="extend")(extend_command)


def _client(connect_to: list[str] | None, timeout: float) -> HttpClient:
    from ltv.errors import UsageError
    from ltv.evidence.http import HttpClient

    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    return HttpClient(timeout=timeout, connect_to=parse_connect_to(connect_to or []))


def _passphrase(env: str | None, what: str) -> str:
    from ltv.errors import UsageError

    if env:
        value = os.environ.get(env)
        if value is None:
            raise UsageError(f"environment variable {env} (--passphrase-env) is not set")
        return value
    result: str = typer.prompt(f"Passphrase for {what}", hide_input=True, err=True)
    return result


def _read_input(path: Path) -> bytes:
    from ltv.errors import InputError

    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"input {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"input {str(path)!r} is a directory") from None
    except OSError as err:
        raise InputError(f"cannot read {str(path)!r}: {err.strerror}") from None


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
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
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
    from ltv.output import check_output_path, write_atomic

    out = check_output_path(output_pdf, inputs=[input_pdf], force=force)
    client = _client(connect_to, timeout)
    pdf = _read_input(input_pdf)

    from ltv.sign import PadesLevel, Signer, SigningPolicy

    chain = chain or []
    policy = SigningPolicy(
        level=PadesLevel(lvl), tsa_url=tsa if lvl != "B-B" else None, field=field
    )
    if p12 is not None:
        signer = Signer.from_pkcs12(
            p12, _passphrase(passphrase_env, str(p12)), policy=policy, network=client, chain=chain
        )
    else:
        assert key is not None and cert is not None  # noqa: S101 - checked above
        signer = _pem_signer(key, cert, chain, passphrase_env, policy, client)
    started = time.perf_counter()
    signed = signer.sign(pdf, field=field, reason=reason, location=location)
    elapsed = time.perf_counter() - started
    write_atomic(out, signed)
    typer.echo(
        f"signed {out} ({lvl}, field {field!r}, {len(signed)} bytes, "
        f"{len(client.exchanges)} requests, {elapsed:.2f} s)"
    )


def _pem_signer(
    key: Path,
    cert: Path,
    chain: list[Path],
    passphrase_env: str | None,
    policy: SigningPolicy,
    client: HttpClient,
) -> Signer:
    from ltv.errors import InputError
    from ltv.sign import Signer

    passphrase = _passphrase(passphrase_env, str(key)) if passphrase_env else None
    try:
        return Signer.from_pem(
            key, cert, chain=chain, passphrase=passphrase, policy=policy, network=client
        )
    except InputError:
        if passphrase is not None:
            raise
        # An encrypted key without --passphrase-env: ask once.
        data = Path(key).read_bytes()
        if b"ENCRYPTED" not in data:
            raise
        return Signer.from_pem(
            key,
            cert,
            chain=chain,
            passphrase=_passphrase(None, str(key)),
            policy=policy,
            network=client,
        )


def extend_command(
    input_pdf: Annotated[
        Path, typer.Argument(metavar="IN.pdf", help="B-LT/B-LTA PDF (never modified).")
    ],
    output_pdf: Annotated[Path, typer.Argument(metavar="OUT.pdf", help="Renewed PDF to write.")],
    tsa: Annotated[
        str, typer.Option("--tsa", metavar="URL", help="TSA for the new document timestamp.")
    ],
    trust: Annotated[
        list[Path] | None,
        typer.Option("--trust", metavar="PEM|DIR", help="Anchors every TSA chain must end at."),
    ] = None,
    chain: Annotated[
        list[Path] | None,
        typer.Option("--chain", metavar="PEM", help="CA certificate(s) completing TSA chains."),
    ] = None,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Add fresh evidence for every embedded timestamp and one new document timestamp."""
    configure_logging(verbose)
    from ltv.output import check_output_path, write_atomic
    from ltv.sign import Extender, load_certificate_files

    out = check_output_path(output_pdf, inputs=[input_pdf], force=force)
    client = _client(connect_to, timeout)
    anchors = load_certificate_files(trust or [])
    extras = load_certificate_files(chain or [])
    pdf = _read_input(input_pdf)
    extender = Extender(tsa_url=tsa, network=client, trust=anchors, extra_certs=extras)
    started = time.perf_counter()
    data = extender.extend(pdf)
    elapsed = time.perf_counter() - started
    write_atomic(out, data)
    typer.echo(
        f"extended {out} (+{len(data) - len(pdf)} bytes, {len(client.exchanges)} requests, "
        f"{elapsed:.2f} s)"
    )
