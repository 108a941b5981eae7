"""OCSP (RFC 6960) requests, transport (RFC 6960 App. A, RFC 5019) and response validation.

:func:`check_ocsp_response` turns one DER ``OCSPResponse`` into a :class:`RevocationOutcome` for one
certificate. The checks, in order:

1. RFC 6960 §4.2.1 responseStatus: anything but ``successful`` is ``offline`` with the status as
   detail (``malformed-request``, ``internal-error``, ``try-later``, ``sig-required``,
   ``unauthorized``); an undecodable body is ``offline/malformed``.
2. RFC 6960 §4.2.1 responseType must be id-pkix-ocsp-basic.
3. RFC 6960 §4.1.1/§4.2.2.3 CertID selection: the SingleResponse whose issuerNameHash,
   issuerKeyHash and serialNumber match ours, each computed under *that* CertID's hash
   algorithm. A response may carry many SingleResponses; the first is not necessarily ours.
   None matching: ``offline/no-matching-certid``.
4. RFC 6960 §4.2.2.3 ResponderID (byName / byKey) identifies the signer: the issuer itself, or
   a certificate carried in the response. None of them: ``offline/responder-id-mismatch``.
5. RFC 6960 §4.2.1 the signature over tbsResponseData under that key (``bad-signature``; unknown
   or refused algorithms are ``bad-signature`` too).
6. RFC 6960 §4.2.2.2 a delegated responder must be issued *directly* by the CA (signature
   checked), carry id-kp-OCSPSigning in extendedKeyUsage and be valid at producedAt; else
   ``offline/responder-not-authorized``.
7. RFC 8954 §2.1 nonce: when a nonce was sent and the response echoes a different one,
   ``nonce-mismatch``. A response without a nonce is accepted (RFC 5019 §2.1 responders serve
   pre-produced responses and ignore nonces).
8. RFC 6960 §3.2 (4)-(5) / RFC 5019 §4 freshness at ``at`` (optional): ``not-yet-valid`` when
   ``at`` precedes thisUpdate, ``expired`` when it follows nextUpdate, both with ``skew``
   tolerance. Without nextUpdate, only ``max_age`` (if given) bounds the age.

Only then does the certStatus become the outcome: ``good``, ``revoked`` (with revocationTime
and reason), or ``unknown`` — a *signed* unknown is authoritative, never ``offline``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import quote

from asn1crypto import core, keys, ocsp, x509

from ltv._memo import content_memo
from ltv.evidence._crypto import (
    MALFORMED,
    UnsupportedSignature,
    certificate_signed_by,
    key_hash,
    name_hash,
    names_equal,
    verify_signature,
)
from ltv.evidence.http import HttpError, Transport
from ltv.evidence.outcome import RevocationOutcome, RevocationStatus
from ltv.names import name_str

__all__ = [
    "DEFAULT_SKEW",
    "GET_MAX_REQUEST_BYTES",
    "OCSP_REQUEST_TYPE",
    "CertId",
    "SingleResponseInfo",
    "build_ocsp_request",
    "check_ocsp_response",
    "fetch_ocsp",
    "find_single_response",
    "ocsp_url_of",
    "parsed_response_certificates",
    "read_single_responses",
    "request_for_cert_id",
    "response_problem",
    "send_ocsp_request",
    "single_response_serials",
]

OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"
GET_MAX_REQUEST_BYTES = 255
"""RFC 6960 App. A.1 / RFC 5019 §5: GET only for requests up to this many DER bytes."""
DEFAULT_SKEW = timedelta(minutes=5)
"""Clock skew tolerated around thisUpdate / nextUpdate."""
NONCE_BYTES = 32
"""RFC 8954 §2.1: nonces of 1 to 32 octets."""

_STATUS_DETAILS = {
    "malformed_request": "malformed-request",
    "internal_error": "internal-error",
    "try_later": "try-later",
    "sign_required": "sig-required",
    "unauthorized": "unauthorized",
}


@dataclass(frozen=True)
class CertId:
    """RFC 6960 §4.1.1 CertID, as plain values."""

    hash_algo: str
    """asn1crypto digest name: ``sha1``, ``sha256``..."""
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int

    @classmethod
    def for_cert(
        cls, cert: x509.Certificate, issuer: x509.Certificate, hash_algo: str = "sha1"
    ) -> CertId:
        """The CertID of ``cert`` issued by ``issuer`` under ``hash_algo``."""
        return cls.for_issuer(cert.serial_number, issuer.subject, issuer.public_key, hash_algo)

    @classmethod
    def for_issuer(
        cls, serial: int, issuer_name: x509.Name, issuer_key: keys.PublicKeyInfo, hash_algo: str
    ) -> CertId:
        """The CertID from the issuer's name and public key (no issuer certificate needed)."""
        return cls(
            hash_algo=hash_algo,
            issuer_name_hash=name_hash(issuer_name, hash_algo),
            issuer_key_hash=key_hash(issuer_key, hash_algo),
            serial=serial,
        )

    @classmethod
    def from_asn1(cls, cert_id: ocsp.CertId) -> CertId:
        return cls(
            hash_algo=cert_id["hash_algorithm"]["algorithm"].native,
            issuer_name_hash=cert_id["issuer_name_hash"].native,
            issuer_key_hash=cert_id["issuer_key_hash"].native,
            serial=cert_id["serial_number"].native,
        )

    def to_asn1(self) -> ocsp.CertId:
        return ocsp.CertId(
            {
                "hash_algorithm": {"algorithm": self.hash_algo},
                "issuer_name_hash": self.issuer_name_hash,
                "issuer_key_hash": self.issuer_key_hash,
                "serial_number": self.serial,
            }
        )


