"""The four-state revocation outcome shared by the OCSP and CRL checks.

ETSI EN 319 102-1 distinguishes "the CA says this certificate is revoked / good / unknown" from
"we could not obtain a usable answer". pyHanko folds the last two together; ltv never does:

* ``good``, ``revoked``, ``unknown`` are only ever the *authoritative, signed* statement of the
  issuer (or its authorised responder) — RFC 6960 §2.2 certStatus, RFC 5280 §5.1 CRL entries.
* ``offline`` means no usable answer: transport failure, an OCSP error status (RFC 6960 §2.3),
  a response that fails validation, or one that is not fresh at the time asked about. The
  ``detail`` field says which (e.g. ``timeout``, ``unauthorized``, ``bad-signature``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = ["RevocationMethod", "RevocationOutcome", "RevocationStatus"]

RevocationMethod = Literal["ocsp", "crl"]


class RevocationStatus(enum.StrEnum):
    """Exactly four outcomes; see the module docstring for what each one promises."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    OFFLINE = "offline"


@dataclass(frozen=True, kw_only=True)
class RevocationOutcome:
    """What one OCSP response or CRL says about one certificate.

    All datetimes are timezone-aware UTC. Fields that the evidence does not carry are ``None``;
    for ``offline`` outcomes the fields are filled as far as the evidence could be read (a stale
    response still reports its ``this_update`` / ``next_update``, and ``revoked_at`` if it said
    revoked), so that a report can show *why* it was not usable.
    """

    status: RevocationStatus
    """The verdict; ``offline`` whenever ``detail`` names a problem."""
    method: RevocationMethod
    """``"ocsp"`` or ``"crl"``."""
    detail: str | None = None
    """Why the outcome is ``offline`` (``timeout``, ``refused``, ``http-500``, ``malformed``,
    ``unauthorized``, ``try-later``, ``bad-signature``, ``no-matching-certid``, ``expired``...);
    ``None`` for authoritative answers."""
    url: str | None = None
    """Where the evidence was fetched from, if it was fetched."""
    this_update: datetime | None = None
    """RFC 6960 §4.2.1 thisUpdate / RFC 5280 §5.1.2.4 thisUpdate."""
    next_update: datetime | None = None
    """RFC 6960 §4.2.1 nextUpdate / RFC 5280 §5.1.2.5 nextUpdate (may be absent)."""
    produced_at: datetime | None = None
    """RFC 6960 §4.2.1 producedAt (OCSP only)."""
    revoked_at: datetime | None = None
    """Revocation time, when the evidence says revoked."""
    reason: str | None = None
    """RFC 5280 §5.3.1 CRLReason in asn1crypto's snake_case (``key_compromise``...), if given."""
    responder: str | None = None
    """OCSP: subject of the certificate that signed the response; CRL: the CRL issuer."""
    responder_delegated: bool | None = None
    """OCSP: ``True`` when signed by a delegated responder (RFC 6960 §4.2.2.2), ``False`` when
    signed by the issuing CA itself; ``None`` if not established."""
    serial: int | None = None
    """Serial number of the certificate the outcome is about."""
    raw: bytes | None = None
    """The DER OCSPResponse or CertificateList the outcome was read from (if any was received)."""

    @property
    def ok(self) -> bool:
        """``True`` for an authoritative answer (good, revoked or unknown)."""
        return self.status is not RevocationStatus.OFFLINE
