"""RFC 3161 time-stamp tokens: what binds a token's content to the TSA's signature.

One checker for every token ltv meets — signature timestamps, document timestamps, tokens a TSA
just returned to ``ltv sign`` — so the binding can never be checked in one place and skipped in
another. The checks, each with its own problem text (every one must hold for ``bound``):

1. RFC 3161 §2.4.2: the SignedData encapsulates an ``id-ct-TSTInfo`` whose content parses in
   full, and carries exactly one SignerInfo (the TSA's).
2. RFC 5652 §5.4 / §11.2: the SignerInfo has signed attributes; its ``content-type`` attribute is
   id-ct-TSTInfo and its ``message-digest`` attribute equals the digest of the encapsulated
   TSTInfo bytes, *as they are in the token* (``digest_ok``). Without this the TSA's signature
   says nothing about genTime or the messageImprint: anyone could rewrite them.
3. RFC 3161 §2.4.1 / RFC 5816 §2.2.1 (ESS, RFC 2634 §5.4 / RFC 5035): the ESS
   signing-certificate(-v2) attribute is present and its first ESSCertID names the certificate
   the SignerInfo's sid designates; that one certificate — never "any certificate in the bag
   that happens to verify" — is the TSA certificate (``signer_identified``). It is looked for in
   the token and then among the other certificates the caller knows (RFC 3161 §2.4.1 lets a TSA
   leave its certificate out when certReq was false).
4. RFC 5652 §5.6: the signature over the signed attributes verifies under that certificate's key
   (``signature_ok``).
5. RFC 3161 §2.4.2: messageImprint equals what the token claims to cover, recomputed by the
   caller under the imprint's own hash algorithm (``imprint_ok``).

The TSA *chain* (trust, validity at a given moment) is time-dependent and is not judged here;
see :mod:`ltv.pipeline.timestamp`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ltv.report import SubIndication

if TYPE_CHECKING:
    from asn1crypto import cms, x509

__all__ = ["TokenBinding", "TokenCheck", "check_token", "digest"]


def digest(algorithm: str, data: bytes) -> bytes:
    """``algorithm`` (asn1crypto name, e.g. ``sha256``) over ``data``; ValueError if unknown."""
    from cryptography.hazmat.primitives import hashes
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    try:
        md = hashes.Hash(get_pyca_cryptography_hash(algorithm))
    # harden: pyhanko_certvalidator raises AttributeError for an OID it has no name for, and
    # TypeError for SHAKE (an extendable-output function: no fixed digest size)
    except (NotImplementedError, KeyError, ValueError, AttributeError, TypeError) as err:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}") from err
    md.update(data)
    return md.finalize()


class TokenBinding:
    """What binds a token (trust aside), for :class:`TokenCheck` and its plain-data copy
    (``ltv.pipeline.facts.TokenFacts``): one definition of ``bound``."""

    gen_time: datetime | None
    tsa_cert: object | None
    imprint_ok: bool
    digest_ok: bool
    signer_identified: bool
    signature_ok: bool

    @property
    def bound(self) -> bool:
        """Content, TSA certificate, signature and imprint all tie together."""
        return (
            self.gen_time is not None
            and self.tsa_cert is not None
            and self.imprint_ok
            and self.digest_ok
            and self.signer_identified
            and self.signature_ok
        )


@dataclass(frozen=True, kw_only=True)
class TokenCheck(TokenBinding):
    """What one token proves, independent of time and trust (see the module docstring)."""

    gen_time: datetime | None
    """TSTInfo genTime (UTC), when the TSTInfo could be read."""
    tsa_cert: x509.Certificate | None
    """The certificate identified by sid + ESS attribute (only when it was identified)."""
    other_certs: tuple[x509.Certificate, ...] = ()
    """The token's other certificates (for path building)."""
    imprint_algorithm: str | None = None
    digest_algorithm: str | None = None
    imprint_ok: bool = False
    digest_ok: bool = False
    signer_identified: bool = False
    signature_ok: bool = False
    problems: tuple[str, ...] = ()
    failure: SubIndication | None = None
    """The ETSI subindication of the first failed check (None when ``bound``)."""