@dataclass(frozen=True)
class SingleResponseInfo:
    """One RFC 6960 §4.2.1 SingleResponse, as plain values (signature *not* checked)."""

    cert_id: CertId
    status: RevocationStatus
    """good / revoked / unknown as stated by the response."""
    this_update: datetime
    next_update: datetime | None
    revoked_at: datetime | None
    reason: str | None


# -- requests --------------------------------------------------------------------------------


def request_for_cert_id(cert_id: CertId, nonce: bytes | None = None) -> ocsp.OCSPRequest:
    """RFC 6960 §4.1.1 OCSPRequest (unsigned: optionalSignature absent) for one CertID."""
    tbs = ocsp.TBSRequest({"request_list": [{"req_cert": cert_id.to_asn1()}]})
    if nonce is not None:
        if not 1 <= len(nonce) <= NONCE_BYTES:
            raise ValueError("RFC 8954 §2.1: a nonce has 1 to 32 octets")
        # RFC 6960 §4.4.1 / RFC 8954: extnValue is the DER of an OCTET STRING holding the nonce.
        tbs["request_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}
        ]
    return ocsp.OCSPRequest({"tbs_request": tbs})


def build_ocsp_request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    hash_algo: str = "sha1",
    nonce: bytes | None = None,
) -> bytes:
    """DER OCSPRequest (RFC 6960 §4.1.1) for one certificate.

    ``hash_algo`` is the CertID hash (``sha1`` — what RFC 5019 §2.1.1 responders expect — or
    ``sha256``...); ``nonce`` adds the RFC 8954 nonce extension.
    """
    return bytes(request_for_cert_id(CertId.for_cert(cert, issuer, hash_algo), nonce).dump())


def ocsp_url_of(cert: x509.Certificate) -> str | None:
    """First http(s) id-ad-ocsp URL of the certificate's AIA (RFC 5280 §4.2.2.1)."""
    for url in cert.ocsp_urls:
        if url.lower().startswith(("http://", "https://")):
            return str(url)
    return None


