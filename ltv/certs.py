"""The one place ltv loads certificates and private keys.

Accepted everywhere a certificate is asked for (:data:`CertificateSource`):

* ``bytes``: PEM (one or more ``CERTIFICATE`` blocks, or ``PKCS7``/``CMS`` certs-only bundles)
  or DER (one certificate, or a certs-only PKCS#7 SignedData — what caIssuers URLs serve,
  RFC 5280 §4.2.2.1);
* a path (``str`` or ``os.PathLike``) to such a file, or to a directory: every
  ``*.pem|*.crt|*.cer|*.der|*.p7b|*.p7c`` in it (not recursive);
* a ``cryptography`` certificate, or an asn1crypto one (what pyHanko uses).

Private keys (:data:`KeySource`): PEM or DER bytes (PKCS#8, PKCS#1, SEC1; encrypted when a
passphrase is given), a path to such a file, or a ``cryptography`` private key. PKCS#12 files
(:func:`load_pkcs12`) hold a key, its certificate and CA certificates.

Every failure is an :class:`~ltv.errors.InputError` naming the file, never an exception from a
parser. Internally certificates are asn1crypto objects (what pyHanko consumes); public results
are PEM text (:func:`to_pem`).

>>> from samples import pki
>>> for cert in load_certificates([pki.SIGNER_GOOD_CERT, pki.INTERM_CERT]):
...     print(subject(cert))
CN=Signer Good,OU=Signers,O=ltv sample PKI,C=ZZ
CN=ltv Sample Intermediate CA,O=ltv sample PKI,C=ZZ
>>> bundle = load_pkcs12(pki.SIGNER_GOOD_P12, pki.P12_PASSPHRASE)
>>> subject(bundle.cert), len(bundle.chain)
('CN=Signer Good,OU=Signers,O=ltv sample PKI,C=ZZ', 2)
>>> load_certificates(b"not a certificate")
Traceback (most recent call last):
ltv.errors.InputError: <bytes>: not an X.509 certificate (PEM, DER or PKCS#7 expected)
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union, cast

from ltv.errors import InputError
from ltv.names import name_str

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509 as pyca_x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = [
    "CertificateSource",
    "CertificateSources",
    "KeyAndChain",
    "KeySource",
    "check_key_matches",
    "fingerprint",
    "is_self_signed",
    "issued_by",
    "load_certificates",
    "load_pkcs12",
    "load_private_key",
    "parse_certificates",
    "subject",
    "to_pem",
    "to_pyca",
]

CertificateSource = Union[
    bytes, str, "os.PathLike[str]", "pyca_x509.Certificate", "asn1_x509.Certificate"
]
"""One certificate source: PEM/DER/PKCS#7 bytes, a path (file or directory), or an object."""
CertificateSources = Union[CertificateSource, Iterable[CertificateSource]]  # noqa: UP007
"""One source or several."""
KeySource = Union[bytes, str, "os.PathLike[str]", "PrivateKeyTypes"]
"""A private key: PEM/DER bytes, a path, or a ``cryptography`` key."""

_CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der", ".p7b", ".p7c")


# -- certificates ------------------------------------------------------------------------------


def _one_der(der: bytes) -> asn1_x509.Certificate:
    from asn1crypto import x509 as asn1

    cert = asn1.Certificate.load(der, strict=True)
    cert.native  # noqa: B018 - asn1crypto parses lazily: surface errors here
    return cert


def _pkcs7_certs(der: bytes) -> list[asn1_x509.Certificate]:
    from asn1crypto import cms

    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise ValueError("not a PKCS#7 SignedData")
    out: list[asn1_x509.Certificate] = []
    for choice in info["content"]["certificates"] or ():
        if choice.name == "certificate":
            cert = choice.chosen
            cert.native  # noqa: B018 - parse eagerly
            out.append(cert)
    return out


