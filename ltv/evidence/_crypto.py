"""Signature checks over asn1crypto structures, done by ``cryptography``.

Supported: RSASSA-PKCS1-v1_5 and RSASSA-PSS (RFC 8017 §8; PSS parameters per RFC 4055 §3.1),
ECDSA (RFC 5758 §3.2), Ed25519/Ed448 (RFC 8410). Digests: SHA-1 and the SHA-2 family. Anything
else — MD2/MD5 digests, unknown OIDs, DSA — is refused as :class:`UnsupportedSignature`.
"""

from __future__ import annotations

import hashlib

from asn1crypto import algos, cms, keys, tsp, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

__all__ = [
    "MALFORMED",
    "UnsupportedSignature",
    "certificate_signed_by",
    "ess_certid_matches",
    "issuer_serial_matches",
    "key_hash",
    "key_size",
    "name_hash",
    "names_equal",
    "sid_matches",
    "verify_signature",
]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}

_HASHLIB_NAMES = {
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha3_256": "sha3_256",
    "sha3_384": "sha3_384",
    "sha3_512": "sha3_512",
}


MALFORMED: tuple[type[Exception], ...] = (
    ValueError,  # asn1crypto's parse errors, UnicodeDecodeError
    TypeError,
    KeyError,  # an unknown ENUMERATED value (asn1crypto maps ints to names)
    IndexError,
    AttributeError,
    ArithmeticError,  # OverflowError (a time out of range), decimal.InvalidOperation ("1.2.3")
    NotImplementedError,
    AssertionError,
    NameError,  # asn1crypto raises UnboundLocalError on some odd keys
    RecursionError,
)
"""What asn1crypto (and cryptography, pyHanko underneath) raise on malformed *input*: caught
only where a parser is called on data from a file or a server, and turned into data there
(``malformed``), never around ltv's own logic."""


_KEY_ERRORS: tuple[type[Exception], ...] = (UnsupportedAlgorithm, *MALFORMED)


class UnsupportedSignature(ValueError):
    """The signature or digest algorithm is unknown, weak, or does not fit the key."""


def _digest_name(name: str) -> str:
    try:
        return _HASHLIB_NAMES[name]
    except KeyError:
        raise UnsupportedSignature(f"unsupported digest algorithm {name!r}") from None


_PREPARED: dict[bytes, object] = {}
_PREPARED_MAX_ENTRIES = 4096
_PREPARED_MAX_BYTES = 4096


def _prepared(name: x509.Name) -> object:
    """What asn1crypto's ``Name.__eq__`` compares (RFC 5280 §7.1 after RFC 4518 preparation),
    computed once per encoding: per RDN its size, its attribute types and their prepared values.
    Two names are equal under asn1crypto exactly when these are equal. Raises what the
    preparation raises on a value it cannot prepare."""
    der = _encoding(name)
    key = _PREPARED.get(der)
    if key is None:
        key = tuple(
            (
                len(rdn),
                frozenset(rdn._get_types(rdn)),
                tuple(sorted(rdn._get_values(rdn).items(), key=lambda kv: kv[0])),
            )
            for rdn in name.chosen
        )
        if len(der) <= _PREPARED_MAX_BYTES:
            if len(_PREPARED) >= _PREPARED_MAX_ENTRIES:
                _PREPARED.clear()
            _PREPARED[der] = key
    return key


def _encoding(name: x509.Name) -> bytes:
    """The DER of the RDNSequence, without the tag a Name carries inside a GeneralName
    (``[4] EXPLICIT``, as in an ESS IssuerSerial): what makes two names the same bytes."""
    try:
        return bytes(name.chosen.dump())
    except MALFORMED:
        return bytes(name.dump())


def _same_name(a: x509.Name, b: x509.Name) -> bool:
    """asn1crypto's ``a == b``, with identical encodings and memoised preparation first; where a
    name cannot be prepared, asn1crypto's own comparison decides (and raises) as before."""
    if _encoding(a) == _encoding(b):
        return True
    try:
        return _prepared(a) == _prepared(b)
    except MALFORMED:
        return bool(a == b)


def names_equal(a: x509.Name, b: x509.Name) -> bool:
    """RFC 5280 §7.1 name comparison (asn1crypto's), falling back to comparing encodings when a
    name from the input cannot be decoded enough to be compared (then only identical
    encodings match). Identical encodings are equal without the costly string preparation."""
    try:
        return _same_name(a, b)
    except MALFORMED:
        return bool(a.dump() == b.dump())


def issuer_serial_matches(
    expected: cms.IssuerAndSerialNumber | tsp.IssuerSerial, cert: x509.Certificate
) -> bool:
    """pyHanko's ``match_issuer_serial`` (a CMS IssuerAndSerialNumber or an ESS IssuerSerial
    against a certificate: exactly one directoryName, names per RFC 5280 §7.1 after an exact
    encoding comparison, serial numbers as encoded) with the serial compared *first*: an
    integer comparison rules out nearly every candidate before the costly RFC 4518 string
    preparation runs. Same answers (tests/unit/test_fast_match.py compares them)."""
    if expected["serial_number"] != cert["tbs_certificate"]["serial_number"]:
        return False
    issuer = expected["issuer"]
    if isinstance(issuer, x509.GeneralNames):
        if len(issuer) != 1 or issuer[0].name != "directory_name":
            return False
        issuer = issuer[0].chosen
    try:
        return _same_name(issuer, cert.issuer)
    except ValueError:
        return False