def send_ocsp_request(
    client: Transport, url: str, request_der: bytes, *, has_nonce: bool
) -> tuple[bytes, str]:
    """Transport one request; returns (response body, method used). Raises :class:`HttpError`.

    RFC 6960 App. A.1 / RFC 5019 §5: GET ``{url}/{url-encoded base64 DER}`` when the DER request
    is at most 255 bytes and carries no nonce (a nonced request must not be cacheable), POST with
    ``Content-Type: application/ocsp-request`` otherwise. A GET answered 404/405 is retried once
    by POST (POST-only responders, e.g. certomancer's).
    """
    accept = {"Accept": OCSP_RESPONSE_TYPE}
    if len(request_der) <= GET_MAX_REQUEST_BYTES and not has_nonce:
        encoded = quote(base64.b64encode(request_der).decode("ascii"), safe="")
        get_url = url + encoded if url.endswith("/") else f"{url}/{encoded}"
        try:
            return client.request("GET", get_url, headers=accept).body, "GET"
        except HttpError as exc:
            if exc.status not in (404, 405):
                raise
    headers = {**accept, "Content-Type": OCSP_REQUEST_TYPE}
    return client.request("POST", url, body=request_der, headers=headers).body, "POST"


def fetch_ocsp(
    client: Transport,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    url: str | None = None,
    hash_algo: str = "sha1",
    nonce: bool = False,
    at: datetime | None = None,
    skew: timedelta = DEFAULT_SKEW,
) -> RevocationOutcome:
    """Ask the responder (``url`` or the certificate's AIA) and check the answer.

    Transport failures come back as ``offline`` with the client's detail (``timeout``,
    ``refused``, ``http-500``, ``network-disabled``...); no certificate URL gives
    ``offline/no-url``.
    """
    target = url or ocsp_url_of(cert)
    if target is None:
        return _offline("no-url", serial=cert.serial_number)
    nonce_value = os.urandom(NONCE_BYTES) if nonce else None
    request_der = build_ocsp_request(cert, issuer, hash_algo=hash_algo, nonce=nonce_value)
    try:
        body, _method = send_ocsp_request(
            client, target, request_der, has_nonce=nonce_value is not None
        )
    except HttpError as exc:
        return _offline(exc.detail, url=target, serial=cert.serial_number)
    return check_ocsp_response(body, cert, issuer, at=at, nonce=nonce_value, skew=skew, url=target)


# -- responses -------------------------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _offline(
    detail: str, *, url: str | None = None, serial: int | None = None, raw: bytes | None = None
) -> RevocationOutcome:
    return RevocationOutcome(
        status=RevocationStatus.OFFLINE,
        method="ocsp",
        detail=detail,
        url=url,
        serial=serial,
        raw=raw,
    )


_MEMO_MAX_BYTES = 64 * 1024
"""Responses up to this size are memoised (real ones are 1-10 kB); a larger one is parsed each
time, so that the memo holds at most 512 x 64 KiB however large the input's responses are."""


@content_memo(maxsize=512, max_bytes=_MEMO_MAX_BYTES)
def _load_basic(der: bytes) -> ocsp.BasicOCSPResponse:
    """Steps 1-2: responseStatus and responseType; raises :class:`_Rejected`.

    Memoised by content (a bounded LRU, thread-safe): one response is checked against every
    certificate of every chain of a document, and of an archive; it is parsed once. The result
    is parsed in full before it is returned and only read afterwards.

    This is the parser boundary for OCSP: the response is parsed *in full* here (asn1crypto is
    lazy), so that the checks after it read plain, already-decoded values and a malformed
    response is ``malformed`` here rather than an exception halfway through a check.
    """
    try:
        response = ocsp.OCSPResponse.load(der, strict=True)
        status_value = response["response_status"]
        int(status_value)  # an ENUMERATED at all
    except MALFORMED as exc:
        raise _Rejected("malformed") from exc
    try:
        status = status_value.native
    except MALFORMED as exc:  # RFC 6960 §4.2.1 knows 0-3, 5, 6; anything else says nothing
        raise _Rejected("unknown-response-status") from exc
    if status != "successful":
        raise _Rejected(_STATUS_DETAILS.get(str(status), "unknown-response-status"))
    try:
        response_bytes = response["response_bytes"]
        # RFC 6960 §4.2.1: id-pkix-ocsp-basic is the one type every responder must support.
        if response_bytes["response_type"].native != "basic_ocsp_response":
            raise _Rejected("malformed")
        basic = response_bytes["response"].parsed
        # Parse now, in full, every part the checks read, so that later reads cannot fail
        # halfway. Not the response extensions: real responders put odd values there (a bare
        # nonce instead of an OCTET STRING, seen in ETSI plugtest files) and only the nonce is
        # read, defensively (_nonce_echo_ok).
        tbs = basic["tbs_response_data"]
        _ = (tbs["version"].native, tbs["responder_id"].native)
        if tbs["produced_at"].native is None or not len(tbs["responses"]):
            raise _Rejected("malformed")
        for single in tbs["responses"]:
            _single_info(single)  # every SingleResponse decodes (times, status, CertID)
        _ = (basic["signature_algorithm"].native, basic["signature"].native)
        for cert in basic["certs"] or []:
            _ = (cert["tbs_certificate"]["validity"].native, cert.public_key.native)
            _ = (cert.subject.native, cert.issuer.native, cert.serial_number)
    except _Rejected:
        raise
    except MALFORMED as exc:
        raise _Rejected("malformed") from exc
    if not isinstance(basic, ocsp.BasicOCSPResponse):
        raise _Rejected("malformed")
    return basic


