"""CRLs (RFC 5280 §5): fetching, a parsed serial index, and the check for one certificate.

CRLs of tens of MB exist, so a :class:`CrlIndex` is built once per CRL (parsing with
``cryptography``, which is implemented in Rust) and then answers each certificate in O(1) from a
dict keyed by serial number; the issuer-signature check is cached per issuer key.

:func:`check_crl` follows RFC 5280 §6.3.3 as far as a complete, direct CRL goes:

* (b)/(f) the CRL issuer is the certificate's issuer (names compared per RFC 5280 §7.1) and the
  CRL signature verifies under its key; a CA whose keyUsage lacks cRLSign may not sign CRLs
  (``issuer-mismatch``, ``bad-signature``, ``issuer-not-authorized``);
* §5.2 critical CRL extensions we do not process make the CRL unusable
  (``unsupported-critical-extension``); a delta CRL (§5.2.4) is not a complete CRL
  (``delta-crl``); indirect CRLs and issuingDistributionPoint scopes that exclude the
  certificate or partition by reason (§5.2.5) are ``crl-scope``;
* thisUpdate/nextUpdate against ``at`` (``not-yet-valid``, ``expired``);
* then the serial number: listed → ``revoked`` with revocationDate and reasonCode (§5.3.1),
  absent → ``good``. A CRL never yields ``unknown``.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import pem, x509
from cryptography import x509 as cx509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from ltv.evidence._crypto import MALFORMED, names_equal
from ltv.evidence.http import HttpError, Transport
from ltv.evidence.outcome import RevocationOutcome, RevocationStatus
from ltv.names import name_str

__all__ = [
    "DEFAULT_SKEW",
    "CrlIndex",
    "RevokedEntry",
    "check_crl",
    "crl_urls_of",
    "fetch_crl",
    "fetch_crl_status",
]

DEFAULT_SKEW = timedelta(minutes=5)
CRL_TYPE = "application/pkix-crl"

# cryptography's ReasonFlags values (RFC 5280 camelCase) -> asn1crypto's names, as OCSP uses.
_REASONS = {
    "unspecified": "unspecified",
    "keyCompromise": "key_compromise",
    "cACompromise": "ca_compromise",
    "affiliationChanged": "affiliation_changed",
    "superseded": "superseded",
    "cessationOfOperation": "cessation_of_operation",
    "certificateHold": "certificate_hold",
    "removeFromCRL": "remove_from_crl",
    "privilegeWithdrawn": "privilege_withdrawn",
    "aACompromise": "aa_compromise",
}

_SIGNATURE_ERRORS: tuple[type[Exception], ...] = (UnsupportedAlgorithm, *MALFORMED)

# RFC 5280 §5.2 / §5.3 extensions this module understands.
_KNOWN_CRL_EXTENSIONS = {
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.ISSUER_ALTERNATIVE_NAME,
    ExtensionOID.CRL_NUMBER,
    ExtensionOID.DELTA_CRL_INDICATOR,
    ExtensionOID.ISSUING_DISTRIBUTION_POINT,
    ExtensionOID.FRESHEST_CRL,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
}
_KNOWN_ENTRY_EXTENSIONS = {
    CRLEntryExtensionOID.CRL_REASON,
    CRLEntryExtensionOID.INVALIDITY_DATE,
}


@dataclass(frozen=True)
class RevokedEntry:
    """One revokedCertificates entry (RFC 5280 §5.1.2.6)."""

    revoked_at: datetime
    reason: str | None


class CrlIndex:
    """A parsed CRL: metadata plus ``serial -> RevokedEntry``, built once.

    Thread-safe for lookups; the signature cache is guarded by a lock.

    :raises ValueError: the bytes are not a DER (or PEM) CertificateList.
    """

    def __init__(self, der: bytes) -> None:
        if pem.detect(der):
            _, _, der = pem.unarmor(der)
        self.raw = bytes(der)
        try:
            with warnings.catch_warnings():  # cryptography warns on over-long name attributes
                warnings.simplefilter("ignore")
                crl = cx509.load_der_x509_crl(self.raw)
                issuer_der = crl.issuer.public_bytes()
            self.issuer: x509.Name = x509.Name.load(issuer_der)
            self.this_update: datetime = crl.last_update_utc
            self.next_update: datetime | None = crl.next_update_utc
            self.problem: str | None = None
            self.is_delta = False
            self.number: int | None = None
            self._scope: cx509.IssuingDistributionPoint | None = None
            self._read_extensions(crl)
            self._entries = self._index_entries(crl)
            self.issuer_text = name_str(self.issuer)
        except (
            cx509.DuplicateExtension,
            cx509.InvalidVersion,
            cx509.UnsupportedGeneralNameType,
            UnsupportedAlgorithm,
        ) as exc:
            # RFC 5280 §4.2 / §5.1.2.1: an extension given twice, a version other than v1/v2
            raise ValueError(f"not a usable CRL: {exc}") from exc
        except MALFORMED as exc:  # the parser boundary: cryptography parses lazily, too
            raise ValueError(f"not a CRL: {exc}") from exc
        self._crl = crl
        self._lock = threading.Lock()
        self._signature_ok: dict[bytes, bool] = {}

    @classmethod
    def load(cls, der_or_index: bytes | CrlIndex) -> CrlIndex:
        return der_or_index if isinstance(der_or_index, CrlIndex) else cls(der_or_index)

    def _read_extensions(self, crl: cx509.CertificateRevocationList) -> None:
        for ext in crl.extensions:
            oid = ext.oid
            if oid == ExtensionOID.CRL_NUMBER:
                self.number = ext.value.crl_number
            elif oid == ExtensionOID.DELTA_CRL_INDICATOR:
                self.is_delta = True
            elif oid == ExtensionOID.ISSUING_DISTRIBUTION_POINT:
                self._scope = ext.value
            elif ext.critical and oid not in _KNOWN_CRL_EXTENSIONS:
                # RFC 5280 §5.2: a critical extension we cannot process voids the CRL.
                self.problem = "unsupported-critical-extension"

    def _index_entries(self, crl: cx509.CertificateRevocationList) -> dict[int, RevokedEntry]:
        entries: dict[int, RevokedEntry] = {}
        for revoked in crl:
            reason: str | None = None
            for ext in revoked.extensions:
                if ext.oid == CRLEntryExtensionOID.CRL_REASON:
                    reason = _REASONS.get(ext.value.reason.value, ext.value.reason.value)
                elif ext.critical and ext.oid not in _KNOWN_ENTRY_EXTENSIONS:
                    # certificateIssuer (indirect CRLs) and unknown critical entry extensions.
                    self.problem = self.problem or "unsupported-critical-extension"
            entries[revoked.serial_number] = RevokedEntry(revoked.revocation_date_utc, reason)
        return entries

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, serial: int) -> RevokedEntry | None:
        """The entry for ``serial``, or ``None`` when the CRL does not list it."""
        return self._entries.get(serial)

    def signed_by(self, issuer: x509.Certificate) -> bool:
        """RFC 5280 §6.3.3 (g): the CRL signature verifies under ``issuer``'s key (cached)."""
        key_der = issuer.public_key.dump()
        with self._lock:
            cached = self._signature_ok.get(key_der)
        if cached is not None:
            return cached
        try:
            # Same refusal as for OCSP: no MD2/MD5-based signatures.
            weak = isinstance(self._crl.signature_hash_algorithm, hashes.MD5)
            key = serialization.load_der_public_key(key_der)
            ok = not weak and bool(self._crl.is_signature_valid(key))  # type: ignore[arg-type]
        except _SIGNATURE_ERRORS:
            ok = False
        with self._lock:
            self._signature_ok[key_der] = ok
        return ok

    def scope_problem(self, cert: x509.Certificate) -> str | None:
        """RFC 5280 §5.2.5: does an issuingDistributionPoint exclude ``cert`` or partition?"""
        idp = self._scope
        if idp is None:
            return None
        is_ca = bool(cert.ca)
        if (
            idp.indirect_crl
            or idp.only_some_reasons
            or idp.only_contains_attribute_certs
            or (idp.only_contains_user_certs and is_ca)
            or (idp.only_contains_ca_certs and not is_ca)
        ):
            return "crl-scope"
        return None


