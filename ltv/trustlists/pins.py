"""The LOTL signing certificates ltv accepts without being told.

The European Commission publishes the certificates allowed to sign the EU list of trusted
lists in the Official Journal of the EU (Commission Implementing Decision (EU) 2015/1505, Art.
4): OJ C 276 of 16.8.2019 (the first anchor), and OJ C/2026/1944 (the re-anchoring). pyHanko
ships both sets and the latest known one in ``pyhanko/sign/validation/qualified/lotl-certs/``;
ltv reuses those files rather than copying them, and pins what they must contain
(:data:`PINNED_SHA256`, checked by ``tests/unit/trustlists/test_pins.py``) so that a pyHanko
upgrade that changes them is noticed. Signers announced later by a LOTL (its pointer to itself,
the *pivot* mechanism) are accepted from LOTLs already in the store
(:meth:`ltv.trustlists.store.TrustListStore.lotl_signers`).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asn1crypto import x509

__all__ = ["PINNED_SHA256", "pinned_lotl_signers"]

PINNED_SHA256 = frozenset(
    {
        # OJ C 276, 16.8.2019 (pyHanko bootstrap-0.cert.pem)
        "5400ab712c41aaf0",
        "9c1a3b646eaf1323",
        "59a1bf290b818b17",
        "8e508f03b132500c",
        "c1a37db48cd5e047",
        "d2064fdd70f6982d",
        "435504bfd802edf4",
        "ccd879b36bb55368",
        # OJ C/2026/1944 (bootstrap-1.cert.pem = latest.cert.pem in pyHanko 0.38)
        "c0641c4f7d56c431",
        "e0a620fbb6747362",
        "df7e29360c34b2b8",
        "b63d416744e7098b",
        "236103f03a8031ae",
    }
)
"""First 16 hex digits of the SHA-256 of each pinned certificate."""


@cache
def _load() -> tuple[x509.Certificate, ...]:
    from pyhanko.sign.validation.qualified import eutl_parse

    certs = [
        *eutl_parse.ojeu_bootstrap_lotl_tlso_certs(0),
        *eutl_parse.ojeu_bootstrap_lotl_tlso_certs(1),
        *eutl_parse.latest_known_lotl_tlso_certs(),
    ]
    unique: dict[bytes, x509.Certificate] = {}
    for cert in certs:
        unique.setdefault(cert.dump(), cert)
    return tuple(unique.values())


def pinned_lotl_signers() -> list[x509.Certificate]:
    """The LOTL signers published in the Official Journal (as shipped by pyHanko)."""
    return list(_load())
