"""pyHanko's ``SimpleSigner`` with what never changes between one signer's signatures built once.

A signing server signs thousands of documents with one certificate. pyHanko builds the ESS
signing-certificate-v2 attribute (RFC 5035: the certificate's hash and its issuer and serial)
from the certificate object for every signature, re-encoding the issuer name each time (~4 ms
here, a seventh of a B-LT signature's CPU). :func:`caching_signer` makes it once, keeps its DER,
and hands pyHanko a freshly loaded copy each time: the same bytes in every signature
(``tests/unit/test_sign.py`` compares the signed attributes with pyHanko's own).

It also assembles the finished ``ContentInfo`` itself. pyHanko's ``_package_signature`` builds
the SignedData as asn1crypto objects (retagging a copy of the timestamp token, sorting the
certificate set) and the embedder then re-encodes all of it: ~2-3 ms of a signature's CPU,
after the TSA has answered. Everything in it but the signed attributes, the signature value and
the unsigned attributes is the same for every signature of one signer and digest algorithm,
so those parts are taken, as DER, from pyHanko's own packaging of the first signature, and
later ones are concatenated around the three parts that change. The first packaging for each
digest algorithm is checked: the assembly must give pyHanko's bytes exactly, or pyHanko
packages every signature of that kind as before.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asn1crypto import x509
    from pyhanko.sign.signers.pdf_cms import SimpleSigner

__all__ = ["caching_signer"]


class _Template:
    """The DER of a signer's SignedData around what changes from one signature to the next
    (RFC 5652 §5.1, §5.3): the ContentInfo's type, SignedData's version, digest algorithms,
    encapsulated content info and certificates, the SignerInfo's version, sid and digest
    algorithm, and its signature algorithm."""

    def __init__(self, reference: Any) -> None:
        signed_data = reference["content"]
        info = signed_data["signer_infos"][0]
        self.content_type = reference["content_type"].dump()
        self.head = b"".join(
            signed_data[name].dump()
            for name in ("version", "digest_algorithms", "encap_content_info", "certificates")
        )
        self.info_head = b"".join(
            info[name].dump() for name in ("version", "sid", "digest_algorithm")
        )
        self.info_algorithm = info["signature_algorithm"].dump()

    def assemble(
        self, signed_attrs: bytes, signature: bytes, unsigned_attrs: bytes | None
    ) -> bytes:
        """The ContentInfo's DER; the attributes as their SET OF encodings (tag 0x31), which
        the SignerInfo carries under IMPLICIT [0] and [1]."""
        if signed_attrs[:1] != b"\x31" or (
            unsigned_attrs is not None and unsigned_attrs[:1] != b"\x31"
        ):
            raise ValueError("attributes are not a SET OF")
        from asn1crypto.parser import emit  # (class, constructed, tag number, contents)

        info = (
            self.info_head
            + b"\xa0"  # the same header, retagged: context-specific, constructed, 0
            + signed_attrs[1:]
            + self.info_algorithm
            + emit(0, 0, 4, signature)  # OCTET STRING
            + (b"" if unsigned_attrs is None else b"\xa1" + unsigned_attrs[1:])
        )
        sequence, set_of = 16, 17
        signed_data = emit(
            0, 1, sequence, self.head + emit(0, 1, set_of, emit(0, 1, sequence, info))
        )
        content_info: bytes = emit(0, 1, sequence, self.content_type + emit(2, 1, 0, signed_data))
        return content_info


def caching_signer(
    *, signing_cert: x509.Certificate, signing_key: Any, cert_registry: Any
) -> SimpleSigner:
    """A ``SimpleSigner`` (same arguments) whose signing-certificate-v2 attribute is built once,
    and whose SignedData is assembled around each signature (checked against pyHanko's first)."""
    from asn1crypto import cms, tsp
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
        _templates: dict[tuple[str, str], _Template | None]

        def _package_signature(  # type: ignore[no-untyped-def]  # pyHanko's signature
            self,
            *,
            digest_algorithm: str,
            cms_version,
            signed_attrs: cms.CMSAttributes,
            signature: bytes,
            unsigned_attrs: cms.CMSAttributes | None,
            encap_content_info,
        ) -> cms.ContentInfo:
            plain = encap_content_info is None or encap_content_info == {"content_type": "data"}
            key = (digest_algorithm, str(cms_version))
            with self._lock:
                known = key in self._templates
                template = self._templates.get(key)

            def parts() -> tuple[bytes, bytes, bytes | None]:
                unsigned = None if unsigned_attrs is None else unsigned_attrs.dump()
                return signed_attrs.dump(), signature, unsigned

            if plain and template is not None:
                return cms.ContentInfo.load(template.assemble(*parts()))
            packaged = super()._package_signature(
                digest_algorithm=digest_algorithm,
                cms_version=cms_version,
                signed_attrs=signed_attrs,
                signature=signature,
                unsigned_attrs=unsigned_attrs,
                encap_content_info=encap_content_info,
            )
            if plain and not known:
                candidate: _Template | None
                try:
                    candidate = _Template(packaged)
                    if candidate.assemble(*parts()) != packaged.dump():
                        candidate = None
                except (KeyError, ValueError, TypeError):
                    candidate = None
                with self._lock:
                    self._templates.setdefault(key, candidate)
            return packaged

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

    signer: _CachingSigner = _CachingSigner(
        signing_cert=signing_cert, signing_key=signing_key, cert_registry=cert_registry
    )
    signer._templates = {}
    return signer