def response_problem(der: bytes) -> str | None:
    """Why a DER OCSPResponse says nothing about any certificate — undecodable, an unknown or
    error responseStatus (RFC 6960 §4.2.1: error responses are unsigned and carry no
    SingleResponse) — or ``None`` when it can be checked against a certificate."""
    try:
        _load_basic(bytes(der))
    except _Rejected as exc:
        return exc.detail
    return None


def _single_info(single: ocsp.SingleResponse) -> SingleResponseInfo:
    cert_status = single["cert_status"]
    revoked_at = reason = None
    if cert_status.name == "good":
        status = RevocationStatus.GOOD
    elif cert_status.name == "revoked":
        status = RevocationStatus.REVOKED
        info = cert_status.chosen
        revoked_at = info["revocation_time"].native
        reason_value = info["revocation_reason"].native
        reason = None if reason_value is None else str(reason_value)
    else:
        status = RevocationStatus.UNKNOWN
    this_update = single["this_update"].native
    if this_update is None or (status is RevocationStatus.REVOKED and revoked_at is None):
        raise ValueError("SingleResponse without thisUpdate / revocationTime")
    return SingleResponseInfo(
        cert_id=CertId.from_asn1(single["cert_id"]),
        status=status,
        this_update=this_update,
        next_update=single["next_update"].native,
        revoked_at=revoked_at,
        reason=reason,
    )


def read_single_responses(der: bytes) -> list[SingleResponseInfo]:
    """All SingleResponses of a successful response, **without** checking its signature.

    For inspection only; raises :class:`ValueError` when the response is not a successful,
    well-formed basic response.
    """
    try:
        basic = _load_basic(der)
    except _Rejected as exc:
        raise ValueError(f"not a usable OCSP response: {exc.detail}") from exc
    return [_single_info(s) for s in basic["tbs_response_data"]["responses"]]


def single_response_serials(der: bytes) -> tuple[int, ...]:
    """The serial numbers the SingleResponses of ``der`` speak about, sorted, each once; none
    when it is not a successful, well-formed basic response (it then says nothing about any
    certificate). A pre-filter: a response is still checked in full for a certificate whose
    serial it names."""
    try:
        return tuple(sorted({s.cert_id.serial for s in read_single_responses(der)}))
    except ValueError:
        return ()


def parsed_response_certificates(der: bytes) -> tuple[bytes, ...] | None:
    """The certificates (DER) of a successful, well-formed basic response, from the memoised
    full parse the checks use; None when the response is not one (read it some other way)."""
    try:
        basic = _load_basic(der)
    except _Rejected:
        return None
    certs = basic["certs"]
    return () if isinstance(certs, core.Void) else tuple(c.dump() for c in certs)


