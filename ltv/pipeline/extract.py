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
field whose CMS cannot be parsed is not a signature (as DSS treats it); it is kept as a
file-level warning.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ltv.errors import InputError

if TYPE_CHECKING:
    from asn1crypto import cms, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    from ltv.limits import Limits

__all__ = ["EvidenceItem", "Extracted", "ExtractedSignature", "extract"]

EvidenceKind = Literal["ocsp", "crl"]
Source = Literal["dss", "vri", "cms"]


@dataclass(kw_only=True)
class EvidenceItem:
    """One OCSP response or CRL found in the file, with every place it was found."""

    kind: EvidenceKind
    der: bytes
    sources: list[Source] = field(default_factory=list)
    revision: int | None = None
    """Earliest revision of the file that contains it (for the B-LTA coverage check)."""

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

    @property
    def document_timestamps(self) -> list[ExtractedSignature]:
        return [s for s in self.signatures if s.kind == "document-timestamp"]


class _EvidenceIndex:
    def __init__(self) -> None:
        self.items: dict[bytes, EvidenceItem] = {}

    def add(self, kind: EvidenceKind, der: bytes, source: Source, revision: int | None) -> None:
        key = hashlib.sha256(der).digest()
        item = self.items.get(key)
        if item is None:
            item = self.items[key] = EvidenceItem(kind=kind, der=der, revision=revision)
        if source not in item.sources:
            item.sources.append(source)
        if revision is not None and (item.revision is None or revision < item.revision):
            item.revision = revision


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


def _ocsp_certs(der: bytes) -> list[bytes]:
    from asn1crypto import ocsp

    try:
        resp = ocsp.OCSPResponse.load(der)
        basic = resp["response_bytes"]["response"].parsed
        return [c.dump() for c in basic["certs"]] if basic["certs"].native else []
    except Exception:
        return []


def extract(data: bytes, limits: Limits | None = None) -> Extracted:
    """Parse the PDF and collect everything the later stages need (InputError if unreadable;
    its subclass :class:`~ltv.limits.LimitError` when it exceeds a resource limit)."""
    import zlib

    from asn1crypto import core, x509
    from pyhanko.pdf_utils import generic, misc
    from pyhanko.sign.fields import enumerate_sig_fields
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    from ltv.evidence._crypto import MALFORMED
    from ltv.limits import DEFAULT_LIMITS, depth_exceeded, open_reader, screen_evidence

    unreadable: tuple[type[Exception], ...] = (misc.PdfError, zlib.error, *MALFORMED)

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise InputError("not a PDF (no %PDF header)")
    try:
        reader = open_reader(data, limits or DEFAULT_LIMITS)  # harden: limits checked first
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except RecursionError:  # harden: nesting deeper than the parser's stack
        raise depth_exceeded() from None
    except unreadable as err:  # harden: whatever pyHanko raises on a malformed file
        msg = " ".join(str(err).split()) or type(err).__name__
        raise InputError(f"unreadable PDF: {msg}") from err

    warnings: list[str] = []
    index = _EvidenceIndex()
    cert_ders: list[bytes] = []
    found: list[ExtractedSignature] = []
    from ltv.names import pdf_text

    for raw_name, _sig_obj, sig_field in fields:
        fq_name = pdf_text(raw_name)  # harden: a /T that is a byte string is still a name
        try:
            emb = EmbeddedPdfSignature(reader, sig_field, raw_name)
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
        except Exception as err:
            msg = " ".join(str(err).split()) or type(err).__name__
            warnings.append(f"field {fq_name!r}: not a parsable signature ({msg}); ignored")
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
                field=fq_name,
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
        try:
            cert = x509.Certificate.load(der)
            _ = cert.subject, cert.serial_number
            certificates.append(cert)
        except Exception:
            warnings.append("an embedded certificate is unreadable; ignored")
    found.sort(key=lambda s: s.revision)
    evidence = []
    for item in index.items.values():  # harden: evidence that says nothing is ignored, visibly
        problem = screen_evidence(item.kind, item.der, limits or DEFAULT_LIMITS)
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
    )
