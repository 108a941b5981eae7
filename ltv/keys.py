"""Public keys as they are found in real certificates, read as leniently as is unambiguous.

Some certificates were issued in volume for years with an RSA modulus DER-encoded as a
*negative* INTEGER (a missing leading zero octet: the encoder forgot that INTEGER is signed).
cryptography refuses such a key ("ASN.1 parsing error: invalid value"); asn1crypto parses it
as a negative number. The intended modulus is unambiguous — the same octets read as an unsigned
integer — so ltv uses that value and says so in a warning (:func:`usable_key`). Nothing else is
"repaired": any other key cryptography cannot load stays unusable, and a signature that cannot
be checked is INDETERMINATE, never "not intact" (see ltv.pipeline.integrity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ltv._memo import content_memo

if TYPE_CHECKING:
    from asn1crypto import keys

__all__ = ["KeyFacts", "UnusableKeyOrAlgorithm", "key_facts", "lenient_validator", "usable_key"]

NEGATIVE_MODULUS = (
    "RSA modulus DER-encoded as a negative INTEGER (legacy encoder quirk); "
    "read as its unsigned value"
)


class UnusableKeyOrAlgorithm(Exception):
    """A signature cannot be checked at all: an unsupported mechanism, a key that does not fit
    it. (certvalidator reports these as ``InvalidSignature``, i.e. "does not verify", which would
    turn "cannot check" into "forged".)"""


@dataclass(frozen=True)
class KeyFacts:
    algorithm: str
    """asn1crypto's name: ``rsa``, ``ec``, ``dsa``, ``ed25519``..., or ``unknown``."""
    bits: int | None
    """Key size in bits (RSA modulus, EC curve order, DSA p), when it can be read."""


def _fixed_rsa(spki: keys.PublicKeyInfo) -> keys.PublicKeyInfo | None:
    """The key with a negative modulus read as unsigned, or None if it is not that quirk."""
    from asn1crypto import core
    from asn1crypto import keys as asn1_keys

    try:
        if spki["algorithm"]["algorithm"].native != "rsa":
            return None
        rsa_key = spki["public_key"].parsed
        modulus = rsa_key["modulus"]
        raw = modulus.contents
        if not raw or not raw[0] & 0x80:
            return None  # not negative: nothing to reinterpret
        unsigned = int.from_bytes(raw, "big")
        exponent = rsa_key["public_exponent"].native
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    fixed = asn1_keys.RSAPublicKey({"modulus": unsigned, "public_exponent": exponent})
    out = asn1_keys.PublicKeyInfo(
        {"algorithm": {"algorithm": "rsa", "parameters": core.Null()}, "public_key": fixed}
    )
    return asn1_keys.PublicKeyInfo.load(out.dump())


def usable_key(spki: keys.PublicKeyInfo) -> tuple[keys.PublicKeyInfo, str | None]:
    """``(key, warning)``: the key cryptography can load — the original, or the negative-modulus
    quirk read as unsigned (with a warning). Keys that are broken otherwise come back unchanged
    (loading them fails later, and the caller reports why)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_der_public_key(spki.dump())
        return spki, None
    except (ValueError, UnsupportedAlgorithm, TypeError):
        pass
    fixed = _fixed_rsa(spki)
    if fixed is None:
        return spki, None
    try:
        serialization.load_der_public_key(fixed.dump())
    except (ValueError, UnsupportedAlgorithm, TypeError):
        return spki, None
    return fixed, NEGATIVE_MODULUS


def lenient_validator() -> Any:
    """A pyHanko/certvalidator ``SignatureValidator`` that checks signatures under
    :func:`usable_key` (the negative-modulus quirk read as unsigned). Pass it as
    ``sig_validator=`` to ``validate_sig_integrity``: the certificate itself (and so the ESS
    signing-certificate match) stays untouched."""
    from pyhanko_certvalidator.sig_validate import (
        DEFAULT_VALIDATION_CONTEXT,
        DefaultSignatureValidator,
    )

    class _Lenient(DefaultSignatureValidator):
        def validate_signature(
            self,
            signature: bytes,
            signed_data: bytes,
            public_key_info: keys.PublicKeyInfo,
            signature_algorithm: Any,
            context: Any = DEFAULT_VALIDATION_CONTEXT,
        ) -> None:
            from pyhanko_certvalidator.errors import (
                AlgorithmNotSupported,
                DSAParametersUnavailable,
                PSSParameterMismatch,
            )

            key, _ = usable_key(public_key_info)
            try:
                super().validate_signature(
                    signature, signed_data, key, signature_algorithm, context
                )
            except (AlgorithmNotSupported, DSAParametersUnavailable, PSSParameterMismatch) as e:
                raise UnusableKeyOrAlgorithm(str(e) or type(e).__name__) from e

    return _Lenient()


def key_facts(spki: keys.PublicKeyInfo) -> KeyFacts:
    """Algorithm and size of a key, never raising (asn1crypto's ``bit_size`` raises assorted
    errors on odd keys: a negative modulus, unknown curves...). Memoised by the key's DER
    (the same few keys are asked about for every signature of an archive)."""
    try:
        der = spki.dump()
    except Exception:
        return _key_facts(spki)
    return _key_facts_of(der)


@content_memo(maxsize=1024, max_bytes=4096)  # real keys; larger input is computed each time
def _key_facts_of(der: bytes) -> KeyFacts:
    from asn1crypto import keys as asn1_keys

    return _key_facts(asn1_keys.PublicKeyInfo.load(der))


def _key_facts(spki: keys.PublicKeyInfo) -> KeyFacts:
    try:
        algorithm = str(spki["algorithm"]["algorithm"].native)
    except (ValueError, TypeError, KeyError):
        return KeyFacts("unknown", None)
    key, _ = usable_key(spki)
    try:
        bits = int(key.bit_size)
    except Exception:
        bits = None
    return KeyFacts(algorithm, bits)
