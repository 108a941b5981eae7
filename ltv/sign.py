"""PAdES signing (B-B, B-T, B-LT, B-LTA) on pyHanko's signer, with checked, stapled evidence.

ETSI EN 319 142-1 (PAdES digital signatures) defines the four baseline levels produced here:

* **B-B** (§6.3, Table 1): a CMS signature in a PDF signature dictionary with
  ``/SubFilter /ETSI.CAdES.detached``, a signing-certificate-v2 attribute, the signing time in
  ``/M`` (no CMS signing-time attribute) — pyHanko's ``PdfSigner`` with the PAdES subfilter.
* **B-T** (§6.3, ``signature-time-stamp``): B-B plus an RFC 3161 signature timestamp over the
  signature value (SHA-256 imprint), requested through :mod:`ltv.evidence.tsa` and checked like
  verification checks it (:func:`ltv.tst.check_token`).
* **B-LT** (§5.4.2 DSS, §5.4.2.2 VRI): B-T plus, in a Document Security Store added by an
  incremental update, the certificates and revocation data of **every** certificate the
  signature relies on — the signer's chain and the chain of the TSA that signed the signature
  timestamp. The evidence is fetched and *checked* before anything is written
  (:mod:`ltv.evidence.gather`); ``revoked``, ``unknown`` or ``offline`` refuses the signature.
* **B-LTA** (§5.4.3): B-LT plus a document timestamp whose ByteRange covers the DSS, with the
  evidence for that TSA's chain in the DSS it covers.

API conventions (:mod:`ltv.runtime`): ``at=`` per call or the ``clock``; ``network=`` a transport
instance seen by each signature through its own session with a total budget; documents as
bytes, a path or a binary file; ``sign``/``asign`` return the signed bytes, ``sign_to``/
``asign_to`` stream into a file and return a :class:`SignResult`.

A :class:`Signer` is meant to live as long as a server: it keeps the checked evidence for its
chain and for the TSA's in an :class:`~ltv.evidence.cache.EvidenceCache` (one fetch per
validity window, shared by concurrent requests), the chains it built, and what it learned about
its TSA (token size, so no size-estimating round trip).

>>> from samples import pki
>>> from samples.make_samples import make_unsigned_pdf
>>> signer = Signer.from_pkcs12(pki.SIGNER_GOOD_P12, pki.P12_PASSPHRASE,
...                             policy=SigningPolicy(level="B-B"))
>>> signed = signer.sign(make_unsigned_pdf(), field="Approval", reason="Approved")
>>> signed.startswith(make_unsigned_pdf()), signer.subject
(True, 'CN=Signer Good,OU=Signers,O=ltv sample PKI,C=ZZ')
"""

from __future__ import annotations

import enum
import io
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Final

from ltv.certs import (
    CertificateSources,
    KeySource,
    check_key_matches,
    fingerprint,
    load_certificates,
    load_pkcs12,
    load_private_key,
    subject,
    to_pem,
)
from ltv.errors import InputError, LtvError, PolicyError, SigningError, UsageError
from ltv.evidence.cache import EvidenceCache
from ltv.evidence.gather import DEFAULT_CLOCK_SKEW, CertificateEvidence, Gatherer
from ltv.evidence.http import DEFAULT_BUDGET
from ltv.evidence.tsa import TsaClient
from ltv.pdfio import CHUNK, AtomicOutput, add_dss, append_update, open_writer, read_region
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

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfSigner
    from pyhanko.stamp import TextStampStyle

    from ltv.evidence.http import Session, Transport
    from ltv.evidence.tsa import OperationStamper

__all__ = [
    "DEFAULT_MD",
    "PadesLevel",
    "SignResult",
    "Signer",
    "SigningPolicy",
    "VisibleSignature",
]

DEFAULT_MD: Final = "sha256"
"""Digest for the signature, the signature timestamp imprint and document timestamps."""