def parse_certificates(data: bytes, *, origin: str = "<bytes>") -> list[asn1_x509.Certificate]:
    """Every certificate in *data*: PEM certificate(s) and PKCS#7 bundles, a DER certificate, or a
    DER certs-only PKCS#7. :class:`InputError` (naming *origin*) if it is none of these or holds
    no certificate."""
    from asn1crypto import pem

    certs: list[asn1_x509.Certificate] = []
    bundle = False
    try:
        if pem.detect(data):
            for kind, _headers, der in pem.unarmor(data, multiple=True):
                if kind in ("CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"):
                    certs.append(_one_der(der))
                elif kind in ("PKCS7", "CMS"):
                    bundle = True
                    certs.extend(_pkcs7_certs(der))
        else:
            try:
                certs = [_one_der(data)]
            except (ValueError, TypeError, KeyError, OverflowError):
                certs = _pkcs7_certs(data)
                bundle = True
    except (ValueError, TypeError, KeyError, OverflowError):
        raise InputError(
            f"{origin}: not an X.509 certificate (PEM, DER or PKCS#7 expected)"
        ) from None
    if not certs:
        what = "PKCS#7 bundle holds" if bundle else "holds"
        raise InputError(f"{origin}: {what} no certificate")
    return certs


def _files_of(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _CERT_SUFFIXES)
        if not files:
            raise InputError(f"{str(path)!r}: directory holds no certificate files")
        return files
    return [path]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {str(path)!r} does not exist") from None
    except OSError as err:
        raise InputError(f"cannot read {what} {str(path)!r}: {err.strerror}") from None


def _is_single_source(sources: object) -> bool:
    return isinstance(sources, bytes | str | os.PathLike) or _is_cert_object(sources)


def _is_cert_object(value: object) -> bool:
    from asn1crypto import x509 as asn1
    from cryptography import x509 as pyca

    return isinstance(value, asn1.Certificate | pyca.Certificate)


def load_certificates(sources: CertificateSources) -> list[asn1_x509.Certificate]:
    """Certificates from one source or several (see the module docstring), in order."""
    from asn1crypto import x509 as asn1
    from cryptography import x509 as pyca
    from cryptography.hazmat.primitives.serialization import Encoding

    items: Iterable[object] = (
        [sources] if _is_single_source(sources) else cast("Iterable[object]", sources)
    )
    out: list[asn1_x509.Certificate] = []
    for item in items:
        if isinstance(item, asn1.Certificate):
            out.append(item)
        elif isinstance(item, pyca.Certificate):
            out.append(asn1.Certificate.load(item.public_bytes(Encoding.DER)))
        elif isinstance(item, bytes):
            out.extend(parse_certificates(item))
        elif isinstance(item, str) and item.lstrip().startswith("-----BEGIN"):
            out.extend(parse_certificates(item.encode("ascii", "replace"), origin="<PEM text>"))
        elif isinstance(item, str | os.PathLike):
            for f in _files_of(Path(item)):
                out.extend(parse_certificates(_read(f, "certificate file"), origin=repr(str(f))))
        else:
            raise InputError(f"not a certificate source: {type(item).__name__}")
    return out


def to_pyca(cert: asn1_x509.Certificate) -> pyca_x509.Certificate:
    from cryptography import x509 as pyca

    return pyca.load_der_x509_certificate(cert.dump())


def to_pem(cert: asn1_x509.Certificate) -> str:
    """PEM text of *cert* (what public results carry)."""
    from asn1crypto import pem

    return str(pem.armor("CERTIFICATE", cert.dump()).decode("ascii"))


def subject(cert: asn1_x509.Certificate) -> str:
    """RFC 4514 string of a certificate's subject (what messages and reports name)."""
    return name_str(cert.subject)


def der_sha256(cert: asn1_x509.Certificate) -> bytes:
    """SHA-256 of the DER certificate, computed once per certificate object (held weakly:
    nothing is kept alive by it). Serialising a certificate that has been read through walks
    every decoded part of it, and the same chain is asked about for every signature."""
    with _DIGEST_LOCK:
        found = _DIGESTS.get(cert)
    if found is None:
        found = hashlib.sha256(cert.dump()).digest()
        with _DIGEST_LOCK:
            _DIGESTS[cert] = found
    return found