def _select_single(
    basic: ocsp.BasicOCSPResponse, serial: int, cert_id_for: Callable[[str], CertId | None]
) -> ocsp.SingleResponse:
    """Step 3 (RFC 6960 §4.2.2.3 / §3.2 (1)): the SingleResponse whose CertID is ours.

    ``cert_id_for(hash_algo)`` gives our CertID under a SingleResponse's own hash algorithm
    (``None`` if we cannot compute it).
    """
    for single in basic["tbs_response_data"]["responses"]:
        cert_id = single["cert_id"]
        if cert_id["serial_number"].native != serial:
            continue
        mine = cert_id_for(cert_id["hash_algorithm"]["algorithm"].native)
        if (
            mine is not None
            and cert_id["issuer_name_hash"].native == mine.issuer_name_hash
            and cert_id["issuer_key_hash"].native == mine.issuer_key_hash
        ):
            return single
    raise _Rejected("no-matching-certid")


def _cert_id_source(
    cert: x509.Certificate, issuer: x509.Certificate
) -> Callable[[str], CertId | None]:
    cache: dict[str, CertId | None] = {}

    def cert_id_for(algo: str) -> CertId | None:
        if algo not in cache:
            try:
                cache[algo] = CertId.for_cert(cert, issuer, algo)
            except UnsupportedSignature:  # a CertID hash we do not compute (e.g. MD5)
                cache[algo] = None
        return cache[algo]

    return cert_id_for


def find_single_response(der: bytes, cert_id: CertId) -> SingleResponseInfo | None:
    """The SingleResponse for exactly ``cert_id`` (same hash algorithm), **signature not checked**.

    For inspection and tests; validation goes through :func:`check_ocsp_response`.
    :raises ValueError: the response is not a successful, well-formed basic response.
    """
    try:
        basic = _load_basic(der)
        single = _select_single(
            basic, cert_id.serial, lambda algo: cert_id if algo == cert_id.hash_algo else None
        )
    except _Rejected as exc:
        if exc.detail == "no-matching-certid":
            return None
        raise ValueError(f"not a usable OCSP response: {exc.detail}") from exc
    return _single_info(single)


def _matches_responder_id(responder_id: ocsp.ResponderId, cert: x509.Certificate) -> bool:
    # RFC 6960 §4.2.2.3: byName is the responder's subject; byKey the SHA-1 hash of its
    # subjectPublicKey BIT STRING value (same construction as issuerKeyHash).
    if responder_id.name == "by_name":
        return names_equal(responder_id.chosen, cert.subject)
    return bool(responder_id.chosen.native == key_hash(cert.public_key, "sha1"))


