"""pyHanko's ``SimpleSigner`` with what never changes between one signer's signatures built once.

A signing server signs thousands of documents with one certificate. pyHanko builds the ESS
signing-certificate-v2 attribute (RFC 5035: the certificate's hash and its issuer and serial)
from the certificate object for every signature, re-encoding the issuer name each time (~4 ms
here, a seventh of a B-LT signature's CPU). :func:`caching_signer` makes it once, keeps its DER,
and hands pyHanko a freshly loaded copy each time: the same bytes in every signature
(``tests/unit/test_sign.py`` compares the signed attributes with pyHanko's own).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asn1crypto import x509
    from pyhanko.sign.signers.pdf_cms import SimpleSigner

__all__ = ["caching_signer"]


def caching_signer(
    *, signing_cert: x509.Certificate, signing_key: Any, cert_registry: Any
) -> SimpleSigner:
    """A ``SimpleSigner`` (same arguments) whose signing-certificate-v2 attribute is built once."""
    from asn1crypto import tsp
    from pyhanko.sign import attributes
    from pyhanko.sign.general import as_signing_certificate_v2
    from pyhanko.sign.signers.pdf_cms import SimpleSigner

    class _Prebuilt(attributes.CMSAttributeProvider):
        attribute_type = "signing_certificate_v2"

        def __init__(self, der: bytes) -> None:
            self.der = der

        async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
            return tsp.SigningCertificateV2.load(self.der)

    class _CachingSigner(SimpleSigner):
        _lock = threading.Lock()
        _signing_cert_v2: bytes | None = None

        def _signing_certificate_v2(self) -> bytes:
            with self._lock:
                if self._signing_cert_v2 is None:
                    self._signing_cert_v2 = as_signing_certificate_v2(self.signing_cert).dump()
                return self._signing_cert_v2

        def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Any:
            for provider in super()._signed_attr_providers(*args, **kwargs):
                if (
                    isinstance(provider, attributes.SigningCertificateV2Provider)
                    and provider.signing_cert is self.signing_cert
                ):
                    yield _Prebuilt(self._signing_certificate_v2())
                else:
                    yield provider

    signer: SimpleSigner = _CachingSigner(
        signing_cert=signing_cert, signing_key=signing_key, cert_registry=cert_registry
    )
    return signer