def _signing_cert_ids(signed_attrs: cms.CMSAttributes) -> list[object]:
    """The ESSCertID(v2) values of the signing-certificate(-v2) attribute (first = signer)."""
    from pyhanko.sign.validation.generic_cms import get_signing_cert_attr

    attr = get_signing_cert_attr(signed_attrs)
    if attr is None:
        return []
    return list(attr["certs"])


def check_token(
    token: cms.SignedData,
    expected_imprint: Callable[[str], bytes],
    *,
    extra_certs: Sequence[x509.Certificate] = (),
) -> TokenCheck:
    """Check one TimeStampToken's binding; every failure is data (``problems``), never raised.

    :param expected_imprint: the digest, under the named algorithm, of what the token claims
        to cover (H(signature value) for a signature timestamp, H(ByteRange) for a document
        timestamp).
    :param extra_certs: other certificates known to the caller (a PDF's DSS...), searched for
        the TSA certificate when the token does not carry it.
    """
    from asn1crypto import core
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.general import (
        MultivaluedAttributeError,
        NonexistentAttributeError,
        find_unique_cms_attribute,
    )
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    from ltv.evidence._crypto import ess_certid_matches, sid_matches

    malformed = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)

    problems: list[str] = []
    gen_time: datetime | None = None
    imprint_algorithm: str | None = None
    digest_algorithm: str | None = None
    imprint_ok = digest_ok = False

    def failed(why: str, sub: SubIndication = SubIndication.FORMAT_FAILURE) -> TokenCheck:
        """What is known so far, the TSA certificate not identified."""
        return TokenCheck(
            gen_time=gen_time,
            tsa_cert=None,
            imprint_algorithm=imprint_algorithm,
            digest_algorithm=digest_algorithm,
            imprint_ok=imprint_ok,
            digest_ok=digest_ok,
            problems=(*problems, f"timestamp token unusable: {why}"),
            failure=sub,
        )

    # (1) RFC 3161 §2.4.2: an encapsulated TSTInfo, one SignerInfo
    try:
        eci = token["encap_content_info"]
        if eci["content_type"].native != "tst_info":
            return failed("it does not encapsulate a TSTInfo")
        content = eci["content"]
        if isinstance(content, core.Void):
            return failed("its TSTInfo is absent")
        tst_bytes = bytes(content)  # the eContent octets (chunks merged: RFC 5652 §5.4)
        tst_info = content.parsed
        tst_info.native  # noqa: B018 - parse in full now: lazy parsing must not fail later
        gen_time = tst_info["gen_time"].native.astimezone(UTC)
        mi = tst_info["message_imprint"]
        imprint_algorithm = str(mi["hash_algorithm"]["algorithm"].native)
        hashed_message = bytes(mi["hashed_message"].native)
        signer_infos = token["signer_infos"]
        if len(signer_infos) != 1:
            return failed(f"{len(signer_infos)} SignerInfos, RFC 3161 §2.4.2 allows only the TSA's")
        signer_info = signer_infos[0]
        digest_algorithm = str(signer_info["digest_algorithm"]["algorithm"].native)
        signed_attrs = signer_info["signed_attrs"]
        sid = signer_info["sid"]
        bag = [
            c.chosen
            for c in (token["certificates"] or [])
            if c.name == "certificate" and isinstance(c.chosen, asn1_x509.Certificate)
        ]
    except malformed as err:
        msg = " ".join(str(err).split()) or type(err).__name__
        return failed(f"malformed ({msg})")

    # (5) RFC 3161 §2.4.2: the imprint (computed first: it needs nothing else)
    try:
        digest(imprint_algorithm, b"")  # harden: the token's algorithm is known before anyone
        # is asked to compute it (pyHanko's compute_digest raises AttributeError otherwise)
        imprint_ok = expected_imprint(imprint_algorithm) == hashed_message
    except ValueError as err:
        return failed(str(err), SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
    if not imprint_ok:
        problems.append("timestamp messageImprint does not match what it claims to cover")

    # (2) RFC 5652 §11.2: message-digest over the encapsulated TSTInfo, as encoded in the token
    if isinstance(signed_attrs, core.Void):
        return failed("no signed attributes (RFC 3161 needs the ESS signing-certificate)")
    try:
        content_type = find_unique_cms_attribute(signed_attrs, "content_type").native
        message_digest = bytes(find_unique_cms_attribute(signed_attrs, "message_digest").native)
        actual = digest(digest_algorithm, tst_bytes)
    except (NonexistentAttributeError, MultivaluedAttributeError) as err:
        return failed(f"signed attributes: {err}")
    except ValueError as err:
        return failed(str(err), SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
    if content_type != "tst_info":
        return failed(f"signed content-type is {content_type}, not id-ct-TSTInfo")
    digest_ok = message_digest == actual
    if not digest_ok:
        problems.append(
            "the TSTInfo was changed after the TSA signed it: its digest does not match the "
            "signed message-digest attribute"
        )

    # (3) RFC 3161 §2.4.1 / RFC 5816: sid + ESS signing-certificate name the TSA certificate
    try:
        cert_ids = _signing_cert_ids(signed_attrs)
    except SignatureValidationError as err:  # e.g. the attribute given twice
        return failed(err.failure_message, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)
    except malformed as err:
        msg = " ".join(str(err).split()) or type(err).__name__
        return failed(f"signing-certificate attribute unreadable ({msg})")
    if not cert_ids:
        return failed(
            "no ESS signing-certificate attribute names the TSA certificate (RFC 3161 §2.4.1)",
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
        )
    tsa_cert: x509.Certificate | None = None
    for cand in [*bag, *extra_certs]:
        try:
            if sid_matches(sid, cand) and ess_certid_matches(cand, cert_ids[0]):
                tsa_cert = cand
                break
        except malformed:  # a damaged candidate is simply not the TSA's
            continue
    if tsa_cert is None:
        return failed(
            "no certificate matches both the SignerInfo's sid and the ESS signing-certificate",
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
        )
    others = tuple(c for c in bag if c is not tsa_cert)

    # (4) RFC 5652 §5.6: the signature under *that* certificate's key (a negative RSA modulus,
    # a legacy encoder quirk, read as unsigned: ltv.keys)
    from ltv.keys import lenient_validator

    try:
        intact, signature_ok = validate_sig_integrity(
            signer_info,
            tsa_cert,
            expected_content_type="tst_info",
            actual_digest=actual,
            sig_validator=lenient_validator(),
        )
    except SignatureValidationError as err:
        from ltv.pipeline.integrity import from_pyhanko

        sub = from_pyhanko(err.ades_subindication) or SubIndication.FORMAT_FAILURE
        return failed(err.failure_message, sub)
    except Exception as err:
        # asserts key type == algorithm, cryptography refuses odd keys... all mean "unusable"
        msg = " ".join(str(err).split()) or type(err).__name__
        return failed(
            f"the TSA signature cannot be checked ({msg})",
            SubIndication.SIG_CRYPTO_FAILURE,
        )
    if not (intact and digest_ok):  # pyHanko's own comparison must agree with ours
        digest_ok = False
    if not signature_ok:
        problems.append("the TSA signature on the timestamp token does not verify")
    failure: SubIndication | None = None
    if not digest_ok or not imprint_ok:
        failure = SubIndication.HASH_FAILURE
    elif not signature_ok:
        failure = SubIndication.SIG_CRYPTO_FAILURE
    return TokenCheck(
        gen_time=gen_time,
        tsa_cert=tsa_cert,
        other_certs=others,
        imprint_algorithm=imprint_algorithm,
        digest_algorithm=digest_algorithm,
        imprint_ok=imprint_ok,
        digest_ok=digest_ok,
        signer_identified=True,
        signature_ok=signature_ok,
        problems=tuple(problems),
        failure=failure,
    )
