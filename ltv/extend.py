"""Archive renewal and LTV-enabling: ``ltv extend`` (ETSI EN 319 142-1 §5.5, Annex A.2).

One incremental update (the earlier revisions stay a byte-identical prefix) holding:

1. fresh evidence for the chain of every timestamp already in the document (signature
   timestamps and earlier document timestamps), checked at the extension time;
2. with ``add_evidence`` (``--add-evidence``): checked evidence for every signer chain that has
   none in the document yet — a B-T made by another tool becomes B-LT — refusing a ``revoked``,
   ``unknown`` or ``offline`` answer as signing does;
3. one new document timestamp over all of it (§5.4.3), which makes the document B-LTA.

**Verify first.** A renewal vouches for nothing, but it must not launder a broken document
either: before anything is fetched the document is verified (:class:`~ltv.verify.Verifier`,
offline, at the extension time, with the given trust anchors). A signature or document
timestamp that is TOTAL-FAILED (tampered, revoked, forged) or INDETERMINATE is a refusal
(:class:`~ltv.errors.SigningError`, exit 4, nothing written) unless ``force``. With
``add_evidence`` an INDETERMINATE *signature* is let through (missing evidence is what is being
added) and the result is verified again: it must be TOTAL-PASSED, or nothing is written.

API conventions as for :class:`~ltv.sign.Signer` (:mod:`ltv.runtime`): ``extend``/``aextend``
return the bytes, ``extend_to``/``aextend_to`` write a file and return an :class:`ExtendResult`.

>>> from ltv.errors import UsageError
>>> try:
...     Extender(tsa_url="http://tsa.example/")
... except UsageError as err:
...     print(err.message)
extend verifies the document first: it needs trust anchors (--trust)
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING

from ltv.certs import CertificateSources, fingerprint, load_certificates, subject
from ltv.errors import InputError, LtvError, PolicyError, SigningError, UsageError
from ltv.evidence.gather import DEFAULT_CLOCK_SKEW, CertificateEvidence, Gatherer
from ltv.evidence.http import DEFAULT_BUDGET
from ltv.evidence.tsa import TsaClient
from ltv.pdfio import CHUNK, AtomicOutput, add_dss, open_writer
from ltv.runtime import (
    Clock,
    Document,
    default_network,
    open_document,
    operation_session,
    resolve_time,
    run_sync,
    utc_now,
)
from ltv.sign import DEFAULT_MD, document_timestamp, pyhanko_failure

if TYPE_CHECKING:
    from asn1crypto import cms
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    from ltv.evidence.cache import EvidenceCache
    from ltv.evidence.http import Session, Transport
    from ltv.policy import ValidationPolicy
    from ltv.report import Report
    from ltv.trust import TrustStore

__all__ = ["ExtendResult", "Extender"]


@dataclass(frozen=True, kw_only=True)
class ExtendResult:
    """What :meth:`Extender.extend_to` did (plain values).

    >>> import io
    >>> from samples import pki
    >>> from samples.pki.server import PkiServer
    >>> from ltv import HttpClient, Signer, SigningPolicy
    >>> with PkiServer() as server:
    ...     net = HttpClient(connect_to=server.connect_to)
    ...     signer = Signer.from_pkcs12(pki.SIGNER_GOOD_P12, pki.P12_PASSPHRASE, network=net,
    ...                                 policy=SigningPolicy(level="B-T", tsa_url=pki.TSA_URL))
    ...     b_t = signer.sign("samples/unsigned.pdf")
    ...     extender = Extender(tsa_url=pki.TSA_URL, network=net, add_evidence=True,
    ...                         trust=[pki.ROOT_CERT, pki.TSA_ROOT_CERT])
    ...     result = extender.extend_to(b_t, io.BytesIO())
    >>> result.evidence_added, result.verdict
    (('Signature1',), 'INDETERMINATE -> TOTAL-PASSED')
    """

    output: str | None
    """The path written (``None`` for a file object)."""
    size: int
    extended_at: datetime
    verdict: str
    """The input's indication before the extension (``TOTAL-PASSED``...), or ``not verified``."""
    forced: bool
    """True when ``force`` let a document through that verification refused."""
    timestamps_refreshed: int
    """How many earlier timestamps (signature + document) got fresh evidence."""
    certificates_checked: tuple[str, ...]
    """Subjects whose evidence was fetched, checked and embedded."""
    evidence_added: tuple[str, ...]
    """Fields of the signatures LTV-enabled (``add_evidence``)."""
    requests: tuple[str, ...]
    """URLs asked during this extension, in order."""
    seconds: float