def crl_urls_of(cert: x509.Certificate) -> list[str]:
    """http(s) URLs of the certificate's cRLDistributionPoints (RFC 5280 §4.2.1.13)."""
    urls: list[str] = []
    for point in cert.crl_distribution_points:
        name = point["distribution_point"]
        if name.name != "full_name":
            continue
        urls.extend(
            str(general.native)
            for general in name.chosen
            if general.name == "uniform_resource_identifier"
            and str(general.native).lower().startswith(("http://", "https://"))
        )
    return urls


def fetch_crl(client: Transport, url: str) -> bytes:
    """GET a CRL; returns DER (PEM is unarmored). Raises :class:`HttpError` on failure."""
    body = client.request("GET", url, headers={"Accept": CRL_TYPE}).body
    if pem.detect(body):
        try:
            _, _, body = pem.unarmor(body)
        except ValueError:  # broken armour: left as is, the check says "malformed"
            pass
    return bytes(body)


def _offline(detail: str, **fields: object) -> RevocationOutcome:
    return RevocationOutcome(status=RevocationStatus.OFFLINE, method="crl", detail=detail, **fields)  # type: ignore[arg-type]


def check_crl(
    der_or_index: bytes | CrlIndex,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    at: datetime | None = None,
    skew: timedelta = DEFAULT_SKEW,
    url: str | None = None,
) -> RevocationOutcome:
    """What a complete, direct CRL says about ``cert``; see the module docstring.

    :param at: timezone-aware time at which freshness is judged; ``None`` skips that check.
    """
    if at is not None and at.utcoffset() is None:
        raise ValueError("'at' must be timezone-aware")
    serial = cert.serial_number
    try:
        index = CrlIndex.load(der_or_index)
    except ValueError:
        raw = der_or_index if isinstance(der_or_index, bytes) else None
        return _offline("malformed", url=url, serial=serial, raw=raw)
    fields: dict[str, object] = {
        "url": url,
        "serial": serial,
        "raw": index.raw,
        "this_update": index.this_update,
        "next_update": index.next_update,
        "responder": index.issuer_text,
    }
    entry = index.lookup(serial)
    if entry is not None:
        fields["revoked_at"] = entry.revoked_at
        fields["reason"] = entry.reason
    # RFC 5280 §6.3.3 (b): the CRL issuer must be the certificate issuer (direct CRL).
    if not (names_equal(index.issuer, issuer.subject) and names_equal(cert.issuer, issuer.subject)):
        return _offline("issuer-mismatch", **fields)
    # RFC 5280 §6.3.3 (f): the CRL issuer must be allowed to sign CRLs (keyUsage cRLSign).
    key_usage = issuer.key_usage_value
    if key_usage is not None and "crl_sign" not in key_usage.native:
        return _offline("issuer-not-authorized", **fields)
    # RFC 5280 §6.3.3 (g): the CRL signature.
    if not index.signed_by(issuer):
        return _offline("bad-signature", **fields)
    if index.problem:
        return _offline(index.problem, **fields)
    if index.is_delta:
        return _offline("delta-crl", **fields)
    if scope := index.scope_problem(cert):
        return _offline(scope, **fields)
    if at is not None:
        if at + skew < index.this_update:
            return _offline("not-yet-valid", **fields)
        if index.next_update is not None and at - skew > index.next_update:
            return _offline("expired", **fields)
    status = RevocationStatus.GOOD if entry is None else RevocationStatus.REVOKED
    return RevocationOutcome(status=status, method="crl", **fields)  # type: ignore[arg-type]


def fetch_crl_status(
    client: Transport,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    url: str | None = None,
    at: datetime | None = None,
    skew: timedelta = DEFAULT_SKEW,
) -> RevocationOutcome:
    """Fetch the CRL (``url`` or each cRLDistributionPoints URL in turn) and check it.

    The first URL that yields a CRL decides; if none does, the last transport failure is the
    ``offline`` detail (``no-url`` when the certificate names none).
    """
    urls = [url] if url else crl_urls_of(cert)
    outcome = _offline("no-url", serial=cert.serial_number)
    for candidate in urls:
        try:
            der = fetch_crl(client, candidate)
        except HttpError as exc:
            outcome = _offline(exc.detail, url=candidate, serial=cert.serial_number)
            continue
        return check_crl(der, cert, issuer, at=at, skew=skew, url=candidate)
    return outcome
