"""The sample PKI: paths to its committed keys/certificates and the URLs of its services.

Importing this module is cheap (no certomancer, no cryptography): it only names things.
The server lives in :mod:`samples.pki.server`, the generator in :mod:`samples.pki.generate`;
``python -m samples.pki generate|serve`` runs either. See ``samples/pki/README.md``.

Every URL below uses the reserved ``.test`` TLD (RFC 6761 §6.2): ``pki.ltv.test`` is the
:class:`~samples.pki.server.PkiServer`, ``refused.ltv.test`` a loopback port where nothing
listens. Clients reach them through ``PkiServer.connect_to``, never through DNS.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from asn1crypto import x509

__all__ = [
    "ARCH",
    "CA_LABELS",
    "CERTS_DIR",
    "CERT_LABELS",
    "CONFIG_PATH",
    "CRL_INTERM_URL",
    "CRL_ROOT_URL",
    "CRL_TSA_ROOT_URL",
    "EXPECTED_OCSP",
    "HOST",
    "INTERM_CERT",
    "INTERM_CERT_URL",
    "INTERM_OCSP_CERT",
    "INTERM_OCSP_KEY",
    "KEYS_DIR",
    "OCSP_GARBAGE_URL",
    "OCSP_HTTP500_URL",
    "OCSP_INTERM_URL",
    "OCSP_REFUSED_URL",
    "OCSP_ROOT_SELF_URL",
    "OCSP_ROOT_URL",
    "OCSP_SLOW_URL",
    "OCSP_TSA_ROOT_SELF_URL",
    "OCSP_TSA_ROOT_URL",
    "OCSP_UNKNOWN_URL",
    "P12_PASSPHRASE",
    "PKI_DIR",
    "REFUSED_HOST",
    "RESPONDERS",
    "REVOCATION_REASON",
    "REVOKED_SINCE",
    "ROOT_CERT",
    "ROOT_CERT_URL",
    "ROOT_KEY",
    "ROOT_OCSP_CERT",
    "SIGNERS",
    "SIGNER_CRL_URL",
    "SIGNER_GOOD_CERT",
    "SIGNER_GOOD_KEY",
    "SIGNER_GOOD_P12",
    "SIGNER_OCSP_URL",
    "TSA_CERT",
    "TSA_KEY",
    "TSA_ROOT_CERT",
    "TSA_ROOT_CERT_URL",
    "TSA_ROOT_OCSP_CERT",
    "TSA_SHORT_CERT",
    "TSA_SHORT_KEY",
    "TSA_SHORT_NOT_AFTER",
    "TSA_SHORT_URL",
    "TSA_URL",
    "URL_PREFIX",
    "ca_cert_url",
    "cert_path",
    "chain_paths",
    "crl_url",
    "key_path",
    "load_cert",
    "ocsp_url",
    "p12_path",
]

PKI_DIR: Final[Path] = Path(__file__).resolve().parent
CONFIG_PATH: Final[Path] = PKI_DIR / "certomancer.yml"
KEYS_DIR: Final[Path] = PKI_DIR / "keys"
CERTS_DIR: Final[Path] = PKI_DIR / "certs"

ARCH: Final = "ltv"
"""certomancer architecture label; first path segment of every service URL."""
HOST: Final = "pki.ltv.test"
REFUSED_HOST: Final = "refused.ltv.test"
URL_PREFIX: Final = f"http://{HOST}"

P12_PASSPHRASE: Final = "ltv-sample"  # noqa: S105 (published passphrase of throw-away test keys)
"""Passphrase of every ``samples/pki/<signer>.p12`` (``.encode()`` it where bytes are needed)."""

CA_LABELS: Final = ("root", "interm", "tsa-root")
SIGNERS: Final = (
    "signer-good",
    "signer-revoked",
    "signer-expired",
    "signer-unknown",
    "signer-refused",
    "signer-slow",
    "signer-http500",
    "signer-garbage",
)
RESPONDERS: Final = ("root-ocsp", "interm-ocsp", "tsa-root-ocsp")
"""Delegated OCSP responders (id-kp-OCSPSigning, id-pkix-ocsp-nocheck), one per CA."""
CERT_LABELS: Final = (
    "root",
    "interm",
    "interm-ocsp",
    "root-ocsp",
    "tsa-root",
    "tsa",
    "tsa-root-ocsp",
    "tsa-short",
    *SIGNERS,
)
"""Every certificate/key label: ``certs/<label>.cert.pem``, ``keys/<label>.key.pem``."""

REVOKED_SINCE: Final = datetime(2026, 6, 1, tzinfo=UTC)
"""``signer-revoked`` is revoked from this instant on (freeze the server before/after it)."""
REVOCATION_REASON: Final = "key_compromise"


def ocsp_url(label: str) -> str:
    """URL of OCSP responder ``label``: root, interm, tsa-root, root-self, tsa-root-self,
    unknown, slow, http500, garbage."""
    return f"{URL_PREFIX}/{ARCH}/ocsp/{label}"


def crl_url(label: str) -> str:
    """URL of the latest CRL of the CA ``label`` (root, interm, tsa-root)."""
    return f"{URL_PREFIX}/{ARCH}/crls/{label}/latest.crl"


def ca_cert_url(label: str) -> str:
    """URL of the certificate of the CA ``label`` (root, interm, tsa-root), DER,
    ``application/pkix-cert``: the caIssuers URL (RFC 5280 §4.2.2.1) of what it issued."""
    return f"{URL_PREFIX}/{ARCH}/certs/{label}/ca.crt"


OCSP_ROOT_URL: Final = ocsp_url("root")
"""Delegated responder ``root-ocsp``; answers for ``interm`` (interm's AIA)."""
OCSP_ROOT_SELF_URL: Final = ocsp_url("root-self")
"""Issuer-signed (root's own key); answers for ``interm``; in no certificate's AIA."""
OCSP_INTERM_URL: Final = ocsp_url("interm")
"""Delegated responder ``interm-ocsp``; answers for the signers."""
OCSP_TSA_ROOT_URL: Final = ocsp_url("tsa-root")
"""Delegated responder ``tsa-root-ocsp``; answers for ``tsa`` (tsa's AIA)."""
OCSP_TSA_ROOT_SELF_URL: Final = ocsp_url("tsa-root-self")
"""Issuer-signed (tsa-root's own key); answers for ``tsa``; in no certificate's AIA."""
OCSP_UNKNOWN_URL: Final = ocsp_url("unknown")
"""Signed by ``interm-ocsp``, says 'unknown' for every CertID issued by interm."""
OCSP_SLOW_URL: Final = ocsp_url("slow")
"""Sleeps ``PkiServer.slow_seconds`` and then answers like :data:`OCSP_INTERM_URL`."""
OCSP_HTTP500_URL: Final = ocsp_url("http500")
"""Always HTTP 500."""
OCSP_GARBAGE_URL: Final = ocsp_url("garbage")
"""HTTP 200, ``application/ocsp-response``, body that is not DER."""
OCSP_REFUSED_URL: Final = f"http://{REFUSED_HOST}/{ARCH}/ocsp/refused"
"""Host maps to a loopback port where nothing listens: connection refused."""

CRL_ROOT_URL: Final = crl_url("root")
CRL_INTERM_URL: Final = crl_url("interm")
CRL_TSA_ROOT_URL: Final = crl_url("tsa-root")
ROOT_CERT_URL: Final = ca_cert_url("root")
"""caIssuers URL in ``interm``."""
INTERM_CERT_URL: Final = ca_cert_url("interm")
"""caIssuers URL in every signer."""
TSA_ROOT_CERT_URL: Final = ca_cert_url("tsa-root")
"""caIssuers URL in ``tsa`` and ``tsa-short``."""
TSA_URL: Final = f"{URL_PREFIX}/{ARCH}/tsa/tsa"
"""RFC 3161 time-stamping service (certificate ``tsa``, chain ``tsa-root``)."""
TSA_SHORT_URL: Final = f"{URL_PREFIX}/{ARCH}/tsa/tsa-short"
"""RFC 3161 time-stamping service of the short-lived ``tsa-short`` (chain ``tsa-root``; the
certificate expires at :data:`TSA_SHORT_NOT_AFTER`)."""
TSA_SHORT_NOT_AFTER: Final = datetime(2027, 1, 1, tzinfo=UTC)
"""End of ``tsa-short``'s validity: its timestamps need a later document timestamp after it."""

SIGNER_OCSP_URL: Final[Mapping[str, str]] = MappingProxyType(
    {
        "signer-good": OCSP_INTERM_URL,
        "signer-revoked": OCSP_INTERM_URL,
        "signer-expired": OCSP_INTERM_URL,
        "signer-unknown": OCSP_UNKNOWN_URL,
        "signer-refused": OCSP_REFUSED_URL,
        "signer-slow": OCSP_SLOW_URL,
        "signer-http500": OCSP_HTTP500_URL,
        "signer-garbage": OCSP_GARBAGE_URL,
    }
)
"""The (only) OCSP AIA URL in each signer's certificate."""

SIGNER_CRL_URL: Final[Mapping[str, str | None]] = MappingProxyType(
    {
        s: (CRL_INTERM_URL if s in {"signer-good", "signer-revoked", "signer-expired"} else None)
        for s in SIGNERS
    }
)
"""The CRL distribution point of each signer; ``None``: the certificate has no CRL DP."""

EXPECTED_OCSP: Final[Mapping[str, str]] = MappingProxyType(
    {
        "signer-good": "good",
        "signer-revoked": "revoked (from REVOKED_SINCE on; good before)",
        "signer-expired": "good (the responder ignores expiry; the chain check must not)",
        "signer-unknown": "unknown (signed response)",
        "signer-refused": "offline: connection refused",
        "signer-slow": "offline: timeout (server sleeps slow_seconds)",
        "signer-http500": "offline: HTTP 500",
        "signer-garbage": "offline: 200 with a body that is not an OCSPResponse",
    }
)
"""What a fresh online OCSP check of each signer yields (human-readable, for docs and test ids)."""


def cert_path(label: str) -> Path:
    """PEM certificate of ``label`` (one of :data:`CERT_LABELS`)."""
    return CERTS_DIR / f"{label}.cert.pem"


def key_path(label: str) -> Path:
    """Unencrypted PKCS#8 PEM private key of ``label`` (one of :data:`CERT_LABELS`)."""
    return KEYS_DIR / f"{label}.key.pem"


def p12_path(signer: str) -> Path:
    """PKCS#12 of a signer (key, certificate, interm + root), passphrase :data:`P12_PASSPHRASE`."""
    return PKI_DIR / f"{signer}.p12"


def chain_paths(label: str) -> tuple[Path, ...]:
    """PEM paths of the issuing chain of ``label`` above it, root last (empty for a root)."""
    issuers = {
        "root": None,
        "interm": "root",
        "interm-ocsp": "interm",
        "root-ocsp": "root",
        "tsa-root": None,
        "tsa": "tsa-root",
        "tsa-root-ocsp": "tsa-root",
        "tsa-short": "tsa-root",
        **dict.fromkeys(SIGNERS, "interm"),
    }
    if label not in issuers:
        raise KeyError(f"unknown certificate label {label!r}")
    chain: list[Path] = []
    issuer = issuers[label]
    while issuer is not None:
        chain.append(cert_path(issuer))
        issuer = issuers[issuer]
    return tuple(chain)


def load_cert(label: str) -> x509.Certificate:
    """The committed certificate ``label`` as an asn1crypto object (what pyHanko uses)."""
    from asn1crypto import pem, x509

    _, _, der = pem.unarmor(cert_path(label).read_bytes())
    return x509.Certificate.load(der)


ROOT_CERT: Final = cert_path("root")
ROOT_KEY: Final = key_path("root")
INTERM_CERT: Final = cert_path("interm")
INTERM_OCSP_CERT: Final = cert_path("interm-ocsp")
INTERM_OCSP_KEY: Final = key_path("interm-ocsp")
ROOT_OCSP_CERT: Final = cert_path("root-ocsp")
TSA_ROOT_OCSP_CERT: Final = cert_path("tsa-root-ocsp")
TSA_ROOT_CERT: Final = cert_path("tsa-root")
TSA_CERT: Final = cert_path("tsa")
TSA_KEY: Final = key_path("tsa")
TSA_SHORT_CERT: Final = cert_path("tsa-short")
TSA_SHORT_KEY: Final = key_path("tsa-short")
SIGNER_GOOD_CERT: Final = cert_path("signer-good")
SIGNER_GOOD_KEY: Final = key_path("signer-good")
SIGNER_GOOD_P12: Final = p12_path("signer-good")
