"""Describe a signed PDF: signatures, document timestamps, ByteRange coverage, DSS/VRI.

The PDF is read with pyHanko's ``PdfFileReader(strict=False)``. Each signature,
each DSS entry and each VRI entry is described on its own: a broken CMS blob or
a corrupt stream becomes an ``error`` field of that item, and the rest of the
document is still described.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from io import BytesIO
from typing import Any

from asn1crypto import cms, parser

from ltv.errors import InputError
from ltv.inspect._asn1 import (
    describe_certificate_der,
    describe_crl_der,
    describe_ocsp_response_der,
    describe_revocation_info_archival,
    describe_signed_data,
    describe_timestamp_token,
    find_attribute,
)
from ltv.inspect._common import Json, error_text, guarded, iso, optional

_PDF_DATE = re.compile(
    rb"^D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?"
    rb"(?:([Zz+\-])(?:(\d{2})'?(?:(\d{2})'?)?)?)?"
)
_PDF_VERSION = re.compile(rb"%PDF-(\d+\.\d+)")
_EOF_MARKER = re.compile(rb"%%EOF(\r\n|\r|\n)?")


def parse_pdf_date(raw: str) -> str | None:
    """Parse a PDF date string (``D:YYYYMMDDHHmmSSOHH'mm'``) to ISO-8601 UTC.

    A date without a zone is taken as UTC (ISO 32000 leaves it unknown).
    Returns ``None`` if the string is not a PDF date.
    """
    m = _PDF_DATE.match(raw.strip().encode("latin-1", "replace"))
    if m is None:
        return None
    year = int(m.group(1))
    month, day, hour, minute, second = (
        int(g) if g else d for g, d in zip(m.groups()[1:6], (1, 1, 0, 0, 0), strict=True)
    )
    sign = m.group(7)
    offset = timedelta(0)
    if sign in (b"+", b"-"):
        offset = timedelta(hours=int(m.group(8) or 0), minutes=int(m.group(9) or 0))
        if sign == b"-":
            offset = -offset
    try:
        value = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError:
        return None
    return iso(value.astimezone(UTC))


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` dereferenced (pyHanko's ``__getitem__``), or ``None`` if absent."""
    try:
        return obj[key]
    except (KeyError, TypeError):
        return None


def _text(obj: Any, key: str) -> str | None:
    value = _get(obj, key)
    return None if value is None else str(value)


def _stream_data(item: Any) -> bytes:
    data = item.get_object().data
    if not isinstance(data, bytes):
        raise ValueError("not a stream")
    return data


def _der_length(blob: bytes) -> int:
    return int(parser.peek(blob))


def _der_lengths(contents: bytes) -> bool:
    """Whether every length in the CMS blob is DER: definite and minimally encoded.

    A linear walk over the TLV headers (re-encoding with asn1crypto is far too
    slow on a CMS carrying big CRLs). It does not check DER's other rules (SET
    OF ordering, BOOLEAN values), so ``True`` means "no BER lengths found".
    """
    stack = [(0, _der_length(contents))]
    while stack:
        pos, end = stack.pop()
        while pos < end:
            first = contents[pos]
            pos += 1
            if first & 0x1F == 0x1F:  # high tag number form
                while contents[pos] & 0x80:
                    pos += 1
                pos += 1
            length_byte = contents[pos]
            pos += 1
            if length_byte == 0x80:
                return False  # indefinite length (BER)
            if length_byte & 0x80:
                count = length_byte & 0x7F
                raw = contents[pos : pos + count]
                pos += count
                length = int.from_bytes(raw, "big")
                if raw[:1] == b"\x00" or length < 0x80:
                    return False  # a longer length form than needed
            else:
                length = length_byte
            if first & 0x20:  # constructed: walk its content too
                stack.append((pos, pos + length))
            pos += length
        if pos != end:
            return False
    return True


# --------------------------------------------------------------------------- coverage


def _revision_ends(data: bytes) -> set[int]:
    return {m.end() for m in _EOF_MARKER.finditer(data)} | {
        m.start() + 5 for m in _EOF_MARKER.finditer(data)
    }


def _is_contents_gap(data: bytes, start: int, end: int, contents_len: int) -> bool:
    """Whether ``data[start:end]`` is exactly the hex string ``<...>`` of the signature."""
    if end - start != contents_len * 2 + 2:
        return False
    return data[start : start + 1] == b"<" and data[end - 1 : end] == b">"