_DIGESTS: weakref.WeakKeyDictionary[asn1_x509.Certificate, bytes] = weakref.WeakKeyDictionary()
_DIGEST_LOCK = threading.Lock()


def fingerprint(cert: asn1_x509.Certificate) -> str:
    """SHA-256 of the DER certificate, hex (:func:`der_sha256`)."""
    return der_sha256(cert).hex()


def is_self_signed(cert: asn1_x509.Certificate) -> bool:
    return bool(cert.self_signed in ("maybe", "yes"))


def issued_by(child: asn1_x509.Certificate, parent: asn1_x509.Certificate) -> bool:
    """True if *parent*'s subject is *child*'s issuer and *parent*'s key verifies *child*."""
    if child.issuer != parent.subject:
        return False
    try:
        to_pyca(child).verify_directly_issued_by(to_pyca(parent))
    except Exception:  # any failure (bad key, bad signature, unsupported) means "not issued by"
        return False
    return True


# -- private keys ------------------------------------------------------------------------------


def _passphrase(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def load_private_key(source: KeySource, passphrase: str | bytes | None = None) -> PrivateKeyTypes:
    """A private key from PEM/DER bytes, a path, or a ``cryptography`` key (returned as is)."""
    from cryptography.hazmat.primitives.serialization import (
        load_der_private_key,
        load_pem_private_key,
    )

    if not isinstance(source, bytes | str | os.PathLike):
        return source
    if isinstance(source, bytes):
        data, origin = source, "the private key"
    else:
        data, origin = _read(Path(source), "key file"), f"key file {str(source)!r}"
    loader = load_pem_private_key if b"-----BEGIN" in data else load_der_private_key
    try:
        return loader(data, _passphrase(passphrase))
    except TypeError as err:  # encrypted without passphrase, or a passphrase for a plain key
        raise InputError(
            f"{origin}: {err}", hint="give the passphrase (--passphrase-env VAR)"
        ) from None
    except (ValueError, OverflowError):
        raise InputError(f"cannot load {origin}: wrong passphrase or not a private key") from None
    except Exception as err:  # unsupported algorithm and the like
        raise InputError(f"cannot load {origin}: {type(err).__name__}") from None


@dataclass(frozen=True)
class KeyAndChain:
    """A private key, its certificate and the CA certificates that came with it."""

    key: PrivateKeyTypes
    cert: asn1_x509.Certificate
    chain: tuple[asn1_x509.Certificate, ...]


def load_pkcs12(
    source: bytes | str | os.PathLike[str], passphrase: str | bytes | None
) -> KeyAndChain:
    """Key, certificate and CA certificates from a PKCS#12 file (bytes or a path)."""
    from asn1crypto import x509 as asn1
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    if isinstance(source, bytes):
        data, origin = source, "PKCS#12 data"
    else:
        data, origin = _read(Path(source), "PKCS#12 file"), f"PKCS#12 file {str(source)!r}"
    try:
        key, cert, others = pkcs12.load_key_and_certificates(data, _passphrase(passphrase))
    except (ValueError, TypeError):
        raise InputError(
            f"cannot open {origin}: wrong passphrase or not PKCS#12",
            hint="check the passphrase (--passphrase-env VAR)",
        ) from None
    if key is None or cert is None:
        raise InputError(f"{origin} holds no key and certificate")

    def conv(c: pyca_x509.Certificate) -> asn1_x509.Certificate:
        return asn1.Certificate.load(c.public_bytes(Encoding.DER))

    return KeyAndChain(key=key, cert=conv(cert), chain=tuple(conv(c) for c in others))


def check_key_matches(key: PrivateKeyTypes, cert: asn1_x509.Certificate) -> None:
    """:class:`InputError` unless *key* is the private half of *cert*'s public key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pub = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if pub != to_pyca(cert).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    ):
        raise InputError("the private key does not belong to the certificate")
