"""Identify a security object by its content and describe it as plain data.

:func:`inspect_bytes` (and :func:`inspect_path`) recognise a PDF, an OCSP
response or request, a CRL, an RFC 3161 TimeStampResp / token / request, or
X.509 certificates, in DER, PEM or base64 text, whatever the file is called. The
result is one JSON-ready dict (str, int, bool, None, lists, dicts) whose
``type`` says what was found; ``schemas/inspect.schema.json`` describes it.

Unrecognisable or corrupt input raises :class:`ltv.errors.InputError`. Inside a
readable PDF, a corrupt item (a CMS blob, a DSS stream) is described by an
``error`` field instead, so the rest is still shown.

pyHanko is imported only when a PDF is described.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from ltv.errors import InputError
from ltv.inspect._common import Json, error_text, sha256_hex

__all__ = ["INSPECT_TYPES", "inspect_bytes", "inspect_path"]

INSPECT_TYPES = (
    "pdf",
    "ocsp-response",
    "ocsp-request",
    "crl",
    "timestamp-response",
    "timestamp-token",
    "timestamp-request",
    "certificate",
)
"""The values of ``type`` in an inspect result."""

PAYLOAD_KEY = {
    "pdf": "pdf",
    "ocsp-response": "ocsp_response",
    "ocsp-request": "ocsp_request",
    "crl": "crl",
    "timestamp-response": "timestamp_response",
    "timestamp-token": "timestamp_token",
    "timestamp-request": "timestamp_request",
    "certificate": "certificates",
}
"""For each ``type``, the key of the result that holds its description."""

_LABELS = {
    "ocsp-response": "OCSP response",
    "ocsp-request": "OCSP request",
    "crl": "CRL",
    "timestamp-response": "RFC 3161 TimeStampResp",
    "timestamp-token": "RFC 3161 timestamp token",
    "timestamp-request": "RFC 3161 TimeStampReq",
    "certificate": "certificate",
    "content-info": "CMS ContentInfo",
}

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")


# --------------------------------------------------------------------------- DER sniffing


def _children(content: bytes, limit: int) -> list[tuple[int, int, int, bytes]]:
    """The first ``limit`` TLVs of a constructed value: (class, constructed, tag, contents)."""
    from asn1crypto import parser

    out: list[tuple[int, int, int, bytes]] = []
    pos = 0
    while pos < len(content) and len(out) < limit:
        n = parser.peek(content[pos:])
        cls, method, tag, _header, inner, _trailer = parser.parse(content[pos : pos + n])
        out.append((cls, method, tag, inner))
        pos += n
    return out


def _universal(tlv: tuple[int, int, int, bytes], tag: int) -> bool:
    return tlv[0] == 0 and tlv[2] == tag


def sniff_der(der: bytes) -> str | None:
    """Guess what a DER structure is from its shape alone (tags, not names).

    Returns an :data:`INSPECT_TYPES` value, ``"content-info"`` for any CMS
    ContentInfo, or ``None``.
    """
    from asn1crypto import parser

    try:
        cls, method, tag, _h, content, _t = parser.parse(der)
        if (cls, method, tag) != (0, 1, 16):
            return None
        kids = _children(content, 4)
        if not kids:
            return None
        first = kids[0]
        if _universal(first, 10):  # OCSPResponse ::= SEQUENCE { ENUMERATED, [0] ... }
            return "ocsp-response"
        if _universal(first, 6):  # ContentInfo ::= SEQUENCE { OID, [0] ... }
            return "content-info"
        if _universal(first, 2):  # TimeStampReq ::= SEQUENCE { INTEGER, MessageImprint, ... }
            if len(kids) >= 2 and _universal(kids[1], 16):
                inner = _children(kids[1][3], 2)
                if len(inner) == 2 and _universal(inner[0], 16) and _universal(inner[1], 4):
                    return "timestamp-request"
            return None
        if not _universal(first, 16):
            return None
        if len(kids) == 3 and _universal(kids[1], 16) and _universal(kids[2], 3):
            # SIGNED{TBS}: a certificate or a CRL. Only TBSCertList has a Time directly
            # inside (thisUpdate); TBSCertificate keeps its times inside Validity.
            tbs = _children(first[3], 8)
            if any(_universal(t, 23) or _universal(t, 24) for t in tbs):
                return "crl"
            return "certificate"
        grand = _children(first[3], 1)
        if not grand:
            return None
        if _universal(grand[0], 2) and (len(kids) == 1 or _universal(kids[1], 16)):
            return "timestamp-response"  # SEQUENCE { PKIStatusInfo { INTEGER ...}, ContentInfo }
        if len(kids) <= 2 and (grand[0][0] == 2 or _universal(grand[0], 16)):
            return "ocsp-request"  # SEQUENCE { TBSRequest { [0]|[1]|requestList ...}, [0] sig }
    except (ValueError, TypeError):
        return None
    return None


def _describe_der(kind: str, der: bytes) -> tuple[str, Json | list[Json]]:
    """Parse ``der`` as ``kind`` and describe it; a parse failure is an InputError."""
    from asn1crypto import cms, crl, ocsp, tsp, x509

    from ltv.inspect import _asn1

    label = _LABELS[kind]
    try:
        if kind == "ocsp-response":
            return kind, _asn1.describe_ocsp_response(ocsp.OCSPResponse.load(der))
        if kind == "ocsp-request":
            return kind, _asn1.describe_ocsp_request(ocsp.OCSPRequest.load(der))
        if kind == "crl":
            return kind, _asn1.describe_crl(crl.CertificateList.load(der))
        if kind == "certificate":
            return kind, [_asn1.describe_certificate(x509.Certificate.load(der))]
        if kind == "timestamp-response":
            return kind, _asn1.describe_timestamp_response(tsp.TimeStampResp.load(der))
        if kind == "timestamp-request":
            return kind, _asn1.describe_timestamp_request(tsp.TimeStampReq.load(der))
        ci = cms.ContentInfo.load(der)
        content_type = ci["content_type"].native
        if content_type == "signed_data":
            sd = ci["content"]
            if sd["encap_content_info"]["content_type"].native == "tst_info":
                return "timestamp-token", _asn1.describe_timestamp_token(ci)
            if not len(sd["signer_infos"]):  # a "certs-only" PKCS #7 bundle (.p7b)
                certs = _asn1.describe_cert_choices(sd["certificates"])
                if certs:
                    return "certificate", certs
        raise InputError(
            f"CMS ContentInfo ({content_type}) is not an RFC 3161 timestamp token",
            hint="inspect describes PDFs, OCSP, CRLs, RFC 3161 objects and certificates",
        )
    except InputError:
        raise
    except Exception as exc:  # asn1crypto parses lazily: corruption surfaces here
        raise InputError(f"corrupt {label}: {error_text(exc)}") from None


def _split_der(data: bytes, warnings: list[str]) -> list[bytes]:
    """Split concatenated DER objects; raise ValueError if ``data`` does not start with one.

    Bytes after the last complete object are ignored with a warning (a final
    newline or zero padding silently).
    """
    from asn1crypto import parser

    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if not data[pos:].strip(b"\x00 \t\r\n"):
            break  # padding or a final newline
        try:
            n = parser.peek(data[pos:])
        except ValueError:
            if not out:
                raise
            warnings.append(f"{len(data) - pos} trailing byte(s) after the DER data ignored")
            break
        out.append(data[pos : pos + n])
        pos += n
    return out


def _inspect_der_blobs(blobs: list[bytes], warnings: list[str]) -> tuple[str, Json | list[Json]]:
    kinds = [sniff_der(b) for b in blobs]
    if len(blobs) > 1 and all(k == "certificate" for k in kinds):
        certs: list[Json] = []
        for blob in blobs:
            _, described = _describe_der("certificate", blob)
            certs.extend(described if isinstance(described, list) else [described])
        return "certificate", certs
    kind = kinds[0]
    if kind is None:
        raise InputError(
            "unrecognised DER structure: not an OCSP response/request, CRL, "
            "RFC 3161 object or certificate"
        )
    if len(blobs) > 1:
        warnings.append(f"{len(blobs) - 1} more DER object(s) after the first were ignored")
    return _describe_der(kind, blobs[0])


def _decode(data: bytes, warnings: list[str]) -> tuple[str, list[bytes]]:
    """Find DER inside ``data``: raw DER, PEM blocks or base64 text. Returns (encoding, blobs)."""
    if data[:1] == b"\x30":
        try:
            return "der", _split_der(data, warnings)
        except (ValueError, TypeError) as exc:
            raise InputError(f"corrupt DER: {error_text(exc)}") from None
    blocks = _PEM_BLOCK.findall(data)
    if blocks:
        blobs = []
        for label, body in blocks:
            if b"PRIVATE KEY" in label or b"PARAMETERS" in label:
                warnings.append(f"PEM block {label.decode()} skipped")
                continue
            try:
                blobs.append(base64.b64decode(b"".join(body.split()), validate=True))
            except (binascii.Error, ValueError):
                raise InputError(f"corrupt PEM block {label.decode()}: bad base64") from None
        if not blobs:
            raise InputError("the PEM file holds no certificate, CRL, OCSP or RFC 3161 block")
        return "pem", blobs
    if _BASE64_TEXT.match(data):
        try:
            der = base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            der = b""
        if der[:1] == b"\x30":
            try:
                return "base64", _split_der(der, warnings)
            except (ValueError, TypeError) as exc:
                raise InputError(f"corrupt DER inside base64: {error_text(exc)}") from None
    raise InputError(
        "unrecognised input: not a PDF, nor DER, PEM or base64 of an OCSP/CRL/RFC 3161/"
        "certificate structure"
    )


def inspect_bytes(data: bytes, *, path: str | None = None) -> Json:
    """Identify ``data`` by content and describe it (see the module docstring).

    :param data: the file's bytes.
    :param path: shown in the result's ``file.path``; not opened.
    :raises InputError: empty, unrecognised or corrupt input.
    """
    from ltv import __version__

    if not data:
        raise InputError("empty file")
    warnings: list[str] = []
    payload: Json | list[Json]
    if b"%PDF-" in data[:1024]:
        from ltv.inspect._pdf import describe_pdf

        kind, encoding, payload = "pdf", "pdf", describe_pdf(data)
    else:
        encoding, blobs = _decode(data, warnings)
        kind, payload = _inspect_der_blobs(blobs, warnings)
    return {
        "type": kind,
        "ltv_version": __version__,
        "file": {"path": path, "sha256": sha256_hex(data), "bytes": len(data)},
        "encoding": encoding,
        "warnings": warnings,
        PAYLOAD_KEY[kind]: payload,
    }


def inspect_path(path: str | Path) -> Json:
    """Read ``path`` and :func:`inspect_bytes` it.

    :raises InputError: the file cannot be read, or its content is not recognised.
    """
    from ltv.limits import DEFAULT_LIMITS, LimitError

    p = Path(path)
    try:
        size = p.stat().st_size
        if size > DEFAULT_LIMITS.max_input_bytes:  # before reading it into memory
            err = LimitError(
                "max_input_bytes",
                f"the file has {size} bytes, more than {DEFAULT_LIMITS.max_input_bytes}",
            )
            raise InputError(f"{p}: {err.message}", err.hint)
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from None
    try:
        return inspect_bytes(data, path=str(p))
    except InputError as err:
        raise InputError(f"{p}: {err.message}", err.hint) from None