@dataclass(frozen=True)
class _Done:
    verdict: str
    forced: bool
    refreshed: int
    checked: tuple[str, ...]
    added: tuple[str, ...]


def _trust_store(trust: TrustStore | CertificateSources | None) -> TrustStore | None:
    from ltv.trust import TrustStore

    if trust is None or isinstance(trust, TrustStore):
        return trust
    certs = load_certificates(trust)
    return TrustStore.from_der([c.dump() for c in certs], source="extend") if certs else None


class Extender:
    """Renews and LTV-enables signed PDFs; see the module docstring.

    :param tsa_url: the TSA for the new document timestamp.
    :param trust: anchors (a :class:`~ltv.trust.TrustStore`, or certificate sources) for the
        verification that comes first and that every timestamp chain must end at. Required
        unless ``force``.
    :param chain: CA certificates completing chains (besides those in the document); a CA
        certificate still missing is fetched from caIssuers through *network*.
    :param network: the transport (default: a new keep-alive HttpClient); each extension sees
        it through its own session with ``network_budget`` seconds in total.
    :param cache: evidence shared with other operations (default: none, every extension
        fetches).
    :param clock: "now" when a call gives no ``at=``.
    :param add_evidence: also staple evidence for signer chains that have none (B-T → B-LT).
    :param force: renew even when the verification fails (say so loudly).
    :param policy: the validation policy of the verification (default: offline, ``trust`` for
        signers and TSAs).

    >>> from samples import pki
    >>> extender = Extender(tsa_url=pki.TSA_URL, trust=[pki.ROOT_CERT, pki.TSA_ROOT_CERT])
    >>> extender.extend(open("samples/tampered-after-signing.pdf", "rb"))
    Traceback (most recent call last):
    ltv.errors.SigningError: refusing to extend: signature 'Signature1' is TOTAL-FAILED ...
    """

    def __init__(
        self,
        *,
        tsa_url: str,
        trust: TrustStore | CertificateSources | None = None,
        chain: CertificateSources = (),
        network: Transport | None = None,
        cache: EvidenceCache | None = None,
        clock: Clock = utc_now,
        network_budget: float | None = DEFAULT_BUDGET,
        add_evidence: bool = False,
        force: bool = False,
        md_algorithm: str = DEFAULT_MD,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
        policy: ValidationPolicy | None = None,
    ) -> None:
        if not tsa_url:
            raise PolicyError("extend needs a time-stamping authority (--tsa URL)")
        if network_budget is not None and network_budget <= 0:
            raise UsageError("the network budget must be positive")
        store = _trust_store(trust)
        if policy is None and store is not None:
            from ltv.policy import ValidationPolicy

            policy = ValidationPolicy(name="extend", trust=store, tsa_trust=store)
        if policy is None and not force:
            raise UsageError(
                "extend verifies the document first: it needs trust anchors (--trust)",
                hint="give the signer's and the TSA's root certificates, or --force",
            )
        self.tsa_url = tsa_url
        self.trust = store
        self.policy = policy
        self.network: Transport = network if network is not None else default_network()
        self.cache = cache
        self.clock = clock
        self.network_budget = network_budget
        self.add_evidence = add_evidence
        self.force = force
        self.md_algorithm = md_algorithm
        self.skew = clock_skew
        self._extra = load_certificates(chain)
        self._anchors = [] if store is None else store.asn1()
        self._tsa = TsaClient(tsa_url)

    def with_options(
        self, *, add_evidence: bool | None = None, force: bool | None = None
    ) -> Extender:
        """The same Extender (network, TSA knowledge, trust) with other options."""
        other = object.__new__(Extender)
        other.__dict__.update(self.__dict__)
        if add_evidence is not None:
            other.add_evidence = add_evidence
        if force is not None:
            if not force and other.policy is None:
                raise UsageError("extend verifies the document first: it needs trust anchors")
            other.force = force
        return other

    # -- public --------------------------------------------------------------------------------

    def extend(self, document: Document, *, at: datetime | None = None) -> bytes:
        """Synchronous :meth:`aextend`."""
        return run_sync(self.aextend(document, at=at), method="extend")

    async def aextend(self, document: Document, *, at: datetime | None = None) -> bytes:
        """Extend *document*; return the new bytes (the input is a byte-identical prefix)."""
        when = resolve_time(at, self.clock)
        session = operation_session(self.network, self.network_budget)
        data = _read_all(document)
        out = io.BytesIO()
        await self._guarded(data, out, when, session)
        return out.getvalue()

    def extend_to(
        self,
        document: Document,
        output: str | os.PathLike[str] | IO[bytes],
        *,
        at: datetime | None = None,
    ) -> ExtendResult:
        """Synchronous :meth:`aextend_to`."""
        return run_sync(self.aextend_to(document, output, at=at), method="extend_to")

    async def aextend_to(
        self,
        document: Document,
        output: str | os.PathLike[str] | IO[bytes],
        *,
        at: datetime | None = None,
    ) -> ExtendResult:
        """Extend *document* into *output* (a path, written atomically — its directory checked
        before any request — or a binary file opened for reading and writing)."""
        started = time.perf_counter()
        when = resolve_time(at, self.clock)
        session = operation_session(self.network, self.network_budget)
        if isinstance(output, str | os.PathLike):
            from ltv.output import same_file

            if isinstance(document, str | os.PathLike) and same_file(document, output):
                raise UsageError(
                    f"output {str(output)!r} is the input file",
                    hint="write to a new file; ltv never modifies its input",
                )
            with AtomicOutput(output) as target:
                data = _read_all(document)
                done = await self._guarded(data, target.file, when, session)
                size = target.file.seek(0, os.SEEK_END)
                target.commit()
            written: str | None = str(output)
        else:
            data = _read_all(document)
            output.seek(0)
            output.truncate()
            done = await self._guarded(data, output, when, session)
            size = output.seek(0, os.SEEK_END)
            written = None
        return ExtendResult(
            output=written,
            size=size,
            extended_at=when,
            verdict=done.verdict,
            forced=done.forced,
            timestamps_refreshed=done.refreshed,
            certificates_checked=done.checked,
            evidence_added=done.added,
            requests=tuple(e.url for e in session.exchanges),
            seconds=time.perf_counter() - started,
        )

    # -- verification --------------------------------------------------------------------------

    async def _verify(self, data: bytes, when: datetime) -> Report | None:
        if self.policy is None:
            return None
        from ltv.verify import Verifier

        return await Verifier(self.policy).averify(data, now=when)

    def _judge(self, report: Report | None, *, tolerate_indeterminate: bool) -> tuple[str, bool]:
        """(verdict, forced): refuse what verification failed, unless ``force``."""
        from ltv.report import Indication

        if report is None:
            return "not verified", True
        if report.error is not None and not report.signatures:
            if "no signature" in report.error:
                raise InputError("the PDF has no signature to extend")
            raise InputError(f"cannot extend: {report.error}")
        bad: list[str] = []
        for sig in report.signatures:
            if sig.indication is Indication.TOTAL_PASSED:
                continue
            if (
                tolerate_indeterminate
                and sig.indication is Indication.INDETERMINATE
                and sig.kind == "signature"
            ):
                continue
            why = str(sig.subindication or "")
            if sig.reasons:
                why += (": " if why else "") + sig.reasons[0]
            bad.append(f"{sig.kind} {sig.field!r} is {sig.indication} ({why})")
        if not bad:
            return str(report.indication), False
        if self.force:
            return str(report.indication), True
        raise SigningError(
            "refusing to extend: " + "; ".join(bad),
            hint="nothing was written; renewing would vouch for it (--force renews anyway)",
        )

    # -- the work ------------------------------------------------------------------------------

    async def _guarded(
        self, data: bytes, out: IO[bytes], when: datetime, session: Session
    ) -> _Done:
        try:
            return await self._extend(data, out, when, session)
        except LtvError:
            raise
        except Exception as err:
            mapped = pyhanko_failure(err, "extend")
            if mapped is None:
                raise
            raise mapped from None

    def _check_anchor(self, chain: Sequence[asn1_x509.Certificate]) -> None:
        if not self._anchors:
            return
        top = chain[-1]
        if not any(t.dump() == top.dump() for t in self._anchors):
            raise SigningError(
                f"refusing to extend: the chain of TSA certificate '{subject(chain[0])}' ends at "
                f"'{subject(top)}', which is not among the --trust anchors"
            )

    async def _extend(self, data: bytes, out: IO[bytes], when: datetime, session: Session) -> _Done:
        from pyhanko.sign.validation.dss import DocumentSecurityStore
        from pyhanko.sign.validation.errors import NoDSSFoundError

        # what the document is (signatures, DSS) — the cheap refusals come first
        out.write(data)
        out.flush()
        writer = open_writer(out)
        reader = writer.prev
        try:
            sigs = list(reader.embedded_signatures)
        except Exception as err:
            raise InputError(f"cannot read the signatures: {err}") from None
        if not sigs:
            raise InputError("the PDF has no signature to extend")
        try:
            dss = DocumentSecurityStore.read_dss(reader)
            dss_certs = list(dss.load_certs())
            evidence_der = _dss_evidence(dss)
        except NoDSSFoundError:
            if not self.add_evidence:
                raise InputError(
                    "the PDF has no DSS (it is not B-LT)",
                    hint="--add-evidence LTV-enables a B-T signature; or sign at B-LT/B-LTA",
                ) from None
            dss_certs, evidence_der = [], ([], [])
        except Exception as err:
            raise InputError(f"cannot read the DSS: {' '.join(str(err).split())}") from None

        # (0) verify first, offline, at the extension time: nothing is fetched for a document
        # that fails
        before = await self._verify(data, when)
        verdict, forced = self._judge(before, tolerate_indeterminate=self.add_evidence)
        cms_certs = [c for emb in sigs for c in _cms_certs(emb)]
        gatherer = Gatherer(
            network=self.network,
            cache=self.cache,
            pool=[*dss_certs, *cms_certs, *self._extra, *self._anchors],
            skew=self.skew,
            budget=self.network_budget,
            verb="extend",
        )
        covered: dict[str, CertificateEvidence] = {}
        checked: list[str] = []

        def keep(evs: Iterable[CertificateEvidence]) -> list[CertificateEvidence]:
            new: list[CertificateEvidence] = []
            for ev in evs:
                fp = fingerprint(ev.cert)
                if fp not in covered:
                    covered[fp] = ev
                    checked.append(ev.subject)
                new.append(covered[fp])
            return new

        # (1) --add-evidence: signer chains without evidence in the document (B-T → B-LT)
        added: list[str] = []
        if self.add_evidence:
            for emb in sigs:
                if emb.sig_object_type == "/DocTimeStamp":
                    continue
                try:
                    leaf = emb.signer_cert
                except Exception as err:
                    raise InputError(
                        f"signature {emb.field_name!r}: signer certificate not identified "
                        f"({type(err).__name__})"
                    ) from None
                chain = await gatherer.chain_of(
                    leaf, _cms_certs(emb), role="signer", session=session, at=when
                )
                if _has_evidence(chain, evidence_der):
                    continue
                evs = keep(await gatherer.evidence(chain, "signer", when, session))
                add_dss(writer, evs, certs=chain, vri_for=emb.pkcs7_content)
                added.append(str(emb.field_name))

        # (2) every timestamp already in the document: fresh evidence for its TSA chain
        tokens = _tokens(sigs)
        if not tokens and not added:
            raise InputError(
                "the PDF has no timestamp to renew",
                hint="sign at B-T or above; --add-evidence LTV-enables a B-T",
            )
        for emb, tst, is_doc_ts in tokens:
            tsa_cert, others = _token_tsa(tst, str(emb.field_name))
            chain = await gatherer.chain_of(tsa_cert, others, role="TSA", session=session, at=when)
            self._check_anchor(chain)
            new = keep(await gatherer.evidence(chain, "TSA", when, session))
            # VRI for document timestamps (they have none yet); for signatures the VRI made
            # at signing time is kept and the new evidence goes to the DSS arrays only.
            add_dss(writer, new, certs=chain, vri_for=emb.pkcs7_content if is_doc_ts else None)

        # (3) one new document timestamp over the lot (EN 319 142-1 §5.4.3)
        await document_timestamp(
            gatherer=gatherer,
            tsa=self._tsa,
            writer=writer,
            md=self.md_algorithm,
            at=when,
            covered=covered,
            session=session,
        )
        out.seek(0)
        if out.read(len(data)) != data:  # pragma: no cover - incremental update by construction
            raise SigningError("internal error: the update is not incremental")

        # (4) what was INDETERMINATE before must verify now
        if before is not None and self.add_evidence and not forced:
            from ltv.report import Indication

            if any(s.indication is not Indication.TOTAL_PASSED for s in before.signatures):
                out.seek(0)
                after = await self._verify(out.read(), when)
                verdict_after, forced = self._judge(after, tolerate_indeterminate=False)
                verdict = f"{verdict} -> {verdict_after}"
        return _Done(verdict, forced, len(tokens), tuple(checked), tuple(added))


