"""Regenerate the sample PKI: keys, certificates (PEM) and signer PKCS#12 files.

Keys are EC P-256 (fast to load and sign with: certomancer reloads the key for every response),
except ``tsa`` which is RSA-2048 so that RSA-only token checkers (rfc3161ng) work too.

``python -m samples.pki generate`` recreates everything (new keys, hence new certificates);
``--keep-keys`` reuses the existing keys, writes keys only for new labels, and rewrites only the
certificates whose to-be-signed content changed (ECDSA signatures are randomised, so re-issuing
an unchanged certificate would change its bytes for nothing) and the PKCS#12 files whose content
changed. The server always serves the committed certificate files, so whatever is committed is
what clients see.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from samples.pki import (
    ARCH,
    CERT_LABELS,
    CERTS_DIR,
    CONFIG_PATH,
    KEYS_DIR,
    P12_PASSPHRASE,
    PKI_DIR,
    SIGNERS,
    cert_path,
    chain_paths,
    key_path,
    p12_path,
)

if TYPE_CHECKING:
    from asn1crypto import x509

__all__ = ["generate", "write_keys"]

RSA_LABELS = frozenset({"tsa"})
"""Labels with an RSA-2048 key; all others are EC P-256."""


def write_keys(labels: tuple[str, ...] = CERT_LABELS, *, keys_dir: Path = KEYS_DIR) -> None:
    """Write a fresh unencrypted PKCS#8 PEM key for every label."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    keys_dir.mkdir(parents=True, exist_ok=True)
    for label in labels:
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if label in RSA_LABELS:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
        (keys_dir / f"{label}.key.pem").write_bytes(pem)


def _unchanged(label: str, built: x509.Certificate) -> bool:
    """True if the committed certificate of *label* has exactly *built*'s to-be-signed part."""
    from samples.pki import load_cert

    if not cert_path(label).exists():
        return False
    committed = load_cert(label)
    return bool(committed["tbs_certificate"].dump() == built["tbs_certificate"].dump())


def _write_certs(*, keep_unchanged: bool = False) -> list[str]:
    """Write every certificate (or only the changed ones); return the labels written."""
    from asn1crypto import pem
    from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig

    config = CertomancerConfig.from_file(str(CONFIG_PATH), key_search_dir=str(PKI_DIR))
    arch = config.get_pki_arch(ArchLabel(ARCH))
    CERTS_DIR.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for label in CERT_LABELS:
        built = arch.get_cert(CertLabel(label))
        if keep_unchanged and _unchanged(label, built):
            continue
        cert_path(label).write_bytes(pem.armor("CERTIFICATE", built.dump()))
        written.append(label)
    return written


def _p12_matches(signer: str, key_der: bytes, cert: Any, cas: list[Any]) -> bool:
    """True if the committed PKCS#12 of *signer* holds exactly this key, certificate and CAs."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    path = p12_path(signer)
    if not path.exists():
        return False
    try:
        old_key, old_cert, old_cas = pkcs12.load_key_and_certificates(
            path.read_bytes(), P12_PASSPHRASE.encode()
        )
    except ValueError:
        return False
    if old_key is None:
        return False
    old_key_der = old_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return bool(old_key_der == key_der and old_cert == cert and old_cas == cas)


def _write_p12s(*, keep_unchanged: bool = False) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    for signer in SIGNERS:
        key = serialization.load_pem_private_key(key_path(signer).read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise TypeError(f"{key_path(signer)}: expected an EC or RSA key")
        cert = x509.load_pem_x509_certificate(cert_path(signer).read_bytes())
        cas = [x509.load_pem_x509_certificate(p.read_bytes()) for p in chain_paths(signer)]
        key_der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if keep_unchanged and _p12_matches(signer, key_der, cert, cas):
            continue
        data = pkcs12.serialize_key_and_certificates(
            name=signer.encode(),
            key=key,
            cert=cert,
            cas=cas,
            encryption_algorithm=serialization.BestAvailableEncryption(P12_PASSPHRASE.encode()),
        )
        p12_path(signer).write_bytes(data)


def generate(*, keep_keys: bool = False) -> list[str]:
    """(Re)create keys, certificates and PKCS#12s; return the certificate labels written.

    With ``keep_keys``, existing keys are reused (keys are written for new labels only), and
    certificates and PKCS#12 files whose content is unchanged are left byte-identical.
    """
    missing = tuple(label for label in CERT_LABELS if not key_path(label).exists())
    if not keep_keys:
        write_keys()
    elif missing:
        write_keys(missing)
    written = _write_certs(keep_unchanged=keep_keys)
    _write_p12s(keep_unchanged=keep_keys)
    return written