def byte_range_coverage(
    data: bytes, byte_range: list[int], contents_len: int, level: str | None
) -> Json:
    """What a ByteRange covers in ``data``: gaps, tail, whole file, whole revision.

    ``level`` is pyHanko's SignatureCoverageLevel name when it could be
    evaluated; otherwise whole-revision coverage is judged by whether the signed
    bytes are contiguous around /Contents and end right after a ``%%EOF``.
    """
    size = len(data)
    problems: list[str] = []
    if len(byte_range) % 2 or not byte_range:
        problems.append(f"ByteRange has {len(byte_range)} numbers (expected 4)")
    elif len(byte_range) != 4:
        problems.append(f"ByteRange has {len(byte_range) // 2} ranges (expected 2)")
    pairs = [(byte_range[i], byte_range[i + 1]) for i in range(0, len(byte_range) - 1, 2)]
    if any(a < 0 or n < 0 for a, n in pairs):
        problems.append("ByteRange has negative numbers")
    if any(a + n > size for a, n in pairs):
        problems.append("ByteRange reaches beyond the end of the file")
    if pairs and pairs[0][0] != 0:
        problems.append("ByteRange does not start at offset 0")
    ordered = sorted((max(a, 0), max(a, 0) + max(n, 0)) for a, n in pairs)
    if any(ordered[i][1] > ordered[i + 1][0] for i in range(len(ordered) - 1)):
        problems.append("ByteRange ranges overlap")
    if ordered != [(max(a, 0), max(a, 0) + max(n, 0)) for a, n in pairs]:
        problems.append("ByteRange ranges are not in ascending order")

    gaps: list[Json] = []
    covered = 0
    pos = 0
    for start, end in ordered:
        start, end = min(start, size), min(end, size)
        if start > pos:
            gaps.append(
                {
                    "start": pos,
                    "end": start,
                    "bytes": start - pos,
                    "is_contents": _is_contents_gap(data, pos, start, contents_len),
                }
            )
        covered += max(0, end - max(start, pos))
        pos = max(pos, end)
    signed_end = pos
    tail = max(0, size - signed_end)
    contents_gaps = [g for g in gaps if g["is_contents"]]
    contiguous = len(gaps) == 1 and len(contents_gaps) == 1 and not problems
    if len(gaps) > len(contents_gaps):
        problems.append("ByteRange leaves bytes uncovered other than the /Contents string")
    whole_file = contiguous and tail == 0
    if level is not None:
        whole_revision = level in ("ENTIRE_FILE", "ENTIRE_REVISION")
    else:
        whole_revision = whole_file or (contiguous and signed_end in _revision_ends(data))
    return {
        "level": level,
        "covers_whole_file": whole_file,
        "covers_whole_revision": whole_revision,
        "signed_bytes": covered,
        "file_bytes": size,
        "uncovered_tail_bytes": tail,
        "gaps": gaps,
        "problems": problems,
    }


# --------------------------------------------------------------------------- signatures


def _pyhanko_coverage_level(reader: Any, sig_field: Any, fq_name: str) -> str | None:
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    emb = EmbeddedPdfSignature(reader, sig_field, fq_name)
    return str(emb.evaluate_signature_coverage().name)


def _describe_cms_signature(item: Json, contents: bytes) -> None:
    """Fill ``item`` from the CMS in /Contents (signer, times, timestamp, adbe revinfo)."""
    ci = cms.ContentInfo.load(contents, strict=False)
    if ci["content_type"].native != "signed_data":
        raise ValueError(f"/Contents holds CMS {ci['content_type'].native}, not SignedData")
    sd = ci["content"]
    item["cms_ber_lengths"] = optional(lambda: not _der_lengths(contents))
    if item["kind"] == "document-timestamp":
        token = describe_timestamp_token(ci)
        item["cms"] = token["cms"]
        item["timestamp"] = token
    else:
        item["cms"] = describe_signed_data(sd)
    item["signer"] = item["cms"]["signer"]
    item["cms_signing_time"] = item["cms"]["signing_time"]
    infos = list(sd["signer_infos"])
    if not infos:
        return
    si = infos[0]
    tst = find_attribute(si["unsigned_attrs"], "signature_time_stamp_token")
    if tst is not None:
        item["timestamp"] = guarded(
            lambda: describe_timestamp_token(tst), what="signature timestamp token"
        )
    archival = find_attribute(si["signed_attrs"], "adobe_revocation_info_archival")
    if archival is not None:
        item["revocation_info_archival"] = guarded(
            lambda: describe_revocation_info_archival(archival),
            what="adbe-revocationInfoArchival attribute",
        )


