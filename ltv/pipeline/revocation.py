"""(5) Revocation: each certificate's status at the validation time, from all embedded evidence
first, online only as the policy allows.

Spec steps (ETSI EN 319 102-1):
- §5.2.5 (revocation freshness checker) and §5.6.2.3 (past certificate validation): evidence
  issued *after* the validation time (thisUpdate / producedAt ≥ T) proves the status at T;
  older evidence is acceptable only if T - thisUpdate <= the policy's maximum age.
- RFC 6960 §4.1.1 / §4.2.2.3: the OCSP SingleResponse is selected by CertID and the responder
  authenticated — by ltv.evidence.check_ocsp_response (one OCSP checker in the code base).
- RFC 5280 §6.3.3: CRL checks — ltv.evidence.check_crl.
- A revocation at R > T does not affect a signature whose POE is T (§5.6.2.3 step b):
  the certificate was good at T; the revocation is still reported.
- Four states, never merged (ltv.evidence.outcome): a signed 'unknown' is authoritative
  ("responder says unknown"); 'offline' means no usable answer (→ TRY_LATER). Another valid
  answer from the issuer (e.g. a CRL proving not-revoked) settles the status; the 'unknown' is
  kept as a warning, unless the policy makes any 'unknown' fatal.

Two times, never confused: the *validation time* ``at`` (the POE of the signature: what the status
is asked about) and the *moment of judgement* ``now`` (the current time of the verification:
the wall clock, or ``--as-of``). Evidence produced after ``at`` is welcome — it proves the status at
``at`` from a later vantage point (§5.2.5). Evidence produced after ``now`` cannot exist yet: a
response whose thisUpdate, producedAt or revocationTime lies after ``now`` + :data:`CLOCK_SKEW`
comes from a mis-set responder clock or from someone holding a responder key who dates answers
ahead to outlive a revocation. It is *future-dated*: ignored (``offline``, detail
``future-dated``) with a warning, for embedded and fetched evidence alike. :data:`CLOCK_SKEW` is
the one tolerance for clocks that differ (the same 5 minutes as ``ltv sign`` and the TSA genTime
check); ``ltv sign`` refuses such responses outright.

Online modes: ``fallback`` fetches only for a certificate the embedded evidence does not
settle; ``always`` fetches for every certificate and judges embedded and fetched evidence
together: a valid 'revoked' (at or before T) from any source wins, otherwise the freshest
answer decides; every piece considered is kept in ``RevocationReport.evidence``. A B-LT level
still needs the *embedded* evidence to settle (``CertRevocation.settled_by_embedded``).

Online access goes through ltv.evidence's HttpClient only; with ``online = never`` no fetch
function is even called (and the client is a NoNetwork, which opens no socket).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ltv.policy import Online
from ltv.report import EvidenceRef, RevocationReport, RevocationState, rfc3339

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.audit.cache import OutcomeCache
    from ltv.evidence.http import Transport
    from ltv.evidence.outcome import RevocationOutcome
    from ltv.pipeline.extract import EvidenceItem

__all__ = [
    "CertRevocation",
    "RevocationContext",
    "check_certificate",
    "responder_certificate",
    "responder_report",
]

SKEW = timedelta(seconds=60)
"""Tolerance of the freshness comparisons in :func:`_fresh`."""
CLOCK_SKEW = timedelta(minutes=5)
"""How far evidence may be dated after the moment of judgement (clocks differ); later is
future-dated and ignored."""
DEFAULT_NO_NEXT_UPDATE_AGE = timedelta(hours=24)
# Outcomes that say "this evidence is about some other certificate": not evidence for ours.
_IRRELEVANT = {"no-matching-certid", "issuer-mismatch", "malformed", "unknown-response-status"}


@dataclass(kw_only=True)
class RevocationContext:
    """Per-file state: the embedded evidence, the client, the policy knobs, a fetch cache."""

    evidence: list[EvidenceItem]
    client: Transport
    now: datetime
    """The moment of judgement (wall clock or ``--as-of``): evidence dated after it (+
    :data:`CLOCK_SKEW`) is future-dated and ignored. Not the validation time."""
    online: Online
    max_age: timedelta | None
    unknown_is_fatal: bool
    outcomes: OutcomeCache | None = None
    """audit: evidence checks shared by every document of an archive (ltv.audit.cache)."""
    _fetched: dict[tuple[bytes, bytes], list[RevocationOutcome]] = field(default_factory=dict)
    _crl_index: dict[int, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CertRevocation:
    report: RevocationReport
    settled_by_embedded: bool
    """Whether embedded evidence alone settled the status (needed for B-LT)."""
    evidence_revision: int | None = None
    """File revision that introduced the deciding embedded evidence (for B-LTA)."""
    has_embedded_data: bool = False
    """Whether the file carries authoritative validation data for the certificate at all
    (a good or revoked answer, fresh or not): what ETSI EN 319 142-1 §6.3 asks of B-LT for
    the timestamps' certificates, whose evidence is judged at a later time than it was made."""
    responder: x509.Certificate | None = None
    """The delegated OCSP responder certificate that signed the deciding response, if any."""


