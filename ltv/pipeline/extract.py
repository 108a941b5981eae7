"""(1) Extract: signatures, document timestamps, ByteRanges, revisions, DSS/VRI, CMS evidence.

Spec steps:
- ISO 32000-2 §12.8.1: signature fields (/FT /Sig) with a /V signature dictionary; /ByteRange;
  /Contents holds the DER CMS SignedData (RFC 5652 §5.1).
- ETSI EN 319 142-1 §5.4: /DocTimeStamp dictionaries (SubFilter ETSI.RFC3161) hold a bare
  RFC 3161 TimeStampToken.
- ETSI EN 319 142-1 §5.4.2 / ISO 32000-2 §12.8.4.3: the Document Security Store /DSS with
  /Certs, /OCSPs, /CRLs and per-signature /VRI dictionaries.
- ISO 32000-1 §12.8.3.3.2: the adbe-revocationInfoArchival signed attribute (CRLs, OCSP
  responses, other); RFC 5652 §10.2.1: SignedData.crls with RevocationInfoChoice 'crl' and
  'other' (RFC 5940 §4.1: id-ri-ocsp-response).

Parsing is pyHanko's (one parser, so there is no parser differential to flag). A signature
field whose value is present but cannot be parsed is kept as a :class:`BrokenField`: it is a
signature, present and broken, and the report counts it as failing (never silently dropped).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from ltv._memo import content_memo
from ltv.errors import InputError

if TYPE_CHECKING:
    from asn1crypto import cms, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    from ltv.limits import Limits
    from ltv.pipeline.repair import ScanIndex

__all__ = ["BrokenField", "EvidenceItem", "Extracted", "ExtractedSignature", "extract"]

EvidenceKind = Literal["ocsp", "crl"]
Source = Literal["dss", "vri", "cms"]


@dataclass(frozen=True, kw_only=True)
class EvidenceItem:
    """One OCSP response or CRL found in the file, with every place it was found."""

    kind: EvidenceKind
    der: bytes
    sources: tuple[Source, ...] = ()
    revision: int | None = None
    """Earliest revision of the file that contains it (for the B-LTA coverage check)."""
    serials: tuple[int, ...] | None = None
    """OCSP: the serial numbers its SingleResponses speak about (none when it is not a
    successful, well-formed basic response); a fact of the bytes, read once by
    :class:`EvidenceIndex` so that judging it again (``ltv audit`` re-runs) never parses the
    response for it. None: not read (then read when judged)."""

    @property
    def primary_source(self) -> Source:
        for s in ("cms", "vri", "dss"):
            if s in self.sources:
                return s
        return "dss"


@dataclass(kw_only=True)
class ExtractedSignature:
    """A signature or document timestamp, with the pyHanko object for the later stages."""

    field: str
    kind: Literal["signature", "document-timestamp"]
    embedded: EmbeddedPdfSignature
    revision: int
    subfilter: str | None
    cms_certs: list[x509.Certificate]
    signature_tsts: list[cms.SignedData]
    """Signature timestamp tokens (unsigned attribute id-aa-signatureTimeStampToken)."""
    content_sig_bytes: bytes
    """SignerInfo.signature: what the signature timestamp's messageImprint hashes."""


@dataclass(frozen=True, kw_only=True)
class BrokenField:
    """A signature field whose value is present but cannot be parsed."""

    field: str
    kind: Literal["signature", "document-timestamp"]
    reason: str
    unsupported: bool = False
    """A format ltv does not implement (a legacy SubFilter), not a broken value: the verdict is
    INDETERMINATE, never TOTAL-FAILED."""


@dataclass(kw_only=True)
class Extracted:
    reader: PdfFileReader
    signatures: list[ExtractedSignature]
    """Signatures and document timestamps, in revision order."""
    certificates: list[x509.Certificate]
    """Every certificate found anywhere (CMS, TST, DSS, OCSP responses)."""
    evidence: list[EvidenceItem]
    revisions: int
    warnings: list[str] = field(default_factory=list)
    broken: list[BrokenField] = field(default_factory=list)
    repaired: ScanIndex | None = None
    """Set when the cross-reference structure was damaged and located by scanning; its
    ``repairs`` keep growing while objects are read (report them after the last stage)."""
    unexplained: list[str] = field(default_factory=list)
    """Content a repairing viewer would read that no cross-reference section explains
    (ltv.pipeline.hidden): a change after every signature that no rule explains."""
    """Signature fields with an unparsable value, in field order."""

    @property
    def document_timestamps(self) -> list[ExtractedSignature]:
        return [s for s in self.signatures if s.kind == "document-timestamp"]