def sid_matches(sid: cms.SignerIdentifier, cert: x509.Certificate) -> bool:
    """Whether a CMS SignerIdentifier (RFC 5652 §5.3) names ``cert``."""
    if sid.name == "issuer_and_serial_number":
        return issuer_serial_matches(sid.chosen, cert)
    if sid.name == "subject_key_identifier":
        return bool(cert.key_identifier == sid.chosen.native)
    return False


def ess_certid_matches(cert: x509.Certificate, certid: tsp.ESSCertID | tsp.ESSCertIDv2) -> bool:
    """pyHanko's ``check_ess_certid`` (RFC 2634 / RFC 5035 ESSCertID(v2): the certificate's
    hash, then the optional issuer-serial) with :func:`issuer_serial_matches`."""
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    if isinstance(certid, tsp.ESSCertID):
        hash_algo = "sha1"
    else:
        hash_algo = certid["hash_algorithm"]["algorithm"].native
    md = hashes.Hash(get_pyca_cryptography_hash(hash_algo))
    md.update(cert.dump())
    actual = md.finalize()
    if actual != certid["cert_hash"].native:
        return False
    expected = certid["issuer_serial"]
    return not expected or issuer_serial_matches(expected, cert)


def key_size(public_key: keys.PublicKeyInfo) -> tuple[str, int] | None:
    """(algorithm, bits) of a public key from the input, or ``None`` when asn1crypto cannot
    say (it raises UnboundLocalError, ValueError... on odd parameters: the caller then has no
    key size to judge, rather than a crash)."""
    try:
        return str(public_key.algorithm), int(public_key.bit_size)
    except MALFORMED:
        return None


def name_hash(name: x509.Name, algo: str) -> bytes:
    """RFC 6960 §4.1.1 issuerNameHash: hash of the DER encoding of the issuer's name."""
    return hashlib.new(_digest_name(algo), name.dump()).digest()


def key_hash(public_key: keys.PublicKeyInfo, algo: str) -> bytes:
    """RFC 6960 §4.1.1 issuerKeyHash: hash of the subjectPublicKey BIT STRING value
    (excluding tag, length and the number of unused bits)."""
    return hashlib.new(_digest_name(algo), bytes(public_key["public_key"])).digest()


def _hash(name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[name]()
    except KeyError:
        raise UnsupportedSignature(f"unsupported digest algorithm {name!r}") from None


def verify_signature(
    public_key: keys.PublicKeyInfo,
    algorithm: algos.SignedDigestAlgorithm,
    signature: bytes,
    data: bytes,
) -> bool:
    """Check ``signature`` over ``data``; ``False`` if it does not verify.

    :raises UnsupportedSignature: the algorithm is unknown/refused or does not match the key.
    """
    try:
        sig_algo = algorithm.signature_algo
    except MALFORMED as exc:
        raise UnsupportedSignature(str(exc) or type(exc).__name__) from exc
    try:
        key = serialization.load_der_public_key(public_key.dump())
    except _KEY_ERRORS as exc:
        raise UnsupportedSignature(f"unusable public key: {exc}") from exc
    try:
        if sig_algo == "rsassa_pkcs1v15":
            if not isinstance(key, rsa.RSAPublicKey):
                raise UnsupportedSignature("RSA signature with a non-RSA key")
            key.verify(signature, data, padding.PKCS1v15(), _hash(algorithm.hash_algo))
        elif sig_algo == "rsassa_pss":
            if not isinstance(key, rsa.RSAPublicKey):
                raise UnsupportedSignature("RSA-PSS signature with a non-RSA key")
            params = algorithm["parameters"]
            digest = _hash(params["hash_algorithm"]["algorithm"].native)
            mgf = params["mask_gen_algorithm"]
            if mgf["algorithm"].native != "mgf1":
                raise UnsupportedSignature("RSA-PSS with a mask generation other than MGF1")
            mgf_hash = _hash(mgf["parameters"]["algorithm"].native)
            if params["trailer_field"].native not in (None, "trailer_field_bc"):
                raise UnsupportedSignature("RSA-PSS trailer field other than 1")
            pss = padding.PSS(mgf=padding.MGF1(mgf_hash), salt_length=params["salt_length"].native)
            key.verify(signature, data, pss, digest)
        elif sig_algo == "ecdsa":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise UnsupportedSignature("ECDSA signature with a non-EC key")
            key.verify(signature, data, ec.ECDSA(_hash(algorithm.hash_algo)))
        elif sig_algo == "ed25519":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise UnsupportedSignature("Ed25519 signature with another key type")
            key.verify(signature, data)
        elif sig_algo == "ed448":
            if not isinstance(key, ed448.Ed448PublicKey):
                raise UnsupportedSignature("Ed448 signature with another key type")
            key.verify(signature, data)
        else:
            raise UnsupportedSignature(f"unsupported signature algorithm {sig_algo!r}")
    except InvalidSignature:
        return False
    except UnsupportedSignature:
        raise
    except _KEY_ERRORS as exc:  # parameters decoded from the input
        raise UnsupportedSignature(str(exc) or type(exc).__name__) from exc
    return True


def certificate_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """RFC 5280 §6.1.3 (a)(1): ``cert``'s signature verifies under ``issuer``'s public key."""
    try:  # the parts of a certificate from the input are decoded here, at the boundary
        algorithm = cert["signature_algorithm"]
        value = cert["signature_value"].native
        tbs = cert["tbs_certificate"].dump()
        key = issuer.public_key
    except MALFORMED as exc:
        raise UnsupportedSignature(f"undecodable certificate: {exc}") from exc
    return verify_signature(key, algorithm, value, tbs)
