"""OCSP stapling of a TLS server (``ltv probe --tls HOST:PORT``).

**The one other module that opens a socket** (besides :mod:`ltv.evidence.http`): Python's
``ssl`` can neither ask for nor read a stapled OCSP response (the TLS ``status_request``
extension, RFC 6066 §8), so the handshake is made with pyOpenSSL — OpenSSL's own client — with
``Connection.request_ocsp()`` and a ``set_ocsp_client_callback`` that keeps the staple. No TLS is
hand-written. One TCP connection, one handshake, bounded by ``timeout``; nothing is sent after
the handshake. The server certificate is *not* validated against a trust store (the question is
stapling, not trust); the chain it sent is reported.

The staple is judged by :func:`ltv.evidence.ocsp.check_ocsp_response` against the server's
certificate and its issuer taken from the chain the server sent (the certificate whose subject is
the leaf's issuer and whose key verifies the leaf's signature): CertID, responder signature and
authorisation (RFC 6960 §4.2.2.2), freshness at ``at`` (thisUpdate / nextUpdate), and status.

Verdicts: ``valid`` (good and fresh), ``no-staple``, ``revoked``, ``unknown`` (a signed unknown),
``invalid`` (stale, for another certificate, bad signature, unreadable...), ``no-issuer`` (the
server did not send its issuer: the staple cannot be checked).
"""

from __future__ import annotations

import hashlib
import select
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ltv.errors import NetworkError, UsageError

if TYPE_CHECKING:
    from asn1crypto import x509

__all__ = ["ChainCert", "StapleReport", "probe_stapling"]


@dataclass(frozen=True, kw_only=True)
class ChainCert:
    subject: str
    issuer: str
    serial: str
    """Hex."""
    sha256: str
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True, kw_only=True)
class StapleReport:
    """What one TLS handshake showed about OCSP stapling."""

    host: str
    port: int
    servername: str | None
    at: datetime
    """The time freshness was judged at."""
    protocol: str | None = None
    cipher: str | None = None
    handshake_ms: float | None = None
    stapled: bool = False
    staple_size: int | None = None
    status: str | None = None
    """good / revoked / unknown / offline (the four-state outcome of the staple)."""
    detail: str | None = None
    """Why the staple is not usable (``expired``, ``no-matching-certid``, ``bad-signature``...)."""
    produced_at: datetime | None = None
    this_update: datetime | None = None
    next_update: datetime | None = None
    revoked_at: datetime | None = None
    reason: str | None = None
    responder: str | None = None
    responder_delegated: bool | None = None
    chain: tuple[ChainCert, ...] = ()
    problems: tuple[str, ...] = field(default=())
    verdict: str = "no-staple"

    @property
    def valid(self) -> bool:
        return self.verdict == "valid"


def _chain_cert(cert: x509.Certificate) -> ChainCert:
    from ltv.names import name_str

    validity = cert["tbs_certificate"]["validity"]
    return ChainCert(
        subject=name_str(cert.subject),
        issuer=name_str(cert.issuer),
        serial=format(cert.serial_number, "x"),
        sha256=hashlib.sha256(cert.dump()).hexdigest(),
        not_before=validity["not_before"].native.astimezone(UTC),
        not_after=validity["not_after"].native.astimezone(UTC),
    )


def _issuer_in(leaf: x509.Certificate, chain: list[x509.Certificate]) -> x509.Certificate | None:
    from ltv.evidence._crypto import UnsupportedSignature, certificate_signed_by

    for cand in chain[1:]:
        if cand.subject != leaf.issuer:
            continue
        try:
            if certificate_signed_by(leaf, cand):
                return cand
        except (UnsupportedSignature, ValueError):
            continue
    return None