class PadesLevel(enum.StrEnum):
    """The PAdES baseline levels of ETSI EN 319 142-1 §6.

    >>> PadesLevel("B-LTA").needs_document_timestamp
    True
    """

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def needs_tsa(self) -> bool:
        """B-T and above carry an RFC 3161 signature timestamp (§6.3)."""
        return self is not PadesLevel.B_B

    @property
    def needs_evidence(self) -> bool:
        """B-LT and above carry validation data in the DSS (§5.4.2)."""
        return self in (PadesLevel.B_LT, PadesLevel.B_LTA)

    @property
    def needs_document_timestamp(self) -> bool:
        """B-LTA carries a document timestamp over the DSS (§5.4.3)."""
        return self is PadesLevel.B_LTA


@dataclass(frozen=True, kw_only=True)
class SigningPolicy:
    """What a :class:`Signer` produces. Frozen; checked when built.

    :param level: PAdES baseline level (a :class:`PadesLevel` or its string, e.g. ``"B-LT"``).
    :param tsa_url: RFC 3161 time-stamping service; required for B-T and above.
    :param md_algorithm: digest for the signature and the timestamp imprints (SHA-256 or better).
    :param clock_skew: tolerance when judging the freshness of revocation evidence.
    :param field: default signature field name.

    >>> SigningPolicy(level="B-LT", tsa_url="http://tsa.example/").level
    <PadesLevel.B_LT: 'B-LT'>
    >>> SigningPolicy(level="B-T")
    Traceback (most recent call last):
    ltv.errors.PolicyError: PAdES B-T needs a time-stamping authority
    """

    level: PadesLevel = PadesLevel.B_LT
    tsa_url: str | None = None
    md_algorithm: str = DEFAULT_MD
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    field: str = "Signature1"

    def __post_init__(self) -> None:
        try:
            level = PadesLevel(self.level)
        except ValueError:
            choices = ", ".join(lv.value for lv in PadesLevel)
            raise PolicyError(
                f"unknown PAdES level {self.level!r}", hint=f"one of {choices}"
            ) from None
        object.__setattr__(self, "level", level)
        if level.needs_tsa and not self.tsa_url:
            raise PolicyError(
                f"PAdES {level.value} needs a time-stamping authority",
                hint="give a TSA URL (--tsa URL), or sign at B-B",
            )
        if self.md_algorithm not in ("sha256", "sha384", "sha512", "sha3_256", "sha3_512"):
            raise PolicyError(f"digest {self.md_algorithm!r} is not SHA-256 or better")


_VISIBLE_RE: Final = re.compile(
    r"^\s*(-?\d+)\s*:\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*$"
)


@dataclass(frozen=True)
class VisibleSignature:
    """Where a visible signature goes: a page and a box (PDF points from the bottom-left).

    Its appearance is text (pyHanko's ``TextStampStyle``): the signer's name, the signing time,
    and the reason and location when given.

    >>> VisibleSignature.parse("1:36,36,236,96")
    VisibleSignature(page=1, box=(36.0, 36.0, 236.0, 96.0))
    """

    page: int
    """1 for the first page; -1 for the last."""
    box: tuple[float, float, float, float]
    """x1, y1, x2, y2."""

    def __post_init__(self) -> None:
        if self.page == 0:
            raise UsageError("visible signature: pages count from 1 (or -1 for the last)")
        x1, y1, x2, y2 = self.box
        if x2 <= x1 or y2 <= y1:
            raise UsageError(
                "visible signature: the box must have x1 < x2 and y1 < y2",
                hint="PAGE:X1,Y1,X2,Y2 in points from the bottom-left, e.g. 1:36,36,236,96",
            )

    @classmethod
    def parse(cls, spec: str) -> VisibleSignature:
        """``PAGE:X1,Y1,X2,Y2`` (the CLI's ``--visible``)."""
        m = _VISIBLE_RE.match(spec)
        if m is None:
            raise UsageError(
                f"--visible {spec!r}: expected PAGE:X1,Y1,X2,Y2",
                hint="e.g. --visible 1:36,36,236,96 (points from the bottom-left corner)",
            )
        page, *coords = m.groups()
        x1, y1, x2, y2 = (float(c) for c in coords)
        return cls(int(page), (x1, y1, x2, y2))


