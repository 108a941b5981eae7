"""(3) Timestamp: RFC 3161 tokens → the trusted time (proof of existence, POE).

Spec steps, for each TimeStampToken (ETSI EN 319 102-1 §5.4, RFC 3161 §2.4.2):
- (3a) RFC 3161 §2.4.2: the token encapsulates a TSTInfo (else FORMAT_FAILURE).
- (3b) RFC 3161 §2.4.2: messageImprint == H(SignerInfo.signature) for a signature timestamp
  (ETSI EN 319 122-1 §5.3), == H(ByteRange) for a document timestamp.
- (3c) RFC 5816 / RFC 2634 §5.4: the ESS signing-certificate(-v2) attribute identifies the TSA
  certificate (pyHanko's ``extract_certs_for_validation``).
- (3d) RFC 5652 §5.6: the TSA's signature over the signed attributes verifies.
- (3e) ETSI EN 319 102-1 §5.2.6 via step 4: the TSA chain to a *TSA* trust anchor, validated at
  the time of the next document timestamp that covers this token (the outermost at now/--at).
A trusted token's genTime becomes the validation time of what it covers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ltv.pipeline.chain import ChainResult, validate_chain
from ltv.pipeline.integrity import from_pyhanko
from ltv.report import SubIndication, rfc3339

if TYPE_CHECKING:
    from asn1crypto import cms, x509

__all__ = ["TIMESTAMP_CLOCK_SKEW", "TokenResult", "imprint_of_signature", "validate_token"]

TIMESTAMP_CLOCK_SKEW = timedelta(minutes=5)
"""How far a genTime may lie after the moment a token is judged at (clocks differ)."""


@dataclass(frozen=True, kw_only=True)
class TokenResult:
    gen_time: datetime | None
    tsa_cert: x509.Certificate | None
    imprint_ok: bool
    signature_ok: bool
    chain: ChainResult | None
    chain_moment: datetime
    problems: tuple[str, ...] = ()
    failure: SubIndication | None = None
    md_algorithms: tuple[str, ...] = field(default=())
    existed_by_then: bool = True
    """genTime is not after the moment the token is judged at (plus clock skew)."""

    @property
    def trusted(self) -> bool:
        """Imprint, signature and TSA chain all good (revocation of the TSA chain aside)."""
        return (
            self.gen_time is not None
            and self.existed_by_then
            and self.imprint_ok
            and self.signature_ok
            and self.chain is not None
            and self.chain.problem is None
        )


def imprint_of_signature(signature_value: bytes) -> Callable[[str], bytes]:
    """RFC 3161 §2.4.2 / ETSI EN 319 122-1 §5.3: the imprint is H(SignerInfo.signature)."""

    def _digest(algo: str) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from pyhanko_certvalidator.util import get_pyca_cryptography_hash

        md = hashes.Hash(get_pyca_cryptography_hash(algo))
        md.update(signature_value)
        return md.finalize()

    return _digest


def _unusable(
    gen_time: datetime | None, chain_moment: datetime, why: str, failure: SubIndication
) -> TokenResult:
    """A token that could not be checked at all: no TSA, nothing verified."""
    return TokenResult(
        gen_time=gen_time,
        tsa_cert=None,
        imprint_ok=False,
        signature_ok=False,
        chain=None,
        chain_moment=chain_moment,
        problems=(f"timestamp token unusable: {why}",),
        failure=failure,
    )


async def validate_token(
    token: cms.SignedData,
    expected_imprint: Callable[[str], bytes],
    *,
    anchors: list[x509.Certificate],
    other_certs: list[x509.Certificate],
    chain_moment: datetime,
) -> TokenResult:
    """Check one token; every failure is reported as data."""
    from cryptography.hazmat.primitives import hashes
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import (
        extract_certs_for_validation,
        validate_sig_integrity,
    )
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    problems: list[str] = []
    gen_time: datetime | None = None
    try:
        # (3a)
        eci = token["encap_content_info"]
        if eci["content_type"].native != "tst_info":
            raise ValueError("token does not encapsulate a TSTInfo")
        tst_info = eci["content"].parsed
        gen_time = tst_info["gen_time"].native
        mi = tst_info["message_imprint"]
        mi_algo = str(mi["hash_algorithm"]["algorithm"].native)
        # (3b)
        imprint_ok = expected_imprint(mi_algo) == mi["hashed_message"].native
        if not imprint_ok:
            problems.append("timestamp messageImprint does not match what it claims to cover")
        # (3c)
        cert_info = extract_certs_for_validation(token)
        tsa_cert = cert_info.signer_cert
        signer_info = token["signer_infos"][0]
        md_algo = str(signer_info["digest_algorithm"]["algorithm"].native)
        md = hashes.Hash(get_pyca_cryptography_hash(md_algo))
        md.update(bytes(eci["content"]))
        # (3d)
        _, signature_ok = validate_sig_integrity(
            signer_info, tsa_cert, expected_content_type="tst_info", actual_digest=md.finalize()
        )
        if not signature_ok:
            problems.append("the TSA signature on the timestamp token does not verify")
    except SignatureValidationError as err:
        sub = from_pyhanko(err.ades_subindication) or SubIndication.FORMAT_FAILURE
        return _unusable(gen_time, chain_moment, err.failure_message, sub)
    except Exception as err:  # malformed ASN.1 of every kind
        msg = " ".join(str(err).split()) or type(err).__name__
        return _unusable(gen_time, chain_moment, msg, SubIndication.FORMAT_FAILURE)
    # (3e)
    token_certs = list(cert_info.other_certs)
    chain = await validate_chain(
        tsa_cert,
        anchors=anchors,
        other_certs=other_certs + token_certs,
        moment=chain_moment,
        purpose="tsa",
    )
    if chain.problem is not None and chain.reason:
        problems.append(f"TSA: {chain.reason}")
    # (3f) a proof of existence cannot come from the future: the token must exist by the moment
    # it is judged at — the genTime of the timestamp covering it, or "now" for the outermost
    # (ETSI EN 319 102-1 §5.6.2.2: a POE is an instant at which the object existed)
    existed_by_then = gen_time <= chain_moment + TIMESTAMP_CLOCK_SKEW
    if not existed_by_then:
        problems.append(
            f"genTime {rfc3339(gen_time)} is later than {rfc3339(chain_moment)}, the time it is "
            "checked at: a timestamp from the future proves nothing"
        )
    return TokenResult(
        gen_time=gen_time,
        tsa_cert=tsa_cert,
        imprint_ok=imprint_ok,
        signature_ok=signature_ok,
        chain=chain,
        chain_moment=chain_moment,
        problems=tuple(problems),
        md_algorithms=(mi_algo, md_algo),
        existed_by_then=existed_by_then,
    )