def _handshake(
    host: str, port: int, servername: str | None, timeout: float
) -> tuple[bytes | None, list[bytes], str | None, str | None, float]:
    """Connect, handshake with status_request; (staple or None, chain DER, protocol, cipher,
    seconds)."""
    from OpenSSL import SSL

    deadline = time.monotonic() + timeout
    staple: dict[str, bytes] = {}

    def on_ocsp(_conn: Any, data: bytes, _arg: Any) -> bool:
        staple["der"] = bytes(data)
        return True  # judged afterwards, with our own checks: never abort the handshake here

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE, lambda *_args: True)
    context.set_ocsp_client_callback(on_ocsp)
    start = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise NetworkError(f"{host}:{port}: connection timed out") from None
    except ConnectionRefusedError:
        raise NetworkError(f"{host}:{port}: connection refused") from None
    except socket.gaierror:
        raise NetworkError(f"{host}:{port}: the name does not resolve") from None
    except OSError as err:
        raise NetworkError(f"{host}:{port}: cannot connect ({err.strerror or err})") from None
    conn = SSL.Connection(context, sock)
    try:
        sock.setblocking(False)
        if servername:
            conn.set_tlsext_host_name(servername.encode("idna"))
        conn.request_ocsp()
        conn.set_connect_state()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NetworkError(f"{host}:{port}: TLS handshake timed out")
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                select.select([sock], [], [], left)
            except SSL.WantWriteError:
                select.select([], [sock], [], left)
        elapsed = time.monotonic() - start
        chain = [
            c.to_cryptography().public_bytes(_der_encoding())
            for c in (conn.get_peer_cert_chain() or [])
        ]
        protocol = conn.get_protocol_version_name()
        cipher = conn.get_cipher_name()
    except SSL.Error as err:
        raise NetworkError(f"{host}:{port}: TLS handshake failed ({_ssl_reason(err)})") from None
    except OSError as err:
        raise NetworkError(f"{host}:{port}: connection failed ({err.strerror or err})") from None
    finally:
        try:
            conn.shutdown()
        except Exception:  # noqa: S110 - best effort close of a non-blocking connection
            pass
        sock.close()
    return staple.get("der") or None, chain, protocol, cipher, elapsed


def _der_encoding() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def _ssl_reason(err: Exception) -> str:
    args = getattr(err, "args", ())
    if args and isinstance(args[0], list) and args[0]:
        last = args[0][-1]
        if isinstance(last, tuple) and last:
            return str(last[-1])
    return type(err).__name__


def probe_stapling(
    host: str,
    port: int,
    *,
    at: datetime,
    servername: str | None = None,
    timeout: float = 10.0,
) -> StapleReport:
    """One TLS handshake asking for a staple; the staple judged at ``at`` (timezone-aware).

    :raises NetworkError: no TCP connection or no completed handshake within ``timeout``.
    """
    from asn1crypto import x509 as asn1_x509

    from ltv.evidence.ocsp import check_ocsp_response
    from ltv.evidence.outcome import RevocationStatus

    if at.utcoffset() is None:
        raise ValueError("'at' must be timezone-aware")
    if not 0 < port < 65536:
        raise UsageError(f"--tls {host}:{port}: bad port")
    der, chain_der, protocol, cipher, elapsed = _handshake(host, port, servername, timeout)
    chain = [asn1_x509.Certificate.load(d) for d in chain_der]
    base: dict[str, Any] = {
        "host": host,
        "port": port,
        "servername": servername,
        "at": at.astimezone(UTC),
        "protocol": protocol,
        "cipher": cipher,
        "handshake_ms": round(elapsed * 1000, 3),
        "chain": tuple(_chain_cert(c) for c in chain),
    }
    if der is None:
        return StapleReport(**base, verdict="no-staple")
    base.update(stapled=True, staple_size=len(der))
    if not chain:
        return StapleReport(
            **base, verdict="no-issuer", problems=("the server sent no certificate",)
        )
    leaf = chain[0]
    issuer = _issuer_in(leaf, chain)
    if issuer is None:
        return StapleReport(
            **base,
            verdict="no-issuer",
            problems=("the server did not send the issuer of its certificate",),
        )
    outcome = check_ocsp_response(der, leaf, issuer, at=at)
    problems: list[str] = []
    if outcome.status is RevocationStatus.GOOD:
        verdict = "valid"
    elif outcome.status is RevocationStatus.REVOKED:
        verdict = "revoked"
        problems.append("the stapled response says the server certificate is revoked")
    elif outcome.status is RevocationStatus.UNKNOWN:
        verdict = "unknown"
        problems.append("the responder says it does not know the server certificate")
    else:
        verdict = "invalid"
        problems.append(
            {
                "expired": "the staple is stale: past its nextUpdate",
                "not-yet-valid": "the staple's thisUpdate is in the future",
                "no-matching-certid": "the staple is for another certificate",
                "bad-signature": "the staple's signature does not verify",
                "responder-id-mismatch": "the staple's signer is not identified",
                "responder-not-authorized": "the staple's signer may not answer for this CA",
                "malformed": "the staple is not an OCSP response",
            }.get(outcome.detail or "", f"the staple is unusable: {outcome.detail}")
        )
    return StapleReport(
        **base,
        status=str(outcome.status),
        detail=outcome.detail,
        produced_at=outcome.produced_at,
        this_update=outcome.this_update,
        next_update=outcome.next_update,
        revoked_at=outcome.revoked_at,
        reason=outcome.reason,
        responder=outcome.responder,
        responder_delegated=outcome.responder_delegated,
        problems=tuple(problems),
        verdict=verdict,
    )