class _EvidenceIndex:
    """De-duplicates evidence by content, collecting every place and the earliest revision."""

    def __init__(self) -> None:
        self.items: dict[bytes, EvidenceItem] = {}

    def add(self, kind: EvidenceKind, der: bytes, source: Source, revision: int | None) -> None:
        from dataclasses import replace

        key = hashlib.sha256(der).digest()
        item = self.items.get(key)
        if item is None:
            serials: tuple[int, ...] | None = None
            if kind == "ocsp":
                from ltv.evidence.ocsp import single_response_serials

                serials = single_response_serials(der)
            item = EvidenceItem(kind=kind, der=der, revision=revision, serials=serials)
        if source not in item.sources:
            item = replace(item, sources=(*item.sources, source))
        if revision is not None and (item.revision is None or revision < item.revision):
            item = replace(item, revision=revision)
        self.items[key] = item


def _stream_data(obj: Any) -> bytes:
    """DSS entries are PDF streams (TOOLCHAIN.md: pass ``.get_object().data``)."""
    return bytes(obj.get_object().data)


def _revision_of(reader: PdfFileReader, ref: Any) -> int | None:
    from pyhanko.pdf_utils import generic

    if isinstance(ref, generic.IndirectObject):
        try:
            return int(reader.xrefs.get_introducing_revision(ref.reference))
        except KeyError:
            return None
    return None


def _read_dss(reader: PdfFileReader, index: _EvidenceIndex, certs: list[bytes]) -> list[str]:
    """ETSI EN 319 142-1 §5.4.2: /DSS /Certs /OCSPs /CRLs and /VRI/<hash> /Cert /OCSP /CRL,
    read in EVERY revision, oldest first: an incremental update may drop entries from the DSS
    (DSS-1959), yet the data it dropped is still in the file, covered by the document
    timestamps that followed it, and still proves what it proved. Each item keeps every place
    it was found (``dss``/``vri``) and the earliest revision holding it."""
    warnings: list[str] = []
    total = int(reader.xrefs.total_revisions)
    for revision in range(total):
        try:
            root = reader.root if revision == total - 1 else reader.get_historical_root(revision)
            dss_ref = root.raw_get("/DSS")
        except KeyError:
            continue
        except Exception as err:  # a broken old revision is data, not a crash
            warnings.append(f"revision {revision}: catalog unreadable ({type(err).__name__})")
            continue
        # (an object keeps its number when an update rewrites it, so every revision's DSS is
        # read; the index de-duplicates the evidence by content)
        _read_one_dss(reader, dss_ref, revision, index, certs, warnings)
    return list(dict.fromkeys(warnings))


def _read_one_dss(
    reader: PdfFileReader,
    dss_ref: Any,
    revision: int,
    index: _EvidenceIndex,
    certs: list[bytes],
    warnings: list[str],
) -> None:
    from pyhanko.pdf_utils import generic

    def _entries(container: Any, key: str) -> list[Any]:
        try:
            value = container[key]  # resolves an indirect array
        except KeyError:
            return []
        return list(value) if isinstance(value, generic.ArrayObject) else []

    def _read(container: Any, key: str, kind: str, source: Source) -> None:
        for ref in _entries(container, key):
            try:
                data = _stream_data(ref)
            except Exception as err:  # a broken stream is data, not a crash
                warnings.append(f"DSS {key}: unreadable entry ({type(err).__name__})")
                continue
            if kind == "cert":
                certs.append(data)
            else:
                introduced = _revision_of(reader, ref)
                earliest = revision if introduced is None else min(introduced, revision)
                index.add(kind, data, source, earliest)  # type: ignore[arg-type]

    dss = dss_ref.get_object()
    if not isinstance(dss, generic.DictionaryObject):
        warnings.append(f"revision {revision}: /DSS is not a dictionary")
        return
    _read(dss, "/Certs", "cert", "dss")
    _read(dss, "/OCSPs", "ocsp", "dss")
    _read(dss, "/CRLs", "crl", "dss")
    try:
        vri = dss["/VRI"]
    except KeyError:
        return
    if not isinstance(vri, generic.DictionaryObject):
        return
    for key in list(vri.keys()):
        try:
            entry = vri[key]
        except Exception:  # noqa: S112 - tolerate odd VRI entries; they are optional
            continue
        if not isinstance(entry, generic.DictionaryObject):
            continue
        _read(entry, "/Cert", "cert", "vri")
        _read(entry, "/OCSP", "ocsp", "vri")
        _read(entry, "/CRL", "crl", "vri")