def _x509_rsa_sha1_certs(sig: Any) -> list[Json]:
    cert = _get(sig, "/Cert")
    if cert is None:
        return []
    blobs = [cert] if isinstance(cert, bytes | str) else list(cert)
    out = []
    for blob in blobs:
        raw: bytes = getattr(blob, "original_bytes", None) or str(blob).encode("latin-1")
        out.append(describe_certificate_der(raw))
    return out


def _describe_signature(
    reader: Any, data: bytes, fq_name: Any, sig_ref: Any, sig_field: Any
) -> Json:
    from pyhanko.sign.validation.pdf_embedded import extract_contents

    from ltv.names import pdf_text

    sig = sig_ref.get_object()
    sig_type = _text(sig, "/Type")
    sub_filter = _text(sig, "/SubFilter")
    is_doc_ts = sig_type == "/DocTimeStamp" or sub_filter == "/ETSI.RFC3161"
    raw_m = _text(sig, "/M")
    item: Json = {
        "field": pdf_text(fq_name),
        "kind": "document-timestamp" if is_doc_ts else "signature",
        "type": sig_type,
        "sub_filter": sub_filter,
        "revision": None,
        "name": _text(sig, "/Name"),
        "reason": _text(sig, "/Reason"),
        "location": _text(sig, "/Location"),
        "contact_info": _text(sig, "/ContactInfo"),
        "pdf_signing_time": parse_pdf_date(raw_m) if raw_m else None,
        "pdf_signing_time_raw": raw_m,
        "byte_range": None,
        "coverage": None,
        "contents_bytes": None,
        "vri_key": None,
        "signer": None,
        "cms_signing_time": None,
        "cms_ber_lengths": None,
        "cms": None,
        "timestamp": None,
        "revocation_info_archival": None,
        "certificates": [],
        "errors": [],
    }
    errors: list[str] = item["errors"]

    ref = getattr(sig_ref, "reference", None)
    if ref is not None:
        item["revision"] = optional(lambda: reader.xrefs.get_last_change(ref) + 1)

    try:
        contents = extract_contents(sig)
    except Exception as exc:  # a missing or non-string /Contents
        errors.append(f"unreadable /Contents: {error_text(exc)}")
        contents = b""
    if contents:
        item["vri_key"] = hashlib.sha1(contents, usedforsecurity=False).hexdigest().upper()
        item["contents_bytes"] = optional(lambda: _der_length(contents))

    try:
        raw_br = sig.raw_get("/ByteRange")
        item["byte_range"] = [int(x) for x in raw_br]
    except Exception as exc:  # a missing or malformed /ByteRange
        errors.append(f"unreadable /ByteRange: {error_text(exc)}")

    if item["byte_range"] is not None:
        level = optional(lambda: _pyhanko_coverage_level(reader, sig_field, fq_name))
        item["coverage"] = byte_range_coverage(data, item["byte_range"], len(contents), level)

    if sub_filter == "/adbe.x509.rsa_sha1":
        # /Contents is a bare PKCS#1 signature; the signer's certificates are in /Cert.
        item["certificates"] = _x509_rsa_sha1_certs(sig)
        first = item["certificates"][0] if item["certificates"] else None
        if first is not None and "error" not in first:
            item["signer"] = {
                "subject": first["subject"],
                "issuer": first["issuer"],
                "serial": first["serial"],
                "subject_key_identifier": first["subject_key_identifier"],
                "certificate_sha256": first["sha256"],
                "certificate_found": True,
            }
    elif contents:
        try:
            _describe_cms_signature(item, contents)
        except Exception as exc:  # a broken CMS is data, not a reason to stop
            errors.append(f"unreadable CMS in /Contents: {error_text(exc)}")
            item["cms"] = {"error": f"unreadable CMS: {error_text(exc)}"}
    if item["cms"] is not None and "certificates" in item["cms"]:
        item["certificates"] = item["cms"]["certificates"]
    return item


# --------------------------------------------------------------------------- DSS


def _describe_array(container: Any, key: str, describe: Any, what: str) -> list[Json]:
    arr = _get(container, key)
    if arr is None:
        return []
    out: list[Json] = []
    for i in range(len(arr)):
        try:
            blob = _stream_data(arr[i])
        except Exception as exc:  # a dangling reference, a broken stream filter
            out.append({"error": f"unreadable {what} stream: {error_text(exc)}"})
            continue
        out.append(describe(blob))
    return out


