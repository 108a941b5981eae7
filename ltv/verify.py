"""Verifier: runs the pipeline (extract → integrity → timestamp → chain → revocation → verdict).

The checklist, per file (each step a function of its inputs, the policy and an explicit time):

0. Time comes first (sigstore's step 0): document timestamps are validated outermost first —
   the outermost at ``--at``/now, each earlier one at the genTime of the next trusted one that
   covers it — so every POE is established before any chain is judged.
1. extract  (ltv.pipeline.extract)
2. integrity (ltv.pipeline.integrity)
3. timestamp (ltv.pipeline.timestamp): the signature timestamp, its TSA chain validated at the
   first trusted document timestamp covering it (else now); a trusted genTime is the POE.
   Otherwise a covering document timestamp stands in (policy), else ``--at``, else now.
4. chain at the POE (ltv.pipeline.chain)
5. revocation at the POE (ltv.pipeline.revocation)
6. verdict (ltv.pipeline.verdict)

There is no hidden clock: ``now`` comes from the caller or from the ``clock`` the Verifier was
given (default: UTC wall clock), and every stage receives its time explicitly.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ltv.errors import InputError, LtvError
from ltv.names import name_str
from ltv.policy import Online, ValidationPolicy
from ltv.report import (
    CertificateReport,
    CertRole,
    FileInfo,
    Indication,
    Level,
    NetworkReport,
    PolicyRef,
    Report,
    RevocationReport,
    RevocationState,
    SignatureReport,
    SignerReport,
    SubIndication,
    TimeSource,
    TimestampReport,
    aggregate,
    rfc3339,
)

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.evidence.http import Transport
    from ltv.pipeline.chain import ChainResult
    from ltv.pipeline.extract import Extracted, ExtractedSignature
    from ltv.pipeline.integrity import IntegrityResult
    from ltv.pipeline.revocation import CertRevocation, RevocationContext
    from ltv.pipeline.timestamp import TokenResult

__all__ = ["PYHANKO_LOGGERS", "Verifier", "keep_library_logs_off_stderr", "utc_now"]

_log = logging.getLogger("ltv.verify")

PYHANKO_LOGGERS = ("pyhanko", "pyhanko_certvalidator")
"""Loggers of the libraries the pipeline wraps."""


def keep_library_logs_off_stderr() -> None:
    """pyHanko logs the failures it hands back to us with a traceback
    (``logger.warning(..., exc_info=True)``: an expired signer, a path not found, a diff
    error). For ltv those failures are report data, not crashes. Python prints such records
    to stderr only through its *last-resort* handler, i.e. when the host application configured
    no logging at all; a ``NullHandler`` on each wrapped library's logger switches exactly that
    off (the usual library etiquette) while records still propagate to any handler the host
    did configure. Idempotent."""
    for name in PYHANKO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


def utc_now() -> datetime:
    """The default clock (the only place ltv reads the wall clock)."""
    return datetime.now(UTC)


def _cert_sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def _name(cert: x509.Certificate) -> str:
    return name_str(cert.subject)


def _signer_report(cert: x509.Certificate) -> SignerReport:
    validity = cert["tbs_certificate"]["validity"]
    return SignerReport(
        subject=_name(cert),
        issuer=name_str(cert.issuer),
        serial=format(cert.serial_number, "x"),
        sha256=_cert_sha256(cert),
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
    )


def _cert_report(
    cert: x509.Certificate, role: CertRole, rev: RevocationReport
) -> CertificateReport:
    s = _signer_report(cert)
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


def _check_chain_revocation(
    chain: ChainResult, *, at: datetime, ctx: RevocationContext, leaf_role: CertRole
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
            reports.append(_cert_report(cert, role, _not_checked("trust anchor: not checked")))
            revs.append(None)
        elif chain.problem is not None or i + 1 >= len(path):
            reports.append(_cert_report(cert, role, _not_checked("chain not validated")))
            revs.append(None)
        else:
            rev = check_certificate(cert, path[i + 1], at=at, ctx=ctx)
            reports.append(_cert_report(cert, role, rev.report))
            revs.append(rev)
            if rev.responder is not None:
                responders.setdefault(_cert_sha256(rev.responder), rev.responder)
    # RFC 6960 §4.2.2.2: delegated responders that settled a status, after the path
    in_path = {r.sha256 for r in reports}
    for digest, responder in responders.items():
        if digest not in in_path:
            reports.append(_cert_report(responder, "responder", responder_report(responder)))
    return _CheckedChain(tuple(reports), tuple(revs))


def _algorithm_problem(
    policy: ValidationPolicy,
    at: datetime,
    digests: Sequence[str],
    certs: Sequence[x509.Certificate],
) -> str | None:
    """ETSI EN 319 102-1 §5.2.8: algorithms must be acceptable at the POE."""
    used_digests = {d.lower() for d in digests}
    keys: list[tuple[str, int]] = []
    for i, cert in enumerate(certs):
        try:
            from ltv.evidence._crypto import key_size

            size = key_size(cert.public_key)  # harden: asn1crypto's bit_size may raise anything
            if size is not None:
                keys.append(size)
            if i < len(certs) - 1 or cert.self_signed != "maybe":
                algo = cert["signature_algorithm"].hash_algo
                used_digests.add(str(algo).lower())
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


def _evidence_summary(ex: Extracted) -> tuple[tuple[str, str, int], ...]:
    counts: dict[tuple[str, str], int] = {}
    for item in ex.evidence:
        for source in item.sources:
            counts[(source, item.kind)] = counts.get((source, item.kind), 0) + 1
    return tuple((src, kind, n) for (src, kind), n in sorted(counts.items()))


class Verifier:
    """Validates signed PDFs under a :class:`ValidationPolicy`.

    :param policy: what to require; its trust anchors are mandatory (TrustError otherwise).
    :param network: makes the transport for one verification (online modes only; one per
        verification, so each report lists exactly its own requests). Default: an
        :class:`~ltv.evidence.http.HttpClient` with ``connect_to`` and ``timeout``. Under
        ``online=never`` it is never called: the transport is :class:`NoNetwork`, whatever is
        passed here.
    :param connect_to: ``{"host:port": (address, port)}`` for the default HTTP client.
    :param timeout: seconds per online request, for the default HTTP client.
    :param clock: where "now" comes from when the caller does not pass it.
    """

    def __init__(
        self,
        policy: ValidationPolicy,
        *,
        network: Callable[[], Transport] | None = None,
        connect_to: Mapping[str, tuple[str, int]] | None = None,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        _ = policy.signer_anchors  # TrustError (exit 2) early, not per file
        keep_library_logs_off_stderr()
        self.policy = policy
        self.connect_to = dict(connect_to or {})
        self.timeout = timeout
        self.clock = clock
        self.network = network or self._default_network

    def _default_network(self) -> Transport:
        from ltv.evidence.http import HttpClient

        return HttpClient(timeout=self.timeout, connect_to=self.connect_to)

    def _client(self) -> Transport:
        from ltv.evidence.http import NoNetwork

        match self.policy.online:
            case Online.NEVER:
                return NoNetwork()
            case Online.FALLBACK | Online.ALWAYS:
                return self.network()

    def verify(
        self,
        data: bytes,
        *,
        path: str = "<memory>",
        at: datetime | None = None,
        now: datetime | None = None,
    ) -> Report:
        """Synchronous wrapper (uses ``asyncio.run``; inside an event loop await ``averify``)."""
        return asyncio.run(self.averify(data, path=path, at=at, now=now))

    def verify_file(
        self, path: str, *, at: datetime | None = None, now: datetime | None = None
    ) -> Report:
        """Read and verify one file; unreadable input becomes a report with ``error`` set."""
        now = now or self.clock()
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as err:
            return self._error_report(path, b"", now, f"cannot read: {err.strerror}")
        return self.verify(data, path=path, at=at, now=now)

    def _error_report(self, path: str, data: bytes, now: datetime, message: str) -> Report:
        from ltv import __version__

        return Report(
            ltv_version=__version__,
            file=FileInfo(path=path, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)),
            checked_at=now,
            policy=PolicyRef(name=self.policy.name, online=str(self.policy.online)),
            indication=Indication.NO_SIGNATURE,
            signatures=(),
            error=message,
        )

    async def averify(
        self,
        data: bytes,
        *,
        path: str = "<memory>",
        at: datetime | None = None,
        now: datetime | None = None,
    ) -> Report:
        """Validate one PDF given as bytes. Never raises for bad input: see ``Report.error``."""
        from ltv import __version__

        now = now or self.clock()
        if now.tzinfo is None or (at is not None and at.tzinfo is None):
            raise ValueError("times must be timezone-aware")
        from ltv.pipeline.extract import extract

        try:
            extracted = extract(data, self.policy.limits)  # harden: the policy's [limits]
            client = self._client()
            signatures = await self._run(extracted, client, now=now, at=at)
        except LtvError as err:
            return self._error_report(path, data, now, err.message)
        except Exception as err:
            # A bug met on this file (a library choking on some damaged structure) must not
            # abort a batch: this file is reported as not evaluable, the next one is verified.
            # The traceback goes to the "ltv" logger (shown with --verbose).
            _log.exception("internal error while verifying %s", path)
            why = " ".join(str(err).split())[:200] or "no message"
            return self._error_report(
                path,
                data,
                now,
                f"could not be evaluated: internal error {type(err).__name__}: {why} "
                "(please report it, with the file if you can)",
            )
        error = None
        if not signatures:
            error = "no signature found"
            if extracted.warnings:
                error += ": " + "; ".join(extracted.warnings)
        exchanges = client.exchanges
        return Report(
            ltv_version=__version__,
            file=FileInfo(path=path, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)),
            checked_at=now,
            policy=PolicyRef(name=self.policy.name, online=str(self.policy.online)),
            indication=aggregate([s.indication for s in signatures]),
            signatures=tuple(signatures),
            network=NetworkReport(requests=len(exchanges), urls=tuple(e.url for e in exchanges)),
            warnings=tuple(extracted.warnings),
            evidence=_evidence_summary(extracted),
            error=error,
        )

    # -- the pipeline ----------------------------------------------------------------------------

    async def _run(
        self, ex: Extracted, client: Transport, *, now: datetime, at: datetime | None
    ) -> list[SignatureReport]:
        from ltv.pipeline.integrity import check_integrity
        from ltv.pipeline.revocation import RevocationContext

        policy = self.policy
        base_time = at or now
        base_source = TimeSource.AT_OPTION if at else TimeSource.NOW
        signer_anchors = policy.signer_anchors.asn1()
        tsa_anchors = policy.tsa_anchors.asn1()
        ctx = RevocationContext(
            evidence=ex.evidence,
            client=client,
            now=now,  # harden: the moment of judgement (future-dated evidence is ignored)
            online=policy.online,
            max_age=policy.max_evidence_age,
            unknown_is_fatal=policy.unknown_is_fatal,
        )
        integrity = {id(s): check_integrity(s) for s in ex.signatures}
        out: dict[int, SignatureReport] = {}

        # (0)+(3) document timestamps, outermost first: each one's TSA chain is judged at the
        # genTime of the next trusted document timestamp (the outermost at --at/now)
        trusted_docs: list[tuple[int, datetime, bool]] = []  # (revision, genTime, TSA data)
        next_poe: datetime | None = None
        for doc in reversed(ex.document_timestamps):
            moment = next_poe or base_time
            report, trusted_time, tsa_data = await self._document_timestamp(
                doc,
                integrity[id(doc)],
                ex,
                ctx,
                tsa_anchors,
                moment,
                next_poe is not None,
                base_source,
            )
            out[id(doc)] = report
            if trusted_time is not None:
                trusted_docs.append((doc.revision, trusted_time, tsa_data))
                next_poe = trusted_time
        trusted_docs.sort()

        for sig in ex.signatures:
            if sig.kind != "signature":
                continue
            covering = [(t, data) for rev, t, data in trusted_docs if rev > sig.revision]
            out[id(sig)] = await self._signature(
                sig,
                integrity[id(sig)],
                ex,
                ctx,
                signer_anchors=signer_anchors,
                tsa_anchors=tsa_anchors,
                doc_poe=covering[0] if covering else None,
                doc_revisions=[rev for rev, _, _ in trusted_docs],
                base_time=base_time,
                base_source=base_source,
            )
        return [out[id(s)] for s in ex.signatures]

    def _tsa_reports(
        self, token: TokenResult, ctx: RevocationContext
    ) -> tuple[tuple[CertificateReport, ...], list[str], bool, bool]:
        """TSA chain with revocation at the chain moment → (reports, problems, revoked,
        has_data): ``has_data`` says the file carries validation data for every certificate of
        the TSA chain below the anchor (ETSI EN 319 142-1 §6.3, needed for B-LT)."""
        if token.chain is None:
            return (), [], False, False
        checked = _check_chain_revocation(
            token.chain, at=token.chain_moment, ctx=ctx, leaf_role="tsa"
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
        return checked.reports, problems, revoked, has_data

    @staticmethod
    def _timestamp_report(
        token: TokenResult, chain: tuple[CertificateReport, ...], problems: list[str], trusted: bool
    ) -> TimestampReport | None:
        if token.gen_time is None:
            return None
        return TimestampReport(
            gen_time=token.gen_time,
            tsa=_name(token.tsa_cert) if token.tsa_cert is not None else "",
            imprint_ok=token.imprint_ok,
            signature_ok=token.signature_ok,
            trusted=trusted,
            chain_checked_at=token.chain_moment,
            chain=chain,
            problems=tuple(dict.fromkeys([*token.problems, *problems])),
        )

    async def _document_timestamp(
        self,
        doc: ExtractedSignature,
        integ: IntegrityResult,
        ex: Extracted,
        ctx: RevocationContext,
        tsa_anchors: list[x509.Certificate],
        moment: datetime,
        moment_is_poe: bool,
        base_source: TimeSource,
    ) -> tuple[SignatureReport, datetime | None, bool]:
        """→ (report, genTime if trusted, whether the file has validation data for its TSA
        chain)."""
        from ltv.pipeline.timestamp import validate_token
        from ltv.pipeline.verdict import CertStatus, Facts, decide

        emb = doc.embedded
        token = await validate_token(
            emb.signed_data,
            emb.compute_digest,  # RFC 3161 §2.4.2 / EN 319 142-1 §5.4: imprint = H(ByteRange)
            anchors=tsa_anchors,
            other_certs=ex.certificates,
            chain_moment=moment,
        )
        chain_reports, tsa_problems, revoked, has_data = self._tsa_reports(token, ctx)
        chain = token.chain
        algo = _algorithm_problem(
            self.policy, moment, [*token.md_algorithms], list(chain.path) if chain else []
        )
        certs = tuple(
            CertStatus(
                subject=r.subject,
                is_leaf=i == 0,
                status_at_t=r.revocation.status_at_validation_time,
                detail=r.revocation.detail,
                revoked_at=r.revocation.revoked_at,
            )
            for i, r in enumerate(chain_reports)
            if r.role != "responder"
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
            time_source=TimeSource.DOCUMENT_TIMESTAMP if moment_is_poe else base_source,
            validation_time=moment,
            algorithm_problem=algo,
            chain_problem=chain_problem,
            chain_reason=chain_reason,
            certs=certs,
            revocation_required=self.policy.tsa_revocation_required,
        )
        d = decide(facts)
        trusted = d.indication is Indication.TOTAL_PASSED and token.trusted and not revoked
        report = SignatureReport(
            field=doc.field,
            kind="document-timestamp",
            indication=d.indication,
            subindication=d.subindication,
            reasons=d.reasons,
            warnings=tuple(dict.fromkeys([*integ.warnings, *d.warnings])),
            level=None,
            signer=_signer_report(token.tsa_cert) if token.tsa_cert is not None else None,
            integrity=integ.report,
            timestamp=self._timestamp_report(token, chain_reports, tsa_problems, trusted),
            validation_time=moment,
            validation_time_source=facts.time_source,
            chain=chain_reports,
            revision=doc.revision,
        )
        return report, (token.gen_time if trusted else None), has_data

    async def _signature(
        self,
        sig: ExtractedSignature,
        integ: IntegrityResult,
        ex: Extracted,
        ctx: RevocationContext,
        *,
        signer_anchors: list[x509.Certificate],
        tsa_anchors: list[x509.Certificate],
        doc_poe: tuple[datetime, bool] | None,
        doc_revisions: list[int],
        base_time: datetime,
        base_source: TimeSource,
    ) -> SignatureReport:
        from ltv.pipeline.chain import validate_chain
        from ltv.pipeline.timestamp import imprint_of_signature, validate_token
        from ltv.pipeline.verdict import CertStatus, Facts, decide

        policy = self.policy
        warnings: list[str] = list(integ.warnings)  # tolerated changes after signing
        # (3) signature timestamp: TSA chain at the first covering trusted doc TST, else base
        ts_report: TimestampReport | None = None
        poe: datetime | None = None
        poe_tsa_data = False  # validation data for the chain of the TSA that gave the POE
        chain_moment = doc_poe[0] if doc_poe else base_time
        for tst in sig.signature_tsts:
            token = await validate_token(
                tst,
                imprint_of_signature(sig.content_sig_bytes),
                anchors=tsa_anchors,
                other_certs=ex.certificates,
                chain_moment=chain_moment,
            )
            tsa_chain, tsa_problems, revoked, tsa_data = self._tsa_reports(token, ctx)
            lenient = not policy.tsa_revocation_required
            rev_ok = not revoked and (lenient or not tsa_problems)
            trusted = token.trusted and rev_ok
            ts_report = self._timestamp_report(token, tsa_chain, tsa_problems, trusted)
            if trusted:
                poe, poe_tsa_data = token.gen_time, tsa_data
                warnings.extend(p for p in tsa_problems if not revoked)
                break
            warnings.extend(
                f"signature timestamp not usable as proof of existence: {p}"
                for p in (*token.problems, *tsa_problems)
            )
        if poe is not None:
            vt, source = poe, TimeSource.SIGNATURE_TIMESTAMP
        elif doc_poe is not None and policy.doc_timestamp_as_poe:
            (vt, poe_tsa_data), source = doc_poe, TimeSource.DOCUMENT_TIMESTAMP
        else:
            vt, source = base_time, base_source

        # (4) chain at the validation time
        signer_cert: x509.Certificate | None = None
        try:
            signer_cert = sig.embedded.signer_cert
        except Exception as err:
            from ltv.pipeline.integrity import from_pyhanko

            sub = from_pyhanko(getattr(err, "ades_subindication", None))
            msg = getattr(err, "failure_message", None) or str(err)
            integ_failure = integ.failure or sub or SubIndication.NO_SIGNING_CERTIFICATE_FOUND
            return SignatureReport(
                field=sig.field,
                kind="signature",
                indication=Indication.TOTAL_FAILED if integ.failure else Indication.INDETERMINATE,
                subindication=integ_failure,
                reasons=(*integ.reasons, f"signing certificate not identified: {msg}"),
                level=None,
                signer=None,
                integrity=integ.report,
                timestamp=ts_report,
                validation_time=vt,
                validation_time_source=source,
                chain=(),
                warnings=tuple(warnings),
                revision=sig.revision,
            )
        chain = await validate_chain(
            signer_cert,
            anchors=signer_anchors,
            other_certs=ex.certificates,
            moment=vt,
            purpose="signer",
        )
        # (5) revocation at the validation time
        checked = _check_chain_revocation(chain, at=vt, ctx=ctx, leaf_role="signer")
        for r in checked.reports:
            warnings.extend(f"{r.subject}: {w}" for w in r.revocation.warnings)
        # level (ETSI EN 319 142-1 §6): B-T = B-B + a trusted timestamp; B-LT = B-T +
        # validation data in the file for the signer's chain (settling it at the POE) AND for
        # the chain of the timestamp's TSA (§6.3, Table 1); B-LTA = B-LT + a document
        # timestamp covering that data
        level: Level | None = None
        if integ.failure is None:
            level = Level.B_B
            if source in (TimeSource.SIGNATURE_TIMESTAMP, TimeSource.DOCUMENT_TIMESTAMP):
                level = Level.B_T
                revs = [r for r in checked.revocations if r is not None]
                signer_data = bool(revs) and all(r.settled_by_embedded for r in revs)
                if chain.problem is None and signer_data and not poe_tsa_data:
                    warnings.append(
                        "no validation data in the file for the timestamp's TSA chain: "
                        "level B-LT not reached"
                    )
                if chain.problem is None and signer_data and poe_tsa_data:
                    level = Level.B_LT
                    # a document timestamp covers its own revision, DSS updates included
                    newest = max(r.evidence_revision or 0 for r in revs)
                    if any(rev > sig.revision and rev >= newest for rev in doc_revisions):
                        level = Level.B_LTA
        algo = _algorithm_problem(
            policy,
            vt,
            [integ.md_algorithm or ""],
            list(chain.path),
        )
        certs = tuple(
            CertStatus(
                subject=r.subject,
                is_leaf=i == 0,
                status_at_t=r.revocation.status_at_validation_time,
                detail=r.revocation.detail,
                revoked_at=r.revocation.revoked_at,
            )
            for i, r in enumerate(checked.reports)
            if r.role != "responder"
        )
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
                certs=certs,
                level=level,
                min_level=policy.min_level,
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
        return SignatureReport(
            field=sig.field,
            kind="signature",
            indication=d.indication,
            subindication=d.subindication,
            reasons=reasons,
            warnings=tuple(dict.fromkeys([*warnings, *d.warnings])),
            level=level,
            signer=_signer_report(signer_cert),
            integrity=integ.report,
            timestamp=ts_report,
            validation_time=vt,
            validation_time_source=source,
            chain=checked.reports,
            revision=sig.revision,
        )


def verify_bytes(data: bytes, policy: ValidationPolicy, *, now: datetime) -> Report:
    """Convenience: one-shot verification with an explicit ``now``."""
    if not data:
        raise InputError("empty input")
    return Verifier(policy).verify(data, now=now)
