"""The one orchestrator: what a file *is* (:func:`examine`), what it is *worth* (:func:`judge`),
and the report built once, at the end, from their results (:func:`build_report`).

The checklist, per file (each step a function of its inputs, the policy and an explicit time):

:func:`examine` — timeless, once per file content (``ltv audit`` stores it by SHA-256):

1. extract  (ltv.pipeline.extract): signatures, document timestamps, revisions, DSS/VRI, CMS
   evidence, certificates; a field whose value cannot be parsed is a broken signature.
2. integrity (ltv.pipeline.integrity): ByteRange digest, CMS signature, coverage;
   2b. modifications after signing (ltv.pipeline.integrity / diff_policy).
3a. tokens (ltv.tst): every RFC 3161 token bound to its TSA signature and certificate, its
   imprint to what it covers — no trust, no time.

:func:`judge` — time, trust and policy:

0. Time comes first (sigstore's step 0): document timestamps are judged outermost first — the
   outermost at ``now`` (or ``at``), each earlier one at the genTime of the next trusted one that
   covers it — so every POE is established before any signer chain is judged.
3. timestamp (ltv.pipeline.timestamp): a signature timestamp's TSA chain at the first trusted
   document timestamp covering it (else the base time); a trusted genTime is the POE. Otherwise a
   covering document timestamp stands in (policy), else ``at``, else now.
4. chain at the POE (ltv.pipeline.chain)
5. revocation at the POE (ltv.pipeline.revocation), fetching only as the policy allows, through
   the transport handed in (in a worker thread: the event loop is never blocked by a socket)
6. verdict (ltv.pipeline.verdict)

Failures of a check are data. An exception raised by a parser or by pyHanko/certvalidator on a
signature's data (ltv._boundary) becomes that signature's reason; an exception in ltv's own code
propagates (the caller reports "internal error": a bug to fix, never a verdict).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from ltv.certs import fingerprint
from ltv.names import name_str
from ltv.pipeline.facts import DocumentFacts, SignatureFacts, TokenFacts
from ltv.policy import Online, ValidationPolicy
from ltv.report import (
    CertificateReport,
    CertRole,
    FileInfo,
    Indication,
    Level,
    NetworkReport,
    PolicyRef,
    QualificationReport,
    Report,
    RevocationReport,
    RevocationState,
    SignatureReport,
    SignerReport,
    SubIndication,
    TimeSource,
    TimestampReport,
    TrustServiceRef,
    aggregate,
    rfc3339,
)

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.audit.cache import JudgementCache
    from ltv.evidence.http import Transport
    from ltv.limits import Limits
    from ltv.pipeline.chain import ChainResult
    from ltv.pipeline.extract import ExtractedSignature
    from ltv.pipeline.revocation import CertRevocation, RevocationContext
    from ltv.pipeline.timestamp import TokenResult
    from ltv.trust import TrustStore

__all__ = ["CertificateCache", "build_report", "examine", "judge", "unevaluable_report"]

_log = logging.getLogger("ltv.verify")
_T = TypeVar("_T")
_CHUNK = 1 << 20


# -- (1)-(3a) what the file is ---------------------------------------------------------------


def _content_digest(data: bytes | BinaryIO) -> tuple[str, int]:
    """SHA-256 and size, streaming over a file (never a full copy in memory)."""
    if isinstance(data, bytes | bytearray):
        return hashlib.sha256(data).hexdigest(), len(data)
    md = hashlib.sha256()
    size = 0
    data.seek(0)
    while chunk := data.read(_CHUNK):
        md.update(chunk)
        size += len(chunk)
    data.seek(0)
    return md.hexdigest(), size


def _broken_facts(
    field: str,
    kind: str,
    reason: str,
    *,
    revision: int | None = None,
    unsupported: bool = False,
) -> SignatureFacts:
    """A signature present but unusable: TOTAL-FAILED / FORMAT_FAILURE with the reason — or,
    for a format ltv does not implement, INDETERMINATE / GENERIC (it may well be valid)."""
    from ltv.pipeline.integrity import IntegrityResult
    from ltv.report import Coverage, IntegrityReport, Modifications

    return SignatureFacts(
        field=field,
        kind="document-timestamp" if kind == "document-timestamp" else "signature",
        revision=revision,
        subfilter=None,
        integrity=IntegrityResult(
            report=IntegrityReport(
                intact=False,
                valid=False,
                coverage=Coverage.PARTIAL,
                modifications=Modifications.NONE,
            ),
            failure=SubIndication.GENERIC if unsupported else SubIndication.FORMAT_FAILURE,
            reasons=(reason,),
        ),
        signer_cert=None,
        signer_problem=reason,
        parsed=False,
    )


def _signature_facts(
    sig: ExtractedSignature, extra_certs: list[x509.Certificate]
) -> SignatureFacts:
    from ltv.pipeline.integrity import check_integrity, from_pyhanko
    from ltv.pipeline.timestamp import imprint_of_signature
    from ltv.tst import check_token

    emb = sig.embedded
    if sig.kind == "document-timestamp":
        # (3a) RFC 3161 §2.4.2: a document timestamp's imprint is H(ByteRange)
        check = check_token(emb.signed_data, emb.compute_digest, extra_certs=extra_certs)
        integrity = check_integrity(sig, token=check)
        return SignatureFacts(
            field=sig.field,
            kind="document-timestamp",
            revision=sig.revision,
            subfilter=sig.subfilter,
            integrity=integrity,
            signer_cert=None if check.tsa_cert is None else check.tsa_cert.dump(),
            tokens=(TokenFacts.from_check(check),),
            digest_algorithm=integrity.md_algorithm,
        )
    integrity = check_integrity(sig)
    # (3a) ETSI EN 319 122-1 §5.3: a signature timestamp's imprint is H(SignerInfo.signature)
    imprint = imprint_of_signature(sig.content_sig_bytes)
    tokens = tuple(
        TokenFacts.from_check(check_token(tst, imprint, extra_certs=extra_certs))
        for tst in sig.signature_tsts
    )
    signer_der: bytes | None = None
    problem: str | None = None
    sub: SubIndication | None = None
    try:
        signer_der = emb.signer_cert.dump()
    except Exception as err:  # pyHanko's CMS signer identification on this input
        from ltv._boundary import describe

        sub = from_pyhanko(getattr(err, "ades_subindication", None))
        problem = getattr(err, "failure_message", None) or describe(err)
    return SignatureFacts(
        field=sig.field,
        kind="signature",
        revision=sig.revision,
        subfilter=sig.subfilter,
        integrity=integrity,
        signer_cert=signer_der,
        signer_problem=problem,
        signer_subindication=sub,
        tokens=tokens,
        digest_algorithm=integrity.md_algorithm,
    )


def _with_unexplained(sig: SignatureFacts, found: list[str], revisions: int) -> SignatureFacts:
    """Content outside every revision is a change after *every* signature that no rule
    explains (ltv.pipeline.hidden): class ``other``; the verdict cannot be TOTAL-PASSED."""
    import dataclasses

    from ltv.report import ModificationEntry, Modifications

    integ = sig.integrity
    mods = integ.modifications
    entry = ModificationEntry(cls="other", revision=revisions, allowed=False, details=tuple(found))
    reason = "changed after signing in a way ltv cannot judge harmless: " + "; ".join(found)
    effect = mods.effect if mods.effect == "failed" else "indeterminate"
    mods = dataclasses.replace(
        mods,
        classes=(*mods.classes, entry),
        effect=effect,
        reasons=(*mods.reasons, reason),
        level=Modifications.OTHER,
    )
    report = dataclasses.replace(integ.report, modifications=Modifications.OTHER)
    return dataclasses.replace(
        sig, integrity=dataclasses.replace(integ, modifications=mods, report=report)
    )


def examine(data: bytes | BinaryIO, limits: Limits | None = None) -> DocumentFacts:
    """Stages 1-3a. :class:`~ltv.errors.InputError` when the file cannot be read as a PDF at
    all (:class:`~ltv.limits.LimitError` when it exceeds one of ``limits``); a signature that
    cannot be processed is a broken signature in the facts."""
    from ltv._boundary import describe, library_fault
    from ltv.pipeline.extract import extract

    sha256, size = _content_digest(data)
    ex = extract(data, limits)
    signatures: list[SignatureFacts] = []
    for sig in ex.signatures:
        try:
            signatures.append(_signature_facts(sig, ex.certificates))
        except Exception as err:
            library = library_fault(err)
            if library is None:
                raise
            _log.debug("%s failed on field %s", library, sig.field, exc_info=True)
            signatures.append(
                _broken_facts(
                    sig.field,
                    sig.kind,
                    f"cannot be processed: {library} failed on its data ({describe(err)})",
                    revision=sig.revision,
                )
            )
    if ex.unexplained:
        signatures = [_with_unexplained(s, ex.unexplained, ex.revisions) for s in signatures]
    signatures.extend(
        _broken_facts(b.field, b.kind, b.reason, unsupported=b.unsupported) for b in ex.broken
    )
    warnings = [*ex.warnings, *ex.unexplained]
    if ex.repaired is not None:
        repairs = list(dict.fromkeys(ex.repaired.repairs))
        shown = "; ".join(repairs[:3]) + (
            f"; and {len(repairs) - 3} more" if len(repairs) > 3 else ""
        )
        warnings.insert(
            0,
            "damaged PDF structure (cross-reference pointers), read by scanning the original "
            f"bytes without rewriting them: {shown or 'sections located by scanning'}",
        )
    return DocumentFacts(
        sha256=sha256,
        size=size,
        revisions=ex.revisions,
        signatures=tuple(signatures),
        certificates=tuple(dict.fromkeys(c.dump() for c in ex.certificates)),
        evidence=tuple(ex.evidence),
        warnings=tuple(warnings),
    )


# -- (0), (3)-(6) what it is worth -------------------------------------------------------------


class CertificateCache:
    """DER → parsed certificate, shared by every judgement that is given it (one per batch)."""

    def __init__(self) -> None:
        self._parsed: dict[bytes, x509.Certificate] = {}

    def get(self, der: bytes) -> x509.Certificate:
        cert = self._parsed.get(der)
        if cert is None:
            from asn1crypto import x509 as asn1_x509

            cert = self._parsed[der] = asn1_x509.Certificate.load(der)
        return cert

    def many(self, ders: Sequence[bytes]) -> list[x509.Certificate]:
        return [self.get(d) for d in ders]


def _cert_sha256(cert: x509.Certificate) -> str:
    return fingerprint(cert)


def _signer_report(cert: x509.Certificate, cache: JudgementCache | None = None) -> SignerReport:
    if cache is not None:  # audit: once per certificate
        return cache.per_certificate("signer-report", cert, _signer_report)
    validity = cert["tbs_certificate"]["validity"]
    return SignerReport(
        subject=name_str(cert.subject),
        issuer=name_str(cert.issuer),
        serial=format(cert.serial_number, "x"),
        sha256=_cert_sha256(cert),
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
    )


def _cert_report(
    cert: x509.Certificate,
    role: CertRole,
    rev: RevocationReport,
    cache: JudgementCache | None = None,
) -> CertificateReport:
    s = _signer_report(cert, cache)
    return CertificateReport(
        subject=s.subject,
        issuer=s.issuer,
        serial=s.serial,
        sha256=s.sha256,
        role=role,
        not_before=s.not_before,
        not_after=s.not_after,
        revocation=rev,
    )


@dataclass(frozen=True)
class _CheckedChain:
    reports: tuple[CertificateReport, ...]
    revocations: tuple[CertRevocation | None, ...]


def _not_checked(detail: str) -> RevocationReport:
    return RevocationReport(status=RevocationState.NOT_CHECKED, detail=detail)


async def _check_chain_revocation(
    chain: ChainResult,
    *,
    at: datetime,
    ctx: RevocationContext,
    leaf_role: CertRole,
    cache: JudgementCache | None = None,
) -> _CheckedChain:
    from ltv.pipeline.revocation import check_certificate, responder_report

    reports: list[CertificateReport] = []
    revs: list[CertRevocation | None] = []
    responders: dict[str, x509.Certificate] = {}
    path = chain.path
    for i, cert in enumerate(path):
        role: CertRole = leaf_role if i == 0 else "ca"
        is_anchor = chain.anchor_included and i == len(path) - 1
        if is_anchor:
            reports.append(
                _cert_report(cert, role, _not_checked("trust anchor: not checked"), cache)
            )
            revs.append(None)
        elif chain.problem is not None or i + 1 >= len(path):
            reports.append(_cert_report(cert, role, _not_checked("chain not validated"), cache))
            revs.append(None)
        else:
            if ctx.online is Online.NEVER:
                rev = check_certificate(cert, path[i + 1], at=at, ctx=ctx)
            else:  # a fetch may block on a socket: never inside the event loop
                rev = await asyncio.to_thread(check_certificate, cert, path[i + 1], at=at, ctx=ctx)
            reports.append(_cert_report(cert, role, rev.report, cache))
            revs.append(rev)
            if rev.responder is not None:
                responders.setdefault(_cert_sha256(rev.responder), rev.responder)
    # RFC 6960 §4.2.2.2: delegated responders that settled a status, after the path
    in_path = {r.sha256 for r in reports}
    for digest, responder in responders.items():
        if digest not in in_path:
            if cache is None:
                rep = _cert_report(responder, "responder", responder_report(responder))
            else:  # audit: a pure function of the certificate, once
                rep = cache.per_certificate(
                    "responder-report",
                    responder,
                    lambda r: _cert_report(r, "responder", responder_report(r), cache),
                )
            reports.append(rep)
    return _CheckedChain(tuple(reports), tuple(revs))


def _algorithm_problem(
    policy: ValidationPolicy,
    at: datetime,
    digests: Sequence[str | None],
    certs: Sequence[x509.Certificate],
) -> str | None:
    """ETSI EN 319 102-1 §5.2.8: algorithms must be acceptable at the POE."""
    from ltv.keys import key_facts

    used_digests = {d.lower() for d in digests if d}
    keys: list[tuple[str, int]] = []
    for i, cert in enumerate(certs):
        facts = key_facts(cert.public_key)
        if facts.bits is not None:
            keys.append((facts.algorithm, facts.bits))
        try:
            if i < len(certs) - 1 or cert.self_signed != "maybe":
                used_digests.add(str(cert["signature_algorithm"].hash_algo).lower())
        except (ValueError, KeyError):
            continue
    for rule in policy.disallowed_algorithms:
        if at < rule.since:
            continue
        if rule.min_key_size is None and rule.algorithm in used_digests:
            return f"algorithm {rule.describe()} used; validation time {rfc3339(at)}"
        if rule.min_key_size is not None:
            for algo, bits in keys:
                if algo == rule.algorithm and bits < rule.min_key_size:
                    return f"{algo.upper()} key of {bits} bits: {rule.describe()}"
    return None


def _cert_statuses(reports: Sequence[CertificateReport]) -> tuple[object, ...]:
    from ltv.pipeline.verdict import CertStatus

    return tuple(
        CertStatus(
            subject=r.subject,
            is_leaf=i == 0,
            status_at_t=r.revocation.status_at_validation_time,
            detail=r.revocation.detail,
            revoked_at=r.revocation.revoked_at,
        )
        for i, r in enumerate(reports)
        if r.role != "responder"
    )


def _ltv_enabled(
    chain: ChainResult, checked: _CheckedChain, tsa_data: bool | None, timestamped: bool
) -> bool | None:
    """Acrobat's "LTV enabled": validation data in the file for every certificate of the
    signer's chain and of the signature timestamp's TSA chain (trust anchors need none)."""
    if chain.problem is not None:
        return None
    signer_data = all(r.has_embedded_data for r in checked.revocations if r is not None)
    if not timestamped:
        return signer_data
    if tsa_data is None:
        return None
    return signer_data and tsa_data


@dataclass(frozen=True)
class _TsaChain:
    reports: tuple[CertificateReport, ...]
    problems: list[str]
    revoked: bool
    has_data: bool
    """The file carries validation data for every certificate of the TSA chain below the
    anchor (ETSI EN 319 142-1 §6.3, needed for B-LT)."""


class _Judge:
    """One file's judgement: the facts, the policy, the times, the transport."""

    def __init__(
        self,
        facts: DocumentFacts,
        policy: ValidationPolicy,
        *,
        now: datetime,
        at: datetime | None,
        transport: Transport,
        certificates: CertificateCache,
        cache: JudgementCache | None = None,
    ) -> None:
        from ltv.pipeline.revocation import RevocationContext

        self.facts = facts
        self.policy = policy
        self.now = now
        self.base_time = at or now
        self.base_source = TimeSource.AT_OPTION if at else TimeSource.NOW
        self.certs = certificates
        self.pool = certificates.many(facts.certificates)
        # PEM anchors may be absent when a trust store is given; the store's plain anchors join
        # them by role, its services are added per moment (signer chain, TSA chains)
        self.cache = cache  # audit: None outside an audit (the default behaviour is unchanged)

        def _asn1(store: TrustStore | None) -> list[x509.Certificate]:
            if store is None:
                return []
            return store.asn1() if cache is None else cache.anchors(store)

        self.signer_anchors = _asn1(policy.trust)
        self.tsa_anchors = (
            _asn1(policy.tsa_trust) if policy.tsa_trust is not None else self.signer_anchors
        )
        self.store = policy.trust_store
        if self.store is not None:
            from ltv.trustlists.assess import plain_anchors

            self.signer_anchors = [*self.signer_anchors, *plain_anchors(self.store, "signer")]
            self.tsa_anchors = [*self.tsa_anchors, *plain_anchors(self.store, "tsa")]
        self.ctx = RevocationContext(
            evidence=list(facts.evidence),
            client=transport,
            now=now,  # the moment of judgement: evidence dated after it is ignored
            online=policy.online,
            max_age=policy.max_evidence_age,
            unknown_is_fatal=policy.unknown_is_fatal,
            outcomes=None if cache is None else cache.outcomes,
        )

    async def token(self, token: TokenFacts, chain_moment: datetime) -> TokenResult:
        from ltv.pipeline.timestamp import judge_token

        result = await judge_token(
            token,
            tsa_cert=None if token.tsa_cert is None else self.certs.get(token.tsa_cert),
            token_certs=self.certs.many(token.other_certs),
            anchors=self.tsa_anchors,
            other_certs=self.pool,
            chain_moment=chain_moment,
            anchors_at=self.tsa_services_at(),
            chain_cache=None if self.cache is None else self.cache.chains,
        )
        return await self.explain_tsa(result)

    # -- trusted lists (ltv.trustlists.assess) -------------------------------------------------

    def tsa_services_at(
        self,
    ) -> Callable[[datetime, list[x509.Certificate]], list[x509.Certificate]] | None:
        """TSA services granted at a token's genTime, as extra TSA anchors (None: no store)."""
        store = self.store
        if store is None:
            return None
        from ltv.trustlists.assess import tsa_anchors_at

        return lambda gen_time, at_hand: [
            cert for cert, _ in tsa_anchors_at(store, gen_time, relevant_to=at_hand)
        ]

    async def explain_tsa(self, token: TokenResult) -> TokenResult:
        """A TSA chain ending at a listed service not granted at genTime: say which, and its
        status then, among the token's problems."""
        import dataclasses

        store = self.store
        if (
            store is None
            or token.chain is None
            or token.tsa_cert is None
            or token.gen_time is None
            or token.chain.problem is not SubIndication.NO_CERTIFICATE_CHAIN_FOUND
        ):
            return token
        from ltv.trustlists.assess import explain_untrusted

        why = await explain_untrusted(
            store, token.tsa_cert, self.pool, token.chain_moment, token.gen_time, "tsa"
        )
        if why is None:
            return token
        return dataclasses.replace(token, problems=(*token.problems, f"TSA: {why}"))

    def qualification(
        self,
        signer_cert: x509.Certificate,
        chain: ChainResult,
        services: list[tuple[x509.Certificate, TrustServiceRef]],
        vt: datetime,
        indication: Indication,
        poe_token: TokenResult | None,
    ) -> QualificationReport:
        """ETSI TS 119 615 / eIDAS: the signature's class and the timestamp's, from the trusted
        lists' services and their history at the validation time."""
        from ltv.trustlists.assess import (
            anchor_ref,
            qualification_report,
            qualify,
            qualify_timestamp,
            tsa_anchors_at,
        )

        store = self.store
        assert store is not None  # noqa: S101 - called only with a store
        ok = chain.problem is None
        deciding = anchor_ref(services, chain.path[-1]) if ok else None
        q = qualify(signer_cert, list(chain.path) if ok else [], deciding, vt, store)
        ts_class: str | None = None
        ts_service: TrustServiceRef | None = None
        if poe_token is not None and poe_token.chain is not None and poe_token.gen_time:
            # the TSA certificate or a CA above it may be the listed TSA service
            granted = tsa_anchors_at(store, poe_token.gen_time, relevant_to=poe_token.chain.path)
            for cert in poe_token.chain.path:
                ts_service = anchor_ref(granted, cert)
                if ts_service is not None:
                    break
            ts_class = qualify_timestamp(ts_service)
        return qualification_report(
            q,
            passed=indication is Indication.TOTAL_PASSED,
            timestamp=ts_class,
            timestamp_service=ts_service,
        )

    async def tsa_chain(self, token: TokenResult) -> _TsaChain:
        if token.chain is None:
            return _TsaChain((), [], False, False)
        checked = await _check_chain_revocation(
            token.chain, at=token.chain_moment, ctx=self.ctx, leaf_role="tsa", cache=self.cache
        )
        problems: list[str] = []
        revoked = False
        for rep in checked.reports:
            st = rep.revocation.status_at_validation_time
            if st is RevocationState.REVOKED:
                revoked = True
                problems.append(f"TSA chain: {rep.subject} revoked")
            elif st in (RevocationState.UNKNOWN, RevocationState.OFFLINE):
                problems.append(
                    f"TSA chain: {rep.subject}: revocation {st} ({rep.revocation.detail})"
                )
        has_data = token.chain.problem is None and all(
            r.has_embedded_data for r in checked.revocations if r is not None
        )
        return _TsaChain(checked.reports, problems, revoked, has_data)

    @staticmethod
    def timestamp_report(
        token: TokenResult, chain: _TsaChain, trusted: bool
    ) -> TimestampReport | None:
        if token.gen_time is None:
            return None
        return TimestampReport(
            gen_time=token.gen_time,
            tsa=name_str(token.tsa_cert.subject) if token.tsa_cert is not None else "",
            imprint_ok=token.imprint_ok,
            signature_ok=token.signature_ok,
            trusted=trusted,
            chain_checked_at=token.chain_moment,
            chain=chain.reports,
            problems=tuple(dict.fromkeys([*token.problems, *chain.problems])),
        )

    # -- (0) document timestamps, outermost first ---------------------------------------------

    async def document_timestamp(
        self, doc: SignatureFacts, moment: datetime, moment_is_poe: bool
    ) -> tuple[SignatureReport, datetime | None, bool]:
        """→ (report, genTime if trusted, whether the file has validation data for its TSA
        chain)."""
        from ltv.pipeline.verdict import Facts, decide

        integ = doc.integrity
        if not doc.parsed or not doc.tokens:
            return self.unparsed(doc), None, False
        token = await self.token(doc.tokens[0], moment)
        tsa = await self.tsa_chain(token)
        chain = token.chain
        algo = _algorithm_problem(
            self.policy, moment, [*token.md_algorithms], list(chain.path) if chain else []
        )
        chain_problem = chain.problem if chain else (token.failure or SubIndication.FORMAT_FAILURE)
        chain_reason = chain.reason if chain else "; ".join(token.problems)
        if not token.existed_by_then and chain_problem is None:
            # EN 319 102-1 §5.6.2.2: a POE is an instant the object existed at; a genTime after
            # the moment of judgement breaks the order of proofs of existence
            chain_problem = SubIndication.TIMESTAMP_ORDER_FAILURE
            chain_reason = "; ".join(token.problems)
        facts = Facts(
            kind="document-timestamp",
            integrity_failure=integ.failure,
            integrity_reasons=integ.reasons,
            time_source=TimeSource.DOCUMENT_TIMESTAMP if moment_is_poe else self.base_source,
            validation_time=moment,
            algorithm_problem=algo,
            chain_problem=chain_problem,
            chain_reason=chain_reason,
            certs=_cert_statuses(tsa.reports),  # type: ignore[arg-type]
            revocation_required=self.policy.tsa_revocation_required,
            modifications=integ.modifications,
        )
        d = decide(facts)
        trusted = d.indication is Indication.TOTAL_PASSED and token.trusted and not tsa.revoked
        report = SignatureReport(
            field=doc.field,
            kind="document-timestamp",
            indication=d.indication,
            subindication=d.subindication,
            reasons=d.reasons,
            warnings=tuple(dict.fromkeys([*integ.warnings, *d.warnings])),
            level=None,
            signer=(
                _signer_report(token.tsa_cert, self.cache) if token.tsa_cert is not None else None
            ),
            integrity=integ.report,
            timestamp=self.timestamp_report(token, tsa, trusted),
            validation_time=moment,
            validation_time_source=facts.time_source,
            chain=tsa.reports,
            revision=doc.revision,
            modifications=integ.modifications.classes,
            ltv_enabled=tsa.has_data if token.chain and token.chain.problem is None else None,
        )
        return report, (token.gen_time if trusted else None), tsa.has_data

    # -- a signature --------------------------------------------------------------------------

    async def signature(
        self,
        sig: SignatureFacts,
        *,
        doc_poe: tuple[datetime, bool] | None,
        doc_revisions: list[int],
    ) -> SignatureReport:
        from ltv.pipeline.chain import validate_chain
        from ltv.pipeline.verdict import Facts, decide

        if not sig.parsed:
            return self.unparsed(sig)
        policy = self.policy
        integ = sig.integrity
        warnings: list[str] = list(integ.warnings)  # tolerated changes after signing
        # (3) signature timestamp: TSA chain at the first covering trusted doc TST, else base
        ts_report: TimestampReport | None = None
        poe: datetime | None = None
        poe_tsa_data = False  # validation data for the chain of the TSA that gave the POE
        tsa_data: bool | None = None  # ... for the signature timestamp's TSA chain (Acrobat)
        poe_token: TokenResult | None = None  # its TSA service decides QTST (trusted lists)
        chain_moment = doc_poe[0] if doc_poe else self.base_time
        for token_facts in sig.tokens:
            token = await self.token(token_facts, chain_moment)
            tsa = await self.tsa_chain(token)
            lenient = not policy.tsa_revocation_required
            rev_ok = not tsa.revoked and (lenient or not tsa.problems)
            trusted = token.trusted and rev_ok
            ts_report = self.timestamp_report(token, tsa, trusted)
            if tsa_data is None or trusted:
                known = token.chain is not None and token.chain.problem is None
                tsa_data = tsa.has_data if known else None
            if trusted:
                poe, poe_tsa_data, poe_token = token.gen_time, tsa.has_data, token
                warnings.extend(p for p in tsa.problems if not tsa.revoked)
                break
            warnings.extend(
                f"signature timestamp not usable as proof of existence: {p}"
                for p in (*token.problems, *tsa.problems)
            )
        if poe is not None:
            vt, source = poe, TimeSource.SIGNATURE_TIMESTAMP
        elif doc_poe is not None and policy.doc_timestamp_as_poe:
            (vt, poe_tsa_data), source = doc_poe, TimeSource.DOCUMENT_TIMESTAMP
        else:
            vt, source = self.base_time, self.base_source

        # (4) chain at the validation time
        if sig.signer_cert is None:
            failure = integ.failure or sig.signer_subindication
            failure = failure or SubIndication.NO_SIGNING_CERTIFICATE_FOUND
            from ltv.pipeline.verdict import indication_for

            return SignatureReport(
                field=sig.field,
                kind="signature",
                indication=indication_for(failure),
                subindication=failure,
                reasons=(
                    *integ.reasons,
                    f"signing certificate not identified: {sig.signer_problem}",
                    *(() if integ.failure else integ.modifications.reasons),
                ),
                level=None,
                signer=None,
                integrity=integ.report,
                timestamp=ts_report,
                validation_time=vt,
                validation_time_source=source,
                chain=(),
                warnings=tuple(warnings),
                revision=sig.revision,
                modifications=integ.modifications.classes,
            )
        signer_cert = self.certs.get(sig.signer_cert)
        services: list[tuple[x509.Certificate, TrustServiceRef]] = []
        if self.store is not None:  # trusted lists: CA services granted at the validation time
            from ltv.trustlists.assess import signer_anchors_at

            services = signer_anchors_at(self.store, vt, relevant_to=[signer_cert, *self.pool])
        chain = await validate_chain(
            signer_cert,
            anchors=[*self.signer_anchors, *(cert for cert, _ in services)],
            other_certs=self.pool,
            moment=vt,
            purpose="signer",
            cache=None if self.cache is None else self.cache.chains,
        )
        if self.store is not None and chain.problem is SubIndication.NO_CERTIFICATE_CHAIN_FOUND:
            # trusted lists: name the service the chain ends at, and its status then
            import dataclasses

            from ltv.trustlists.assess import explain_untrusted

            why = await explain_untrusted(self.store, signer_cert, self.pool, vt, vt, "signer")
            if why is not None:
                chain = dataclasses.replace(chain, reason=why)
        # (5) revocation at the validation time
        checked = await _check_chain_revocation(
            chain, at=vt, ctx=self.ctx, leaf_role="signer", cache=self.cache
        )
        for r in checked.reports:
            warnings.extend(f"{r.subject}: {w}" for w in r.revocation.warnings)
        level = self.level(sig, source, chain, checked, poe_tsa_data, doc_revisions, warnings)
        algo = _algorithm_problem(policy, vt, [sig.digest_algorithm], list(chain.path))
        d = decide(
            Facts(
                kind="signature",
                integrity_failure=integ.failure,
                integrity_reasons=integ.reasons,
                time_source=source,
                validation_time=vt,
                algorithm_problem=algo,
                chain_problem=chain.problem,
                chain_reason=chain.reason,
                certs=_cert_statuses(checked.reports),  # type: ignore[arg-type]
                level=level,
                min_level=policy.min_level,
                modifications=integ.modifications,
            )
        )
        reasons = d.reasons
        if d.indication is not Indication.TOTAL_PASSED and ts_report and not ts_report.trusted:
            # say first *why* the signature was judged at this later time: its own timestamp
            # could not serve as proof of existence (e.g. its TSA expired, nothing renewed it)
            why = "; ".join(ts_report.problems) or "its TSA chain could not be validated"
            reasons = (
                f"signature timestamp not usable as proof of existence ({why}); "
                f"validated at {rfc3339(vt)} ({source}) instead",
                *reasons,
            )
        qualification: QualificationReport | None = None
        if self.store is not None:
            from ltv.trustlists.assess import stale_warning

            qualification = self.qualification(
                signer_cert, chain, services, vt, d.indication, poe_token
            )
            q = qualification
            warnings.extend(
                stale_warning(r) for r in (q.service, q.timestamp_service) if r and r.stale
            )
        return SignatureReport(
            field=sig.field,
            kind="signature",
            indication=d.indication,
            subindication=d.subindication,
            reasons=reasons,
            warnings=tuple(dict.fromkeys([*warnings, *d.warnings])),
            level=level,
            signer=_signer_report(signer_cert, self.cache),
            integrity=integ.report,
            timestamp=ts_report,
            validation_time=vt,
            validation_time_source=source,
            chain=checked.reports,
            revision=sig.revision,
            ltv_enabled=_ltv_enabled(chain, checked, tsa_data, bool(sig.tokens)),
            qualification=qualification,
            modifications=integ.modifications.classes,
        )

    @staticmethod
    def level(
        sig: SignatureFacts,
        source: TimeSource,
        chain: ChainResult,
        checked: _CheckedChain,
        poe_tsa_data: bool,
        doc_revisions: list[int],
        warnings: list[str],
    ) -> Level | None:
        """ETSI EN 319 142-1 §6: B-T = B-B + a trusted timestamp; B-LT = B-T + validation data
        in the file for the signer's chain (settling it at the POE) AND for the chain of the
        timestamp's TSA (§6.3, Table 1); B-LTA = B-LT + a document timestamp covering that
        data."""
        if sig.integrity.failure is not None:
            return None
        if source not in (TimeSource.SIGNATURE_TIMESTAMP, TimeSource.DOCUMENT_TIMESTAMP):
            return Level.B_B
        revs = [r for r in checked.revocations if r is not None]
        signer_data = bool(revs) and all(r.settled_by_embedded for r in revs)
        if chain.problem is not None or not signer_data:
            return Level.B_T
        if not poe_tsa_data:
            warnings.append(
                "no validation data in the file for the timestamp's TSA chain: "
                "level B-LT not reached"
            )
            return Level.B_T
        # a document timestamp covers its own revision, DSS updates included
        newest = max(r.evidence_revision or 0 for r in revs)
        signed = sig.revision or 0
        if any(rev > signed and rev >= newest for rev in doc_revisions):
            return Level.B_LTA
        return Level.B_LT

    def unparsed(self, sig: SignatureFacts) -> SignatureReport:
        """A signature present but unusable (its value cannot be parsed or processed)."""
        from ltv.pipeline.verdict import indication_for

        failure = sig.integrity.failure or SubIndication.FORMAT_FAILURE
        return SignatureReport(
            field=sig.field,
            kind=sig.kind,
            indication=indication_for(failure),
            subindication=failure,
            reasons=sig.integrity.reasons,
            level=None,
            signer=None,
            integrity=None,  # nothing could be checked: neither "intact" nor "altered"
            timestamp=None,
            validation_time=self.base_time,
            validation_time_source=self.base_source,
            chain=(),
            warnings=sig.integrity.warnings,
            revision=sig.revision,
        )

    def library_failure(self, sig: SignatureFacts, library: str, why: str) -> SignatureReport:
        """certvalidator/pyHanko/asn1crypto failed on this signature's data while judging it:
        INDETERMINATE with the cause (it may be valid; ltv cannot tell)."""
        return SignatureReport(
            field=sig.field,
            kind=sig.kind,
            indication=Indication.INDETERMINATE,
            subindication=SubIndication.GENERIC,
            reasons=(f"could not be evaluated: {library} failed on this signature's data ({why})",),
            modifications=sig.integrity.modifications.classes,
            level=None,
            signer=None,
            integrity=sig.integrity.report,
            timestamp=None,
            validation_time=self.base_time,
            validation_time_source=self.base_source,
            chain=(),
            warnings=sig.integrity.warnings,
            revision=sig.revision,
        )

    async def guarded(
        self, sig: SignatureFacts, work: Awaitable[_T], fallback: Callable[[SignatureReport], _T]
    ) -> _T:
        """``await work``; a library's failure on this signature's data becomes its report."""
        from ltv._boundary import describe, library_fault

        try:
            return await work
        except Exception as err:
            library = library_fault(err)
            if library is None:
                raise
            _log.debug("%s failed on %s", library, sig.field, exc_info=True)
            return fallback(self.library_failure(sig, library, describe(err)))

    async def run(self) -> list[SignatureReport]:
        out: dict[int, SignatureReport] = {}
        # (0)+(3) document timestamps, outermost first: each one's TSA chain is judged at the
        # genTime of the next trusted document timestamp (the outermost at --at/now)
        trusted_docs: list[tuple[int, datetime, bool]] = []  # (revision, genTime, TSA data)
        next_poe: datetime | None = None
        for doc in reversed(self.facts.document_timestamps):
            moment = next_poe or self.base_time
            poe_given = next_poe is not None
            report, trusted_time, tsa_data = await self.guarded(
                doc,
                self.document_timestamp(doc, moment, poe_given),
                lambda failed: (failed, None, False),
            )
            out[id(doc)] = report
            if trusted_time is not None and doc.revision is not None:
                trusted_docs.append((doc.revision, trusted_time, tsa_data))
                next_poe = trusted_time
        trusted_docs.sort()
        for sig in self.facts.signatures:
            if sig.kind != "signature":
                continue
            signed = sig.revision if sig.revision is not None else -1
            covering = [(t, data) for rev, t, data in trusted_docs if rev > signed]
            revisions = [rev for rev, _, _ in trusted_docs]
            out[id(sig)] = await self.guarded(
                sig,
                self.signature(
                    sig, doc_poe=covering[0] if covering else None, doc_revisions=revisions
                ),
                lambda failed: failed,
            )
        return [out[id(s)] for s in self.facts.signatures]