def _describe_vri(key: str, entry: Any, sig_by_key: dict[str, str]) -> Json:
    ts = _get(entry, "/TS")
    raw_tu = _text(entry, "/TU")
    timestamp = None
    if ts is not None:
        blob = _stream_data(ts)
        timestamp = guarded(
            lambda: describe_timestamp_token(cms.ContentInfo.load(blob)),
            raw=blob,
            what="VRI /TS token",
        )
    return {
        "key": key,
        "signature_field": sig_by_key.get(key.upper()),
        "certificates": _describe_array(entry, "/Cert", describe_certificate_der, "certificate"),
        "ocsp_responses": _describe_array(
            entry, "/OCSP", describe_ocsp_response_der, "OCSP response"
        ),
        "crls": _describe_array(entry, "/CRL", describe_crl_der, "CRL"),
        "time": parse_pdf_date(raw_tu) if raw_tu else None,
        "time_raw": raw_tu,
        "timestamp": timestamp,
    }


def _describe_dss(dss: Any, sig_by_key: dict[str, str]) -> Json:
    out: Json = {
        "certificates": guarded_list(
            lambda: _describe_array(dss, "/Certs", describe_certificate_der, "certificate")
        ),
        "ocsp_responses": guarded_list(
            lambda: _describe_array(dss, "/OCSPs", describe_ocsp_response_der, "OCSP response")
        ),
        "crls": guarded_list(lambda: _describe_array(dss, "/CRLs", describe_crl_der, "CRL")),
        "vri": [],
    }
    vri = _get(dss, "/VRI")
    if vri is not None:
        for raw_key in list(vri.keys()):
            key = str(raw_key).lstrip("/")
            if key == "Type":  # the optional /Type /VRI entry, not a signature
                continue
            out["vri"].append(
                guarded(
                    partial(_describe_vri, key, vri[raw_key], sig_by_key),
                    what=f"VRI entry {key}",
                )
            )
    return out


def guarded_list(fn: Any) -> list[Json]:
    """Run a list describer; a failure becomes a one-item list holding the error."""
    try:
        result: list[Json] = fn()
    except Exception as exc:  # e.g. /Certs is not an array
        return [{"error": f"unreadable array: {error_text(exc)}"}]
    return result


# --------------------------------------------------------------------------- document


def describe_pdf(data: bytes) -> Json:
    """Describe a PDF: header version, revisions, signatures, document timestamps, DSS."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    from ltv.limits import DEFAULT_LIMITS, check_pdf, depth_exceeded

    check_pdf(data, DEFAULT_LIMITS)  # LimitError (an InputError) before anything is allocated
    try:
        reader = PdfFileReader(
            BytesIO(data), strict=False, decode_limits=DEFAULT_LIMITS.decode_limits()
        )
        root = reader.root
    except RecursionError:
        raise depth_exceeded() from None
    except Exception as exc:  # pyHanko could not even find the trailer / catalog
        raise InputError(
            f"corrupt PDF: cross-reference or trailer unreadable ({error_text(exc)})"
        ) from None

    version = _PDF_VERSION.search(data[:1024])
    out: Json = {
        "version": version.group(1).decode() if version else None,
        "revisions": optional(lambda: int(reader.xrefs.total_revisions)),
        "encrypted": bool(optional(lambda: reader.encrypted)),
        "signatures": [],
        "dss": None,
        "errors": [],
    }
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:  # a broken AcroForm
        out["errors"].append(f"could not enumerate signature fields: {error_text(exc)}")
        fields = []
    from ltv.names import pdf_text

    for fq_name, sig_ref, sig_field in fields:
        out["signatures"].append(
            guarded(
                partial(_describe_signature, reader, data, fq_name, sig_ref, sig_field),
                what=f"signature {pdf_text(fq_name)}",
            )
        )
    out["signatures"].sort(key=lambda s: s.get("revision") or 0)

    sig_by_key = {s["vri_key"]: s["field"] for s in out["signatures"] if s.get("vri_key")}
    try:
        dss = _get(root, "/DSS")
        if dss is not None:
            out["dss"] = _describe_dss(dss, sig_by_key)
    except Exception as exc:  # a DSS that is not a dictionary
        out["dss"] = {"error": f"unreadable DSS: {error_text(exc)}"}
    return out