# -- helpers -----------------------------------------------------------------------------------


def _read_all(document: Document) -> bytes:
    with open_document(document) as src:
        src.seek(0)
        buf = io.BytesIO()
        shutil.copyfileobj(src, buf, CHUNK)
        return buf.getvalue()


def _cms_certs(emb: EmbeddedPdfSignature) -> list[asn1_x509.Certificate]:
    try:
        return [c.chosen for c in emb.signed_data["certificates"] or () if c.name == "certificate"]
    except Exception:
        return []


def _tokens(
    sigs: Sequence[EmbeddedPdfSignature],
) -> list[tuple[EmbeddedPdfSignature, cms.SignedData, bool]]:
    """(signature, token, is a document timestamp) for every timestamp in the document."""
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    out: list[tuple[EmbeddedPdfSignature, cms.SignedData, bool]] = []
    for emb in sigs:
        if emb.sig_object_type == "/DocTimeStamp":
            out.append((emb, emb.signed_data, True))
        else:
            try:
                out.extend(
                    (emb, tst, False)
                    for tst in extract_tst_data_iter(emb.signer_info, signed=False)
                )
            except Exception as err:
                raise InputError(
                    f"signature {emb.field_name!r}: unreadable timestamp ({type(err).__name__})"
                ) from None
    return out