async def judge(
    facts: DocumentFacts,
    policy: ValidationPolicy,
    *,
    now: datetime,
    at: datetime | None,
    transport: Transport,
    certificates: CertificateCache | None = None,
    cache: JudgementCache | None = None,
) -> list[SignatureReport]:
    """Stages 0 and 3-6 for every signature of ``facts``, at ``now`` (``at``: the fallback
    time for signatures without a trusted timestamp). ``cache`` (audit): chains, evidence
    checks and certificates shared across the documents of an archive (``ltv.audit.cache``);
    the reports are the same with or without it."""
    if now.tzinfo is None or (at is not None and at.tzinfo is None):
        raise ValueError("times must be timezone-aware")
    judge_ = _Judge(
        facts,
        policy,
        now=now,
        at=at,
        transport=transport,
        certificates=certificates or (cache.certificates if cache else None) or CertificateCache(),
        cache=cache,
    )
    return await judge_.run()


# -- the report ----------------------------------------------------------------------------------


def _evidence_summary(facts: DocumentFacts) -> tuple[tuple[str, str, int], ...]:
    counts: dict[tuple[str, str], int] = {}
    for item in facts.evidence:
        for source in item.sources:
            counts[(source, item.kind)] = counts.get((source, item.kind), 0) + 1
    return tuple((src, kind, n) for (src, kind), n in sorted(counts.items()))