@dataclass(frozen=True)
class _Candidate:
    outcome: RevocationOutcome
    source: str
    revision: int | None


def _embedded(
    cert: x509.Certificate, issuer: x509.Certificate, ctx: RevocationContext
) -> list[_Candidate]:
    from ltv.evidence.crl import CrlIndex, check_crl
    from ltv.evidence.ocsp import check_ocsp_response, single_response_serials

    found: list[_Candidate] = []
    shared = ctx.outcomes
    serial = cert.serial_number
    for i, item in enumerate(ctx.evidence):
        if item.kind == "ocsp" and serial not in (
            item.serials if item.serials is not None else single_response_serials(item.der)
        ):
            continue  # no SingleResponse for this serial: "no-matching-certid", irrelevant
        if shared is not None:  # audit: the same checks, done once per archive
            cached = shared.check(item.kind, item.der, cert, issuer)
            if cached is None:  # not a CRL
                continue
            outcome = cached
        elif item.kind == "ocsp":
            outcome = check_ocsp_response(item.der, cert, issuer)
        else:
            index = ctx._crl_index.get(i)
            if index is None:
                try:
                    index = ctx._crl_index[i] = CrlIndex.load(item.der)
                except ValueError:
                    continue
            outcome = check_crl(index, cert, issuer)
        if outcome.detail in _IRRELEVANT:
            continue
        found.append(_Candidate(outcome, item.primary_source, item.revision))
    return found


def _fetch(
    cert: x509.Certificate, issuer: x509.Certificate, ctx: RevocationContext
) -> list[_Candidate]:
    from ltv.evidence.crl import crl_urls_of, fetch_crl_status
    from ltv.evidence.ocsp import fetch_ocsp, ocsp_url_of

    key = (hashlib.sha256(cert.dump()).digest(), hashlib.sha256(issuer.dump()).digest())
    outcomes = ctx._fetched.get(key)
    if outcomes is None:
        outcomes = []
        if ocsp_url_of(cert) is not None:
            outcomes.append(fetch_ocsp(ctx.client, cert, issuer))
        if not any(o.ok for o in outcomes) and crl_urls_of(cert):
            outcomes.append(fetch_crl_status(ctx.client, cert, issuer))
        ctx._fetched[key] = outcomes
    return [_Candidate(o, "fetched", None) for o in outcomes]


def _future_dated(outcome: RevocationOutcome, now: datetime) -> datetime | None:
    """The first time the evidence claims that lies after ``now`` + :data:`CLOCK_SKEW`."""
    for t in (outcome.produced_at, outcome.this_update, outcome.revoked_at):
        if t is not None and t > now + CLOCK_SKEW:
            return t
    return None


def _screen_future(cands: list[_Candidate], now: datetime, warnings: list[str]) -> list[_Candidate]:
    """Future-dated evidence becomes ``offline/future-dated`` (reported, never believed)."""
    from dataclasses import replace

    from ltv.evidence.outcome import RevocationStatus

    out: list[_Candidate] = []
    for c in cands:
        when = _future_dated(c.outcome, now) if c.outcome.ok else None
        if when is None:
            out.append(c)
            continue
        warnings.append(
            f"{c.outcome.method} ({c.source}) dated {rfc3339(when)}, after the current time "
            f"{rfc3339(now)}: future-dated evidence ignored"
        )
        offline = replace(c.outcome, status=RevocationStatus.OFFLINE, detail="future-dated")
        out.append(_Candidate(offline, c.source, c.revision))
    return out


def _issued(c: _Candidate) -> datetime:
    """When the evidence was made (latest of thisUpdate / producedAt): 'fresher' = later."""
    times = [t for t in (c.outcome.this_update, c.outcome.produced_at) if t is not None]
    return max(times) if times else datetime.min.replace(tzinfo=UTC)