def _read_cms_evidence(
    signed_data: cms.SignedData, signer_info: Any, index: _EvidenceIndex, revision: int
) -> None:
    """RFC 5652 §10.2.1 SignedData.crls and ISO 32000-1 adbe-revocationInfoArchival."""
    # ALL single responses are kept: pyHanko's AdES route wraps only SingleResponse 0
    # of an adbe-staple (TOOLCHAIN.md); ltv.evidence selects by CertID.
    from asn1crypto import core

    crls = signed_data["crls"]
    if not isinstance(crls, core.Void):
        for choice in crls:
            if choice.name == "crl":
                index.add("crl", choice.chosen.dump(), "cms", revision)
            elif choice.name == "other":
                other = choice.chosen
                if other["other_rev_info_format"].native == "ocsp_response":
                    index.add("ocsp", other["other_rev_info"].dump(), "cms", revision)
    from asn1crypto import core

    signed_attrs = signer_info["signed_attrs"]
    if isinstance(signed_attrs, core.Void):
        return
    for attr in signed_attrs:
        if attr["type"].native != "adobe_revocation_info_archival":
            continue
        for value in attr["values"]:
            if not isinstance(value["crl"], core.Void):
                for crl in value["crl"]:
                    index.add("crl", crl.dump(), "cms", revision)
            if not isinstance(value["ocsp"], core.Void):
                for resp in value["ocsp"]:
                    index.add("ocsp", resp.dump(), "cms", revision)


@content_memo(maxsize=1024, max_bytes=16 * 1024)
def _readable_certificate(der: bytes) -> x509.Certificate | None:
    """The certificate, its subject and serial decoded; None when it cannot be. Memoised by
    content (an archive carries the same CA and TSA certificates in every file; the parsed
    objects are only read)."""
    from asn1crypto import x509 as asn1_x509

    try:
        cert = asn1_x509.Certificate.load(der)
        _ = cert.subject, cert.serial_number
    except Exception:
        return None
    return cert


def _ocsp_certs(der: bytes) -> tuple[bytes, ...]:
    """The certificates an OCSP response carries (memoised up to 64 KiB a response: an
    archive staples the same responses into many files). A response the OCSP checker accepts
    was parsed in full once already (for its serials, ``EvidenceIndex``): its certificates are
    read from that parse; any other is read leniently here."""
    from ltv.evidence.ocsp import parsed_response_certificates

    found = parsed_response_certificates(der)
    return _ocsp_certs_lenient(der) if found is None else found


@content_memo(maxsize=256, max_bytes=64 * 1024)
def _ocsp_certs_lenient(der: bytes) -> tuple[bytes, ...]:
    from asn1crypto import core, ocsp

    try:
        resp = ocsp.OCSPResponse.load(der)
        basic = resp["response_bytes"]["response"].parsed
        certs = basic["certs"]
        return () if isinstance(certs, core.Void) else tuple(c.dump() for c in certs)
    except Exception:
        return ()


_UNSUPPORTED_SUBFILTERS = {
    "/adbe.x509.rsa_sha1": "a raw PKCS#1 signature with the certificates in /Cert; ISO 32000-1 "
    "§12.8.3.2, deprecated by ISO 32000-2",
}


