"""Plain data of ``ltv probe``: targets, options, one measurement (one request), results.

Every public field is a plain type (str, int, float, bool, datetime, hex), so the JSON output
(``schemas/probe.schema.json``) and the SQLite history are pure projections of these classes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ltv.errors import UsageError

__all__ = [
    "DEFAULT_SLA",
    "MAX_COUNT",
    "MIN_INTERVAL",
    "Category",
    "Measurement",
    "ProbeOptions",
    "Target",
    "TargetKind",
]

DEFAULT_SLA = 10.0
"""Seconds: the CA/Browser Forum Baseline Requirements §4.10.2 limit for OCSP/CRL responders."""
MIN_INTERVAL = 1.0
"""``--interval`` is never below one second: a probe must not hammer a responder."""
MAX_COUNT = 10_000
"""Upper bound on ``--count`` (rounds per run): requests are bounded in number."""

TargetKind = Literal["ocsp", "crl", "ca-issuers", "tsa", "url"]
"""What a URL serves: an OCSP responder, a CRL, a caIssuers certificate (bundle), an RFC 3161
time-stamping service, or an unspecified URL (fetched with GET and classified by content)."""


class Category(enum.StrEnum):
    """Whose failure a failed request is."""

    NETWORK = "network"
    """No HTTP answer at all: DNS failure, refused, timeout, TLS or connection error. When
    every target fails like this in the same round, the round is a *local network problem*."""
    RESPONDER = "responder"
    """An answer that is wrong: HTTP error status, malformed, wrong CertID, bad signature..."""
    PROBE = "probe"
    """The probe could not make the request (bad URL, no certificate to ask about...)."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """One URL to measure, and what it is expected to serve.

    For ``ocsp`` the certificate asked about and its issuer are needed (DER): the request is a
    real OCSP request for that CertID. ``crl`` may carry the issuer to check the CRL's signature.
    """

    url: str
    kind: TargetKind
    cert_der: bytes | None = None
    """The certificate an OCSP request asks about (DER)."""
    issuer_der: bytes | None = None
    """Its issuer (DER): the CertID's name and key hashes; for a CRL, the expected signer."""
    subject: str | None = None
    """RFC 4514 subject of the certificate the URL is for (what named it, for a report)."""
    serial: str | None = None
    """Serial (hex) of the certificate an OCSP target asks about."""
    sources: tuple[str, ...] = ()
    """Where the URL was found: ``argument``, or e.g. ``ocsp of CN=Signer Good,...``."""

    @property
    def key(self) -> str:
        """Stable identity of the target (an OCSP URL asked about two certificates is two)."""
        return f"{self.kind} {self.url}" + (f" #{self.serial}" if self.serial else "")


@dataclass(frozen=True, kw_only=True)
class ProbeOptions:
    """How to probe (validated: counts and intervals are bounded).

    :param count: rounds; each round asks every target once per method and address family.
    :param interval: seconds between the starts of two rounds (at least :data:`MIN_INTERVAL`).
    :param methods: HTTP methods for OCSP targets (``GET`` per RFC 6960 App. A.1 / RFC 5019,
        ``POST``); other kinds use the one method their protocol defines.
    :param nonce: put an RFC 8954 nonce in OCSP requests (a nonced GET defeats caches).
    :param sla: seconds; a request slower than this is an SLA breach.
    :param timeout: seconds per request (connect to last byte).
    :param check_host: also send each target one request without ``Host`` (HTTP/1.0, as
        OpenSSL's OCSP client did) and report whether the responder still answers.
    :param families: ask each address family the name resolves to (IPv4, IPv6) separately.
    """

    count: int = 1
    interval: float = MIN_INTERVAL
    methods: tuple[str, ...] = ("GET", "POST")
    nonce: bool = False
    sla: float = DEFAULT_SLA
    timeout: float = DEFAULT_SLA
    check_host: bool = True
    families: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_COUNT:
            raise UsageError(f"--count {self.count}: must be between 1 and {MAX_COUNT}")
        if not self.interval >= MIN_INTERVAL:
            raise UsageError(
                f"--interval {self.interval:g}: must be at least {MIN_INTERVAL:g} s",
                hint="a probe must not hammer the responders it measures",
            )
        if not self.methods or any(m not in ("GET", "POST") for m in self.methods):
            raise UsageError("--method: get, post or both")
        if not self.sla > 0:
            raise UsageError(f"--sla {self.sla:g}: must be positive")
        if not 0 < self.timeout <= 120:
            raise UsageError(f"--timeout {self.timeout:g}: must be in (0, 120] seconds")


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One request and what came back (also the requests that failed)."""

    target: str
    """:attr:`Target.key`."""
    url: str
    kind: TargetKind
    round: int
    """Round number, from 1."""
    run: str | None = None
    """The run's identity (its start time, RFC 3339), set by :func:`~ltv.probe.run_probe`."""
    at: datetime
    """When the request started (UTC, from the probe's clock)."""
    method: str
    family: str | None
    """``ipv4`` / ``ipv6`` the request was forced to, ``None`` when not resolved."""
    host_header: bool = True
    """``False`` for the no-``Host`` check (not counted in latency or availability)."""
    peer: str | None = None
    """The address connected to."""
    status: int | None = None
    """HTTP status, ``None`` when no answer arrived."""
    ok: bool = False
    """The service answered correctly (an OCSP ``revoked`` or ``unknown`` is a correct answer)."""
    error: str | None = None
    """What failed: ``dns``, ``refused``, ``timeout``, ``tls``, ``connection``, ``http-<code>``,
    ``too-large``, ``malformed``, ``wrong-certid``, ``bad-signature``, ``not-authorized``,
    ``ocsp-<status>`` (an OCSP error status such as ``ocsp-unauthorized``), ``stale``,
    ``nonce-mismatch``, ``tsa-rejected``, ``wrong-imprint``, ``bad-url``, ``no-issuer``."""
    category: Category | None = None
    detail: str | None = None
    """One human-readable line about the outcome."""
    size: int | None = None
    """Response body bytes."""
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    """Time to first byte, from the start of the request."""
    total_ms: float | None = None
    sla_breach: bool = False
    local_problem: bool = False
    """Every target failed at network level in this round: a local network problem, not
    counted as the responder's outage."""
    sha256: str | None = None
    """Hex digest of the response body (GET and POST answers compared by it)."""
    ocsp_status: str | None = None
    """``good`` / ``revoked`` / ``unknown`` (signed answers only)."""
    produced_at: datetime | None = None
    this_update: datetime | None = None
    next_update: datetime | None = None
    crl_entries: int | None = None
    crl_number: int | None = None
    delta_crl: bool | None = None
    """The CRL is a delta CRL, or points to one (freshestCRL, RFC 5280 §5.2.6)."""
    gen_time: datetime | None = None
    """TSA: genTime of the token returned."""
    subjects: tuple[str, ...] = field(default=())
    """caIssuers: subjects of the certificates served; TSA: the TSA certificate."""

    @property
    def counted(self) -> bool:
        """Counted in availability and latency (not a no-Host check, not a local problem)."""
        return self.host_header and not self.local_problem
