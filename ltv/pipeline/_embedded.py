"""pyHanko's embedded-signature view with the signer's certificate found the way ltv finds it.

pyHanko's ``extract_certs_for_validation`` (ETSI EN 319 102-1 §5.2.3.4: the certificate the
SignerInfo's sid names, checked against the ESS signing-certificate attribute) compares every
bag certificate's issuer *name* — with RFC 4518 string preparation — before its serial: about a
sixth of examining a typical file. :class:`EmbeddedSignature` gives the same answer (same
certificate, same order of the others, same errors) with the serial compared first
(:func:`ltv.evidence._crypto.issuer_serial_matches`); tests/unit/test_fast_match.py holds the
two side by side.
"""

from __future__ import annotations

from asn1crypto import cms, x509
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.general import CMSExtractionError, SignedDataCerts, extract_signer_info
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import get_signing_cert_attr
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from ltv.evidence._crypto import ess_certid_matches, sid_matches

__all__ = ["EmbeddedSignature", "certs_for_validation"]


def certs_for_validation(signed_data: cms.SignedData) -> SignedDataCerts:
    """pyHanko's ``generic_cms.extract_certs_for_validation``, serial first."""
    certs: list[x509.Certificate] = []
    attr_certs: list[cms.AttributeCertificateV2] = []
    for choice in signed_data["certificates"]:
        cert = choice.chosen.untag()
        if choice.name == "certificate":
            certs.append(cert)
        elif choice.name == "v2_attr_cert":
            attr_certs.append(cert)
    not_found = SignatureValidationError(
        "signer certificate not included in signature",
        ades_subindication=AdESIndeterminate.NO_SIGNING_CERTIFICATE_FOUND,
    )
    try:
        signer_info = extract_signer_info(signed_data)
    except CMSExtractionError:
        raise not_found from None
    sid = signer_info["sid"]
    signer: x509.Certificate | None = None
    others: list[x509.Certificate] = []
    for cert in certs:  # as pyHanko: the last match is the signer's
        if sid_matches(sid, cert):
            signer = cert
        else:
            others.append(cert)
    if signer is None:
        raise not_found
    attr = get_signing_cert_attr(signer_info["signed_attrs"])
    if attr is not None and not ess_certid_matches(signer, attr["certs"][0]):
        raise SignatureValidationError(
            "Signing certificate attribute does not match selected signer's certificate for "
            f'subject"{signer.subject.human_friendly}".',
            ades_subindication=AdESIndeterminate.NO_SIGNING_CERTIFICATE_FOUND,
        )
    return SignedDataCerts(signer_cert=signer, other_certs=others, attribute_certs=attr_certs)


class EmbeddedSignature(EmbeddedPdfSignature):
    """``EmbeddedPdfSignature`` whose certificate partition is :func:`certs_for_validation`."""

    def _init_cert_info(self) -> SignedDataCerts:
        if self._sd_cert_info is None:
            self._sd_cert_info = certs_for_validation(self.signed_data)
        return self._sd_cert_info