def _fresh(outcome: RevocationOutcome, at: datetime, max_age: timedelta | None) -> bool:
    """§5.2.5 freshness of a 'good' answer for the time ``at``.

    Evidence issued at/after ``at`` proves the status at ``at``. Older evidence: with a policy
    maximum age, ``at - thisUpdate <= max_age``; without one, ``at`` must lie inside the
    evidence's own validity window [thisUpdate, nextUpdate] (24 h when nextUpdate is absent).
    """
    issued = [t for t in (outcome.this_update, outcome.produced_at) if t is not None]
    if not issued or outcome.this_update is None:
        return False
    if max(issued) + SKEW >= at:
        return True
    if outcome.this_update > at + SKEW:
        return False
    if max_age is not None:
        return at - outcome.this_update <= max_age
    if outcome.next_update is not None:
        return at <= outcome.next_update + SKEW
    return at - outcome.this_update <= DEFAULT_NO_NEXT_UPDATE_AGE


def check_certificate(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    at: datetime,
    ctx: RevocationContext,
) -> CertRevocation:
    """The status of ``cert`` at ``at``, with the evidence that settled it."""
    from ltv.evidence.outcome import RevocationStatus as S

    if at.tzinfo is None:
        raise ValueError("'at' must be timezone-aware")

    def _judge(cands: list[_Candidate]) -> dict[str, list[_Candidate]]:
        sorted_: dict[str, list[_Candidate]] = {
            "revoked": [],
            "good": [],
            "unknown": [],
            "stale": [],
            "offline": [],
        }
        # freshest first in every bucket: with embedded AND fetched evidence (online=always)
        # the fresher one decides, unless another contradicts it (revoked beats good below)
        for c in sorted(cands, key=_issued, reverse=True):
            o = c.outcome
            match o.status:
                case S.REVOKED:
                    if o.revoked_at is not None and o.revoked_at > at:
                        sorted_["good"].append(c)  # revoked later: good at T
                    else:
                        sorted_["revoked"].append(c)
                case S.GOOD:
                    key = "good" if _fresh(o, at, ctx.max_age) else "stale"
                    sorted_[key].append(c)
                case S.UNKNOWN:
                    sorted_["unknown"].append(c)
                case S.OFFLINE:
                    sorted_["offline"].append(c)
        return sorted_

    screen_warnings: list[str] = []
    embedded = _screen_future(_embedded(cert, issuer, ctx), ctx.now, screen_warnings)
    judged = _judge(embedded)
    has_data = bool(judged["revoked"] or judged["good"] or judged["stale"])
    # the earliest revision holding embedded evidence that settles the status (for B-LTA:
    # a document timestamp must cover it), whatever decides once fetched evidence is added
    settling = judged["revoked"] or judged["good"]
    revisions = [c.revision for c in settling if c.revision is not None]
    evidence_revision = min(revisions) if revisions else None
    settled_embedded = bool(judged["revoked"]) or (
        bool(judged["good"]) and not (ctx.unknown_is_fatal and judged["unknown"])
    )
    candidates = list(embedded)
    match ctx.online:
        case Online.NEVER:
            pass
        case Online.FALLBACK:
            if not settled_embedded:
                candidates += _screen_future(_fetch(cert, issuer, ctx), ctx.now, screen_warnings)
        case Online.ALWAYS:
            candidates += _screen_future(_fetch(cert, issuer, ctx), ctx.now, screen_warnings)
    judged = _judge(candidates) if len(candidates) != len(embedded) else judged

    def _report(
        c: _Candidate | None,
        status: RevocationState,
        at_t: RevocationState,
        detail: str | None,
        warnings: list[str],
    ) -> RevocationReport:
        o = c.outcome if c else None
        return RevocationReport(
            status=status,
            method=o.method if o else "none",
            source=c.source if c else "none",  # type: ignore[arg-type]
            this_update=o.this_update if o else None,
            next_update=o.next_update if o else None,
            produced_at=o.produced_at if o else None,
            revoked_at=o.revoked_at if o else None,
            reason=o.reason if o else None,
            url=o.url if o else None,
            detail=detail,
            status_at_validation_time=at_t,
            warnings=tuple(warnings),
            evidence=tuple(
                EvidenceRef(
                    method=x.outcome.method,
                    source=x.source,  # type: ignore[arg-type]
                    status=str(x.outcome.status),
                    this_update=x.outcome.this_update,
                    produced_at=x.outcome.produced_at,
                    revoked_at=x.outcome.revoked_at,
                    url=x.outcome.url,
                    detail=x.outcome.detail,
                    deciding=x is c,
                )
                for x in candidates
            ),
        )

    unknown_warnings = [
        f"{c.outcome.responder or 'responder'} says unknown ({c.outcome.method}, {c.source})"
        for c in judged["unknown"]
    ]
    unknown_warnings += list(dict.fromkeys(screen_warnings))
    deciding: _Candidate | None
    if judged["revoked"]:
        deciding = judged["revoked"][0]
        rep = _report(
            deciding,
            RevocationState.REVOKED,
            RevocationState.REVOKED,
            f"revoked at {rfc3339(deciding.outcome.revoked_at)}, not after the validation time",
            unknown_warnings,
        )
    elif judged["unknown"] and (ctx.unknown_is_fatal or not judged["good"]):
        deciding = judged["unknown"][0]
        extra = " (policy: unknown_is_fatal)" if judged["good"] else ""
        rep = _report(
            deciding,
            RevocationState.UNKNOWN,
            RevocationState.UNKNOWN,
            f"responder says unknown{extra}",
            unknown_warnings[1:],
        )
    elif judged["good"]:
        # prefer a plain 'good' over a later revocation as the deciding evidence
        plain = [c for c in judged["good"] if c.outcome.status is S.GOOD]
        deciding = (plain or judged["good"])[0]
        later = [c for c in judged["good"] if c.outcome.status is S.REVOKED]
        warnings = list(unknown_warnings)
        if later:
            deciding = later[0]
            warnings.append(
                f"revoked at {rfc3339(later[0].outcome.revoked_at)}, after the validation time "
                f"{rfc3339(at)}: does not affect this signature"
            )
        status = RevocationState.REVOKED if later else RevocationState.GOOD
        rep = _report(deciding, status, RevocationState.GOOD, None, warnings)
    else:
        deciding = None
        details: list[str] = []
        if judged["stale"]:
            deciding = judged["stale"][0]
            details.append(
                f"evidence too old for {rfc3339(at)} (thisUpdate "
                f"{rfc3339(deciding.outcome.this_update)}, nextUpdate "
                f"{rfc3339(deciding.outcome.next_update)}"
                + (f", max age {ctx.max_age}" if ctx.max_age is not None else "")
                + ")"
            )
        for c in judged["offline"]:
            deciding = deciding or c
            details.append(f"{c.outcome.method} ({c.source}): {c.outcome.detail}")
        if not candidates:
            details.append("no embedded revocation evidence")
        if ctx.online is Online.NEVER and not judged["stale"]:
            details.append("network-disabled by policy")
        rep = _report(
            deciding,
            RevocationState.OFFLINE,
            RevocationState.OFFLINE,
            "; ".join(dict.fromkeys(details)) or "no usable revocation evidence",
            unknown_warnings,
        )
    responder = None
    if (
        deciding is not None
        and rep.status_at_validation_time is not RevocationState.OFFLINE  # it settled
        and deciding.outcome.method == "ocsp"
        and deciding.outcome.responder_delegated
        and deciding.outcome.raw is not None
    ):
        raw = deciding.outcome.raw
        outcomes = ctx.outcomes  # audit: found once per response
        responder = responder_certificate(raw) if outcomes is None else outcomes.responder(raw)
    return CertRevocation(
        report=rep,
        settled_by_embedded=settled_embedded,
        evidence_revision=evidence_revision,
        has_embedded_data=has_data,
        responder=responder,
    )