def _token_tsa(
    tst: cms.SignedData, field_name: str
) -> tuple[asn1_x509.Certificate, tuple[asn1_x509.Certificate, ...]]:
    """The TSA certificate a token's sid + ESS signing-certificate name (ltv.tst), never the
    first certificate in its bag that matches."""
    from ltv.tst import check_token

    check = check_token(tst, lambda _algorithm: b"")  # the imprint was judged by verification
    if check.tsa_cert is None or not (check.signature_ok and check.digest_ok):
        why = "; ".join(check.problems) or "its TSA certificate is not identified"
        raise SigningError(f"refusing to extend: the timestamp of {field_name!r}: {why}")
    return check.tsa_cert, check.other_certs


def _dss_evidence(dss: object) -> tuple[list[bytes], list[bytes]]:
    ocsps = [bytes(ref.get_object().data) for ref in getattr(dss, "ocsps", ())]
    crls = [bytes(ref.get_object().data) for ref in getattr(dss, "crls", ())]
    return ocsps, crls


def _has_evidence(
    chain: Sequence[asn1_x509.Certificate], evidence: tuple[list[bytes], list[bytes]]
) -> bool:
    """Whether the document holds an authoritative answer for each non-root certificate."""
    from ltv.evidence.crl import check_crl
    from ltv.evidence.ocsp import check_ocsp_response

    ocsps, crls = evidence
    for i, cert in enumerate(chain[:-1]):
        issuer = chain[i + 1]
        found = False
        for der in ocsps:
            try:
                found = check_ocsp_response(der, cert, issuer).ok
            except Exception:  # unusable evidence says nothing
                found = False
            if found:
                break
        if not found:
            for der in crls:
                try:
                    found = check_crl(der, cert, issuer).ok
                except Exception:
                    found = False
                if found:
                    break
        if not found:
            return False
    return True