@dataclass(frozen=True, kw_only=True)
class SignResult:
    """What :meth:`Signer.sign_to` wrote (plain values).

    >>> import tempfile, pathlib
    >>> from samples import pki
    >>> signer = Signer.from_pkcs12(pki.SIGNER_GOOD_P12, pki.P12_PASSPHRASE,
    ...                             policy=SigningPolicy(level="B-B"))
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "signed.pdf"
    >>> result = signer.sign_to("samples/unsigned.pdf", out, field="Approval")
    >>> result.level, result.field, result.size == out.stat().st_size, result.requests
    (<PadesLevel.B_B: 'B-B'>, 'Approval', True, ())
    """

    output: str | None
    """The path written (``None`` for a file object)."""
    level: PadesLevel
    field: str
    size: int
    """Bytes written."""
    signed_at: datetime
    """The claimed signing time (``/M``), UTC."""
    requests: tuple[str, ...]
    """URLs asked during this signature, in order (OCSP, CRL, caIssuers, TSA)."""
    seconds: float


# -- shared machinery (Signer, Extender) --------------------------------------------------------


@dataclass
class _Shared:
    """What the Signers derived from one another (:meth:`Signer.with_policy`) share."""

    gatherer: Gatherer
    tsa_clients: dict[str, TsaClient] = field(default_factory=dict)
    reserve: dict[str, int] = field(default_factory=dict)

    def tsa(self, url: str) -> TsaClient:
        client = self.tsa_clients.get(url)
        if client is None:
            client = self.tsa_clients.setdefault(url, TsaClient(url))
        return client


def check_validity(cert: asn1_x509.Certificate, role: str, when: datetime, verb: str) -> None:
    """RFC 5280 §4.1.2.5: refuse a certificate outside its validity period at *when*."""
    validity = cert["tbs_certificate"]["validity"]
    not_before: datetime = validity["not_before"].native
    not_after: datetime = validity["not_after"].native
    if not not_before <= when <= not_after:
        state = "expired" if when > not_after else "not yet valid"
        raise SigningError(
            f"refusing to {verb}: {role} certificate '{subject(cert)}' is {state} at "
            f"{when:%Y-%m-%dT%H:%M:%SZ} (valid {not_before:%Y-%m-%dT%H:%M:%SZ} .. "
            f"{not_after:%Y-%m-%dT%H:%M:%SZ})"
        )