def responder_certificate(der: bytes) -> x509.Certificate | None:
    """RFC 6960 §4.2.2.3: the certificate carried in a BasicOCSPResponse that its ResponderID
    names (by subject, or by the SHA-1 hash of the public key). The response itself was
    already authenticated by ltv.evidence; this only finds the certificate again to report it."""
    from asn1crypto import ocsp
    from asn1crypto import x509 as asn1_x509

    from ltv.evidence._crypto import MALFORMED

    try:
        basic = ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
        rid = basic["tbs_response_data"]["responder_id"]
        for cert in basic["certs"] or []:
            if not isinstance(cert, asn1_x509.Certificate):
                continue
            if rid.name == "by_name" and rid.chosen == cert.subject:
                return cert
            if rid.name == "by_key" and rid.chosen.native == cert.public_key.sha1:
                return cert
    except MALFORMED:
        return None
    return None


def responder_report(cert: x509.Certificate) -> RevocationReport:
    """A delegated OCSP responder's own status, reported honestly: ltv does not chase the
    responder's revocation; with id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1) the CA says no
    client needs to."""
    from ltv.evidence._crypto import MALFORMED

    try:
        nocheck = cert.ocsp_no_check_value is not None
    except MALFORMED:
        nocheck = False
    detail = (
        "ocsp-nocheck: trusted for its validity without a revocation check (RFC 6960 §4.2.2.2.1)"
        if nocheck
        else "OCSP responder without ocsp-nocheck: its revocation was not checked"
    )
    return RevocationReport(
        status=RevocationState.NOT_CHECKED,
        detail=detail,
        status_at_validation_time=RevocationState.NOT_CHECKED,
    )