def build_report(
    *,
    path: str,
    facts: DocumentFacts,
    signatures: Sequence[SignatureReport],
    policy: ValidationPolicy,
    now: datetime,
    urls: Sequence[str] = (),
) -> Report:
    """The report, built once from the facts and the judgement."""
    from ltv import __version__

    error = None
    if not signatures:
        error = "no signature found"
        if facts.warnings:
            error += ": " + "; ".join(facts.warnings)
    return Report(
        ltv_version=__version__,
        file=FileInfo(path=path, sha256=facts.sha256, bytes=facts.size),
        checked_at=now,
        policy=PolicyRef(name=policy.name, online=str(policy.online)),
        indication=aggregate([s.indication for s in signatures]),
        signatures=tuple(signatures),
        network=NetworkReport(requests=len(urls), urls=tuple(urls)),
        warnings=facts.warnings,
        evidence=_evidence_summary(facts),
        error=error,
    )


def unevaluable_report(
    *,
    path: str,
    sha256: str,
    size: int,
    policy: ValidationPolicy,
    now: datetime,
    message: str,
) -> Report:
    """A file that could not be evaluated at all (exit 4)."""
    from ltv import __version__

    return Report(
        ltv_version=__version__,
        file=FileInfo(path=path, sha256=sha256, bytes=size),
        checked_at=now,
        policy=PolicyRef(name=policy.name, online=str(policy.online)),
        indication=Indication.NO_SIGNATURE,
        signatures=(),
        error=message,
    )


def digest_of(data: bytes | BinaryIO) -> tuple[str, int]:
    """SHA-256 (hex) and size of a document given as bytes or a seekable binary stream."""
    return _content_digest(data)