def pyhanko_failure(err: Exception, verb: str) -> LtvError | None:
    """pyHanko's exceptions that mean "this input/setup cannot be signed" as LtvErrors."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.general import SigningError as PyHankoSigningError

    if isinstance(err, PyHankoSigningError):
        return SigningError(f"pyHanko refused to {verb}: {' '.join(str(err).split())}")
    if isinstance(err, PdfError):
        return InputError(f"cannot {verb} this PDF: {' '.join(str(err).split())}")
    return None


async def document_timestamp(
    *,
    gatherer: Gatherer,
    tsa: TsaClient,
    writer: IncrementalPdfFileWriter,
    md: str,
    at: datetime,
    covered: dict[str, CertificateEvidence],
    session: Session,
) -> None:
    """Evidence for the TSA's chain into *writer*'s DSS, then a document timestamp over it,
    appended in place to the writer's stream (EN 319 142-1 §5.4.3: the timestamp's ByteRange
    covers the DSS just updated). The TSA's certificate is the one of its latest token (no
    extra request when one was seen); should the new token name another certificate, its
    chain's evidence goes in one more DSS update, keyed to this timestamp's VRI."""
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    stamper = tsa.stamper(session)
    known = await stamper.learn(md)
    tchain = await gatherer.chain_of(
        known.tsa_cert, known.other_certs, role="TSA", session=session, at=at
    )
    new = await gatherer.evidence(tchain, "TSA", at, session, skip=covered.keys())
    for ev in new:
        covered[fingerprint(ev.cert)] = ev
    add_dss(writer, new, certs=tchain)
    reserved = tsa.reserve(md)
    await PdfTimeStamper(stamper).async_timestamp_pdf(
        writer, md, bytes_reserved=reserved, in_place=True, chunk_size=CHUNK
    )
    got = stamper.stamps[-1]
    if fingerprint(got.tsa_cert) in covered:
        return
    # Rare: the TSA switched certificates since the token it was known by.
    chain = await gatherer.chain_of(
        got.tsa_cert, got.other_certs, role="TSA", session=session, at=at
    )
    extra = await gatherer.evidence(chain, "TSA", got.gen_time, session)
    der = got.token.dump()
    contents = der + bytes(reserved // 2 - len(der))  # /Contents as readers decode it
    stream = writer.prev.stream
    w2 = open_writer(stream)
    add_dss(w2, extra, certs=chain, vri_for=contents)
    append_update(w2)


async def _sign_at(
    pdf_signer: PdfSigner,
    writer: IncrementalPdfFileWriter,
    when: datetime,
    out: IO[bytes],
    *,
    bytes_reserved: int | None = None,
    appearance: dict[str, str] | None = None,
) -> bytes:
    """pyHanko's ``PdfSigner.async_sign_pdf`` with an explicit signing time (``/M``), written
    streaming into *out*; returns the signature's ``/Contents`` (CMS + zero padding).

    pyHanko reads the local clock for the session's ``system_time``; the steps below are those
    of ``async_sign_pdf`` with the session time set to *when*. The ``/Contents`` bytes are read
    back from the region pyHanko filled (what a reader's ``pkcs7_content`` gives).
    """
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    session = pdf_signer.init_signing_session(writer)
    session.system_time = when
    validation_info = await session.perform_presign_validation(writer)
    if bytes_reserved is None:
        bytes_reserved = await session.estimate_signature_container_size(validation_info)
    tbs = session.prepare_tbs_document(
        validation_info=validation_info,
        bytes_reserved=bytes_reserved,
        appearance_text_params=appearance,
    )
    prepared, output = tbs.digest_tbs_document(output=out, chunk_size=CHUNK)
    post = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=when,
            cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
        ),
    )
    await post.post_signature_processing(output)
    # The reserved region is '<' + hex + '>' (pdf_byterange.fill_reserved_region).
    hex_contents = read_region(
        output, prepared.reserved_region_start + 1, prepared.reserved_region_end - 1
    )
    return bytes.fromhex(hex_contents.decode("ascii"))


def _stamp_style(reason: str | None, location: str | None) -> TextStampStyle:
    from pyhanko.stamp import TextStampStyle

    lines = ["Digitally signed by %(signer)s", "Date: %(ts)s"]
    if reason:
        lines.append("Reason: %(reason)s")
    if location:
        lines.append("Location: %(location)s")
    return TextStampStyle(stamp_text="\n".join(lines), timestamp_format="%Y-%m-%d %H:%M:%S UTC")


# -- Signer ------------------------------------------------------------------------------------


class Signer:
    """Signs PDFs at a PAdES baseline level with one key (ETSI EN 319 142-1 §6).

    :param key: the private key (PEM/DER bytes, a path, or a ``cryptography`` key).
    :param cert: the signing certificate (PEM/DER bytes, a path, or an object); further
        certificates in the same source are taken as its chain.
    :param chain: CA certificates completing the signer's or the TSA's chain; a CA certificate
        still missing is fetched from the caIssuers URL of the one it issued.
    :param policy: level, TSA, digest.
    :param network: the transport (default: a new keep-alive
        :class:`~ltv.evidence.http.HttpClient`); each signature sees it through its own
        :class:`~ltv.evidence.http.Session`.
    :param cache: evidence shared between signatures (and Signers); default: a new in-memory
        :class:`~ltv.evidence.cache.EvidenceCache`.
    :param clock: "now" when a call gives no ``at=`` (default: UTC wall clock).
    :param network_budget: seconds for all requests of one signature (``None``: unbounded).
    :param passphrase: for an encrypted key.

    One Signer serves many concurrent requests (:meth:`asign` is safe to run concurrently,
    also from several threads and event loops).

    >>> from samples import pki
    >>> Signer(key=pki.SIGNER_GOOD_KEY, cert=pki.SIGNER_GOOD_CERT,
    ...        policy=SigningPolicy(level="B-B")).subject
    'CN=Signer Good,OU=Signers,O=ltv sample PKI,C=ZZ'
    """

    def __init__(
        self,
        *,
        key: KeySource,
        cert: CertificateSources,
        chain: CertificateSources = (),
        policy: SigningPolicy,
        network: Transport | None = None,
        cache: EvidenceCache | None = None,
        clock: Clock = utc_now,
        network_budget: float | None = DEFAULT_BUDGET,
        passphrase: str | bytes | None = None,
    ) -> None:
        from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        from ltv._cms import caching_signer

        if network_budget is not None and network_budget <= 0:
            raise UsageError("the network budget must be positive")
        self.policy = policy
        self.network: Transport = network if network is not None else default_network()
        self.cache = cache if cache is not None else EvidenceCache(clock=clock)
        self.clock = clock
        self.network_budget = network_budget
        pkey = load_private_key(key, passphrase)
        certs = load_certificates(cert)
        if not certs:
            raise InputError("no signing certificate given")
        self._cert = certs[0]
        self._chain = [*certs[1:], *load_certificates(chain)]
        check_key_matches(pkey, self._cert)
        try:
            kinfo = translate_pyca_cryptography_key_to_asn1(pkey)
        except (ValueError, TypeError, NotImplementedError) as err:
            raise InputError(f"unsupported private key: {err}") from None
        self._pyhanko_signer = caching_signer(
            signing_cert=self._cert,
            signing_key=kinfo,
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [self._cert, *self._chain]
            ),
        )
        self._shared = _Shared(
            Gatherer(
                network=self.network,
                cache=self.cache,
                pool=self._chain,
                skew=policy.clock_skew,
                budget=network_budget,
            )
        )

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def from_pkcs12(
        cls,
        source: bytes | str | os.PathLike[str],
        passphrase: str | bytes | None,
        *,
        policy: SigningPolicy,
        chain: CertificateSources = (),
        network: Transport | None = None,
        cache: EvidenceCache | None = None,
        clock: Clock = utc_now,
        network_budget: float | None = DEFAULT_BUDGET,
    ) -> Signer:
        """Key, certificate and CA certificates from a PKCS#12 file (bytes or a path)."""
        bundle = load_pkcs12(source, passphrase)
        return cls(
            key=bundle.key,
            cert=bundle.cert,
            chain=[*bundle.chain, *load_certificates(chain)],
            policy=policy,
            network=network,
            cache=cache,
            clock=clock,
            network_budget=network_budget,
        )

    @classmethod
    def from_pem(
        cls,
        key: KeySource,
        cert: CertificateSources,
        *,
        chain: CertificateSources = (),
        passphrase: str | bytes | None = None,
        policy: SigningPolicy,
        network: Transport | None = None,
        cache: EvidenceCache | None = None,
        clock: Clock = utc_now,
        network_budget: float | None = DEFAULT_BUDGET,
    ) -> Signer:
        """Key (PEM/DER, optionally encrypted), certificate and CA certificates from files."""
        return cls(
            key=key,
            cert=cert,
            chain=chain,
            passphrase=passphrase,
            policy=policy,
            network=network,
            cache=cache,
            clock=clock,
            network_budget=network_budget,
        )

    def with_policy(self, policy: SigningPolicy) -> Signer:
        """A Signer with the same key, network, cache, chains and TSA knowledge, another policy
        (e.g. one per level a server offers)."""
        other = object.__new__(Signer)
        other.__dict__.update(self.__dict__)
        other.policy = policy
        return other

    # -- information -------------------------------------------------------------------------

    @property
    def subject(self) -> str:
        """RFC 4514 subject of the signing certificate."""
        return subject(self._cert)

    @property
    def certificate(self) -> str:
        """The signing certificate (PEM)."""
        return to_pem(self._cert)

    def chain(self, *, at: datetime | None = None) -> tuple[str, ...]:
        """Signer → … → root (PEM), built from the certificates given; a CA certificate
        missing from them is fetched from the caIssuers URL of the one it issued."""
        when = resolve_time(at, self.clock)
        session = operation_session(self.network, self.network_budget)
        certs = self._shared.gatherer.build_chain(
            self._cert, self._chain, role="signer", session=session, at=when
        )
        return tuple(to_pem(c) for c in certs)

    # -- signing -----------------------------------------------------------------------------

    def sign(
        self,
        document: Document,
        *,
        field: str | None = None,
        reason: str | None = None,
        location: str | None = None,
        visible: VisibleSignature | None = None,
        at: datetime | None = None,
    ) -> bytes:
        """Synchronous :meth:`asign` (:class:`UsageError` inside a running event loop)."""
        return run_sync(
            self.asign(
                document, field=field, reason=reason, location=location, visible=visible, at=at
            ),
            method="sign",
        )

    async def asign(
        self,
        document: Document,
        *,
        field: str | None = None,
        reason: str | None = None,
        location: str | None = None,
        visible: VisibleSignature | None = None,
        at: datetime | None = None,
    ) -> bytes:
        """Sign *document*; return the signed bytes (the input is a byte-identical prefix).

        ``at`` is the claimed signing time (``/M``) and the moment the evidence must be fresh
        at (default: the clock). Raises :class:`SigningError` (nothing produced) if any evidence
        is not ``good`` or the TSA fails; :class:`InputError` for unusable input.
        """
        when = resolve_time(at, self.clock)
        session = operation_session(self.network, self.network_budget)
        out = io.BytesIO()
        with open_document(document) as src:
            await self._guarded(src, out, field, reason, location, visible, when, session)
        return out.getvalue()

    def sign_to(
        self,
        document: Document,
        output: str | os.PathLike[str] | IO[bytes],
        *,
        field: str | None = None,
        reason: str | None = None,
        location: str | None = None,
        visible: VisibleSignature | None = None,
        at: datetime | None = None,
    ) -> SignResult:
        """Synchronous :meth:`asign_to`."""
        return run_sync(
            self.asign_to(
                document,
                output,
                field=field,
                reason=reason,
                location=location,
                visible=visible,
                at=at,
            ),
            method="sign_to",
        )

    async def asign_to(
        self,
        document: Document,
        output: str | os.PathLike[str] | IO[bytes],
        *,
        field: str | None = None,
        reason: str | None = None,
        location: str | None = None,
        visible: VisibleSignature | None = None,
        at: datetime | None = None,
    ) -> SignResult:
        """Sign *document* streaming into *output*: a path (written atomically: a temporary
        file beside it, created before any network request, renamed when all succeeded), or a
        binary file opened for reading and writing (``open(p, "w+b")``), written from its start.

        Memory stays flat whatever the document's size (see :mod:`ltv.pdfio`).
        """
        started = time.perf_counter()
        when = resolve_time(at, self.clock)
        session = operation_session(self.network, self.network_budget)
        field_name = field or self.policy.field
        with open_document(document) as src:
            if isinstance(output, str | os.PathLike):
                from ltv.output import same_file

                if isinstance(document, str | os.PathLike) and same_file(document, output):
                    raise UsageError(
                        f"output {str(output)!r} is the input file",
                        hint="write to a new file; ltv never modifies its input",
                    )
                with AtomicOutput(output) as target:
                    await self._guarded(
                        src, target.file, field, reason, location, visible, when, session
                    )
                    size = target.file.seek(0, os.SEEK_END)
                    target.commit()
                written: str | None = str(output)
            else:
                output.seek(0)
                output.truncate()
                await self._guarded(src, output, field, reason, location, visible, when, session)
                size = output.seek(0, os.SEEK_END)
                written = None
        return SignResult(
            output=written,
            level=self.policy.level,
            field=field_name,
            size=size,
            signed_at=when,
            requests=tuple(e.url for e in session.exchanges),
            seconds=time.perf_counter() - started,
        )

    async def _guarded(
        self,
        src: IO[bytes],
        out: IO[bytes],
        field: str | None,
        reason: str | None,
        location: str | None,
        visible: VisibleSignature | None,
        when: datetime,
        session: Session,
    ) -> None:
        try:
            await self._sign_stream(src, out, field, reason, location, visible, when, session)
        except LtvError:
            raise
        except Exception as err:
            mapped = pyhanko_failure(err, "sign")
            if mapped is None:
                raise
            raise mapped from None

    async def _reserve(self, md: str, when: datetime, with_tsa: bool) -> int:
        """Hex digits for /Contents: the CMS without a timestamp (sized once per digest by a
        dry run of pyHanko's signer, as ``estimate_signature_container_size`` does, with its
        50 % margin, but no TSA call) plus the TSA's token reservation."""
        base = self._shared.reserve.get(md)
        if base is None:
            from cryptography.hazmat.primitives import hashes
            from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
            from pyhanko_certvalidator.util import get_pyca_cryptography_hash

            probe = await self._pyhanko_signer.async_sign(
                hashes.Hash(get_pyca_cryptography_hash(md)).finalize(),
                md,
                use_pades=True,
                dry_run=True,
                signed_attr_settings=PdfCMSSignedAttributes(signing_time=when),
            )
            size = len(probe.dump()) * 2
            base = self._shared.reserve.setdefault(md, size + 2 * (size // 4))
        if with_tsa and self.policy.tsa_url:
            return base + self._shared.tsa(self.policy.tsa_url).reserve(md)
        return base

    async def _sign_stream(
        self,
        src: IO[bytes],
        out: IO[bytes],
        field: str | None,
        reason: str | None,
        location: str | None,
        visible: VisibleSignature | None,
        when: datetime,
        session: Session,
    ) -> None:
        from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
        from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner

        policy = self.policy
        level = policy.level
        md = policy.md_algorithm
        gatherer = self._shared.gatherer
        field_name = field or policy.field
        writer = open_writer(src, modified=when)
        existing = _find_field(writer, field_name)
        if existing == "signed":
            raise InputError(
                f"field {field_name!r} is already signed", hint="choose another --field name"
            )
        spec = None
        if visible is not None:
            if existing == "empty":
                raise UsageError(
                    f"field {field_name!r} exists: its own widget is where the signature shows",
                    hint="drop --visible to sign the existing field, or choose a new --field",
                )
            spec = SigFieldSpec(
                sig_field_name=field_name,
                on_page=_page_index(writer, visible.page),
                box=visible.box,  # type: ignore[arg-type]  # pyHanko accepts floats
            )

        # (0) RFC 5280 §4.1.2.5: a certificate outside its validity period cannot sign now.
        check_validity(self._cert, "signer", when, "sign")
        covered: dict[str, CertificateEvidence] = {}
        chain: list[asn1_x509.Certificate] = []
        if level.needs_evidence:
            # (1) fail fast: the signer's own chain before any timestamp is requested.
            chain = await gatherer.chain_of(
                self._cert, self._chain, role="signer", session=session, at=when
            )
            for ca in chain[1:]:
                check_validity(ca, "CA", when, "sign")
            for ev in await gatherer.evidence(chain, "signer", when, session):
                covered[fingerprint(ev.cert)] = ev

        # (2) EN 319 142-1 §6.3 B-B/B-T: CMS with /SubFilter /ETSI.CAdES.detached; for B-T an
        # RFC 3161 signature-time-stamp over the signature value (§6.3 Table 1).
        stamper: OperationStamper | None = None
        if level.needs_tsa and policy.tsa_url:
            stamper = self._shared.tsa(policy.tsa_url).stamper(session)
        meta = PdfSignatureMetadata(
            field_name=field_name,
            reason=reason,
            location=location,
            md_algorithm=md,
            subfilter=SigSeedSubFilter.PADES,
        )
        pdf_signer = PdfSigner(
            meta,
            signer=self._pyhanko_signer,
            timestamper=stamper,
            stamp_style=_stamp_style(reason, location),
            new_field_spec=spec,
        )
        params = {"reason": reason or "", "location": location or ""}
        reserve = await self._reserve(md, when, stamper is not None)
        contents = await _sign_at(
            pdf_signer, writer, when, out, bytes_reserved=reserve, appearance=params
        )
        if not level.needs_evidence:
            return

        # (3) B-LT: the TSA certificate is the one the token's sid + ESS attribute name.
        assert stamper is not None  # noqa: S101 - B-LT needs a TSA (SigningPolicy)
        tsa_chains: list[asn1_x509.Certificate] = []
        for stamp in stamper.stamps:
            tchain = await gatherer.chain_of(
                stamp.tsa_cert, stamp.other_certs, role="TSA", session=session, at=when
            )
            tsa_chains.extend(tchain)
            for ev in await gatherer.evidence(tchain, "TSA", stamp.gen_time, session):
                covered.setdefault(fingerprint(ev.cert), ev)

        # (4) EN 319 142-1 §5.4.2: DSS with certificates, OCSP responses, CRLs; VRI keyed by
        # SHA-1 of the signature's /Contents (§5.4.2.2). Appended to the output in place.
        w2 = open_writer(out)
        add_dss(w2, covered.values(), certs=[*chain, *tsa_chains], vri_for=contents)
        if not level.needs_document_timestamp:
            append_update(w2)
            return

        # (5) B-LTA: evidence for the document timestamp's TSA, then the timestamp over the DSS.
        assert policy.tsa_url is not None  # noqa: S101 - guaranteed by SigningPolicy
        await document_timestamp(
            gatherer=gatherer,
            tsa=self._shared.tsa(policy.tsa_url),
            writer=w2,
            md=md,
            at=when,
            covered=covered,
            session=session,
        )


def _find_field(writer: IncrementalPdfFileWriter, name: str) -> str | None:
    """``"signed"``, ``"empty"`` (an unsigned signature field) or ``None`` (no such field)."""
    from pyhanko.sign.fields import enumerate_sig_fields

    try:
        for fname, value, _ref in enumerate_sig_fields(writer.prev):
            if fname == name:
                return "signed" if value is not None else "empty"
    except Exception:  # a damaged AcroForm: pyHanko will say so when it signs
        return None
    return None


def _page_index(writer: IncrementalPdfFileWriter, page: int) -> int:
    try:
        count = int(writer.prev.root["/Pages"]["/Count"])
    except Exception:
        raise InputError("cannot count the pages of the PDF") from None
    index = page - 1 if page > 0 else count + page
    if not 0 <= index < count:
        raise UsageError(f"visible signature: page {page} does not exist ({count} pages)")
    return index