def _has_ocsp_signing(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extended_key_usage_value
        return eku is not None and "ocsp_signing" in eku.native
    except MALFORMED:  # a carried certificate whose extensions do not decode: not authorised
        return False


def _valid_at(cert: x509.Certificate, when: datetime) -> bool:
    validity = cert["tbs_certificate"]["validity"]
    return bool(validity["not_before"].native <= when <= validity["not_after"].native)


def _authenticate(
    basic: ocsp.BasicOCSPResponse, issuer: x509.Certificate
) -> tuple[x509.Certificate, bool]:
    """Steps 4-6: find the signer, verify the signature, authorise a delegated responder."""
    tbs = basic["tbs_response_data"]
    responder_id = tbs["responder_id"]
    carried = [c for c in (basic["certs"] or []) if isinstance(c, x509.Certificate)]
    signer: x509.Certificate | None = None
    if _matches_responder_id(responder_id, issuer):
        signer = issuer  # RFC 6960 §4.2.2.2 (1): the CA who issued the certificate
    else:
        signer = next((c for c in carried if _matches_responder_id(responder_id, c)), None)
    if signer is None:
        raise _Rejected("responder-id-mismatch")
    try:
        ok = verify_signature(
            signer.public_key,
            basic["signature_algorithm"],
            basic["signature"].native,
            tbs.dump(),
        )
    except UnsupportedSignature as exc:
        raise _Rejected("bad-signature") from exc
    if not ok:
        raise _Rejected("bad-signature")
    delegated = signer is not issuer
    if delegated:
        # RFC 6960 §4.2.2.2 (3): a delegated responder certificate is issued directly by the
        # CA that issued the certificate in question and carries id-kp-OCSPSigning; its
        # validity is judged when the response was produced.
        produced_at = tbs["produced_at"].native
        try:
            issued = names_equal(signer.issuer, issuer.subject) and certificate_signed_by(
                signer, issuer
            )
        except UnsupportedSignature:
            issued = False
        if not (issued and _has_ocsp_signing(signer) and _valid_at(signer, produced_at)):
            raise _Rejected("responder-not-authorized")
    return signer, delegated


def check_ocsp_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    at: datetime | None = None,
    nonce: bytes | None = None,
    skew: timedelta = DEFAULT_SKEW,
    max_age: timedelta | None = None,
    url: str | None = None,
) -> RevocationOutcome:
    """Validate a DER OCSPResponse for ``cert`` (issued by ``issuer``); see the module docstring.

    :param at: timezone-aware time at which freshness is judged; ``None`` skips that check
        (the caller judges freshness, e.g. against a signature timestamp).
    :param nonce: the nonce sent in the request, if any (RFC 8954).
    :param skew: tolerated clock skew around thisUpdate/nextUpdate.
    :param max_age: without nextUpdate, the oldest acceptable thisUpdate relative to ``at``.
    :param url: recorded in the outcome.
    """
    if at is not None and at.utcoffset() is None:
        raise ValueError("'at' must be timezone-aware")
    serial = cert.serial_number
    raw = bytes(der)
    try:
        basic = _load_basic(raw)
    except _Rejected as exc:
        return _offline(exc.detail, url=url, serial=serial, raw=raw)
    tbs = basic["tbs_response_data"]
    produced_at: datetime = tbs["produced_at"].native
    try:
        single = _select_single(basic, serial, _cert_id_source(cert, issuer))
    except _Rejected as exc:
        return RevocationOutcome(
            status=RevocationStatus.OFFLINE,
            method="ocsp",
            detail=exc.detail,
            url=url,
            produced_at=produced_at,
            serial=serial,
            raw=raw,
        )
    info = _single_info(single)
    # Filled as far as the evidence could be read; status/detail settled below.
    base = RevocationOutcome(
        status=RevocationStatus.OFFLINE,
        method="ocsp",
        url=url,
        this_update=info.this_update,
        next_update=info.next_update,
        produced_at=produced_at,
        revoked_at=info.revoked_at,
        reason=info.reason,
        serial=serial,
        raw=raw,
    )
    try:
        signer, delegated = _authenticate(basic, issuer)
    except _Rejected as exc:
        return replace(base, detail=exc.detail)
    detail = _freshness_problem(basic, info, at=at, nonce=nonce, skew=skew, max_age=max_age)
    return replace(
        base,
        status=RevocationStatus.OFFLINE if detail else info.status,
        detail=detail,
        responder=name_str(signer.subject),
        responder_delegated=delegated,
    )


def _freshness_problem(
    basic: ocsp.BasicOCSPResponse,
    info: SingleResponseInfo,
    *,
    at: datetime | None,
    nonce: bytes | None,
    skew: timedelta,
    max_age: timedelta | None,
) -> str | None:
    """Steps 7-8."""
    if nonce is not None and not _nonce_echo_ok(basic, nonce):
        return "nonce-mismatch"
    if at is None:
        return None
    if at + skew < info.this_update:
        return "not-yet-valid"
    if info.next_update is not None:
        if at - skew > info.next_update:
            return "expired"
    elif max_age is not None and at - info.this_update > max_age + skew:
        return "expired"
    return None


def _nonce_echo_ok(basic: ocsp.BasicOCSPResponse, nonce: bytes) -> bool:
    """RFC 8954 §2.1: an echoed nonce must equal ours; no echo at all is tolerated."""
    try:
        extensions = list(basic["tbs_response_data"]["response_extensions"] or [])
        nonces = [e["extn_value"] for e in extensions if e["extn_id"].native == "nonce"]
    except MALFORMED:
        return False  # we sent a nonce and cannot read what came back
    for value in nonces:
        candidates = {bytes(value.contents)}  # some responders echo the bare octets
        try:
            inner = value.parsed
        except MALFORMED:
            inner = None
        if isinstance(inner, core.OctetString):
            candidates.add(bytes(inner.native))
        return nonce in candidates
    return True