def _subfilter(sig_field: Any) -> str | None:
    try:
        value = sig_field.get_object()["/V"].get_object().get("/SubFilter")
        return None if value is None else str(value)
    except Exception:  # a field too broken to say
        return None


def _field_kind(sig_field: Any) -> Literal["signature", "document-timestamp"]:
    """What an unparsable field claims to be (its value's /Type or /SubFilter), best effort."""
    try:
        value = sig_field.get_object()["/V"].get_object()
        if value.get("/Type") == "/DocTimeStamp" or value.get("/SubFilter") == "/ETSI.RFC3161":
            return "document-timestamp"
    except Exception:  # noqa: S110 - a field too broken to say: call it a signature
        pass
    return "signature"


def _unexplained(stream: BinaryIO, reader: Any, repaired: ScanIndex | None) -> list[str]:
    from ltv.pipeline.hidden import unexplained_content

    try:
        return unexplained_content(stream, reader, repaired)
    except Exception as err:  # a structure too broken to compare: say so, never pass silently
        from ltv._boundary import describe

        return [f"the file's structure could not be checked for hidden content ({describe(err)})"]


def extract(data: bytes | BinaryIO, limits: Limits | None = None) -> Extracted:
    """Parse the PDF and collect everything the later stages need (InputError if unreadable;
    its subclass :class:`~ltv.limits.LimitError` when it exceeds a resource limit).

    ``data``: the file's bytes, or a seekable binary stream (read in place: a large file is
    never copied into memory)."""
    import zlib

    from asn1crypto import core
    from pyhanko.pdf_utils import generic, misc
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    from ltv.pipeline._embedded import EmbeddedSignature

    stream: BinaryIO = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    stream.seek(0)
    if not stream.read(1024).lstrip()[:5].startswith(b"%PDF"):
        raise InputError("not a PDF (no %PDF header)")
    stream.seek(0)
    from ltv.evidence._crypto import MALFORMED
    from ltv.limits import DEFAULT_LIMITS, check_pdf, depth_exceeded, screen_evidence
    from ltv.pipeline.lazy import reader_class

    limits = limits or DEFAULT_LIMITS
    # whatever pyHanko raises on a malformed file; OSError: a seek before the start of a real
    # file (ValueError on BytesIO)
    unreadable: tuple[type[Exception], ...] = (misc.PdfError, zlib.error, OSError, *MALFORMED)
    repaired: ScanIndex | None = None
    check_pdf(stream, limits)  # declared sizes, counts, depths against the file, first
    stream.seek(0)
    try:
        # large stream payloads stay on disk (ltv.pipeline.lazy): memory does not grow with
        # the file
        reader = reader_class(PdfFileReader)(
            stream, strict=False, decode_limits=limits.decode_limits()
        )
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except RecursionError:  # nesting deeper than the parser's stack
        raise depth_exceeded() from None
    except unreadable as err:
        # broken cross-reference pointers: read the same bytes again, steered by a scan
        # (ltv.pipeline.repair); the file is never rewritten, digests stay over its raw bytes
        from ltv.pipeline.repair import open_tolerant

        try:
            reader, repaired = open_tolerant(stream)
            fields = list(enumerate_sig_fields(reader, filled_status=True))
        except RecursionError:
            raise depth_exceeded() from None
        except unreadable:
            msg = " ".join(str(err).split()) or type(err).__name__
            raise InputError(f"unreadable PDF: {msg}") from err

    warnings: list[str] = []
    index = _EvidenceIndex()
    cert_ders: list[bytes] = []
    found: list[ExtractedSignature] = []
    broken: list[BrokenField] = []
    from ltv.names import pdf_text

    for raw_name, _sig_obj, sig_field in fields:
        fq_name = pdf_text(raw_name)  # a /T that is a byte string is still a name
        try:
            emb = EmbeddedSignature(reader, sig_field, raw_name)
            sig_type = emb.sig_object_type
            kind: Literal["signature", "document-timestamp"] = (
                "document-timestamp" if sig_type == "/DocTimeStamp" else "signature"
            )
            signed_data = emb.signed_data
            signer_info = emb.signer_info
            subfilter = emb.sig_object.get("/SubFilter")
            content_type = signed_data["encap_content_info"]["content_type"].native
            if kind == "signature" and content_type == "tst_info":
                kind = "document-timestamp"
            certs = list(signed_data["certificates"] or [])
            cms_certs = [c.chosen for c in certs if c.name == "certificate"]
            tsts: list[cms.SignedData] = []
            unsigned = signer_info["unsigned_attrs"]
            if not isinstance(unsigned, core.Void):
                for attr in unsigned:
                    if attr["type"].native == "signature_time_stamp_token":
                        tsts.extend(v["content"] for v in attr["values"])
            signature_value = signer_info["signature"].native
            # force the structures we rely on to parse now, inside the try (asn1crypto is lazy)
            _ = signer_info["sid"].native, signer_info["digest_algorithm"].native
            _ = signer_info["signature_algorithm"].native, emb.signed_revision
            for cert in cms_certs:
                _ = cert.subject, cert.serial_number, cert.public_key
        except Exception as err:  # this block only parses the field's value: any failure is
            # the input's (pyHanko and asn1crypto raise assorted errors on malformed CMS)
            from ltv._boundary import describe

            subfilter = _subfilter(sig_field)
            if subfilter in _UNSUPPORTED_SUBFILTERS:
                broken.append(
                    BrokenField(
                        field=str(fq_name),
                        kind="signature",
                        reason=f"signature format {subfilter} "
                        f"({_UNSUPPORTED_SUBFILTERS[subfilter]}) is not supported by ltv: "
                        "the signature cannot be checked",
                        unsupported=True,
                    )
                )
                continue
            broken.append(
                BrokenField(
                    field=str(fq_name),
                    kind=_field_kind(sig_field),
                    reason=f"signature value cannot be parsed ({describe(err)})",
                )
            )
            continue
        revision = int(emb.signed_revision)
        cert_ders.extend(cert.dump() for cert in cms_certs)
        for tst in tsts:
            try:
                cert_ders.extend(
                    c.chosen.dump() for c in tst["certificates"] or [] if c.name == "certificate"
                )
                _read_cms_evidence(tst, tst["signer_infos"][0], index, revision)
            except Exception:
                warnings.append(f"field {fq_name!r}: unreadable signature timestamp token")
        try:
            _read_cms_evidence(signed_data, signer_info, index, revision)
        except Exception:
            warnings.append(f"field {fq_name!r}: unreadable CMS revocation values")
        found.append(
            ExtractedSignature(
                field=str(fq_name),  # plain text: no reference to the reader
                kind=kind,
                embedded=emb,
                revision=revision,
                subfilter=str(subfilter) if isinstance(subfilter, generic.NameObject) else None,
                cms_certs=cms_certs,
                signature_tsts=tsts,
                content_sig_bytes=bytes(signature_value),
            )
        )
    try:
        warnings.extend(_read_dss(reader, index, cert_ders))
    except Exception as err:
        warnings.append(f"DSS unreadable: {type(err).__name__}")
    for item in list(index.items.values()):
        if item.kind == "ocsp":
            cert_ders.extend(_ocsp_certs(item.der))
    certificates: list[x509.Certificate] = []
    for der in dict.fromkeys(cert_ders):
        cert = _readable_certificate(der)
        if cert is None:
            warnings.append("an embedded certificate is unreadable; ignored")
        else:
            certificates.append(cert)
    found.sort(key=lambda s: s.revision)
    evidence = []
    for item in index.items.values():  # evidence that says nothing is ignored, visibly
        problem = screen_evidence(item.kind, item.der, limits)
        if problem is None:
            evidence.append(item)
        else:
            warnings.append(
                f"{'OCSP response' if item.kind == 'ocsp' else 'CRL'} in "
                f"{'/'.join(item.sources)} (revision {item.revision}) unusable ({problem}): ignored"
            )
    return Extracted(
        reader=reader,
        signatures=found,
        certificates=certificates,
        evidence=evidence,
        revisions=int(reader.xrefs.total_revisions),
        warnings=warnings,
        broken=broken,
        repaired=repaired,
        unexplained=_unexplained(stream, reader, repaired),
    )
