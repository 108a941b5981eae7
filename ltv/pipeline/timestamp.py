"""(3) Timestamp: RFC 3161 tokens → the trusted time (proof of existence, POE).

Spec steps, for each TimeStampToken (ETSI EN 319 102-1 §5.4, RFC 3161 §2.4.2):
- (3a)-(3d) the token's content is bound to the TSA's signature and certificate
  (:func:`ltv.tst.check_token`): an encapsulated TSTInfo whose digest equals the signed
  message-digest attribute (RFC 5652 §11.2), the TSA certificate named by sid AND the ESS
  signing-certificate(-v2) attribute (RFC 3161 §2.4.1, RFC 5816), its signature verifying
  (RFC 5652 §5.6), and messageImprint == H(SignerInfo.signature) for a signature timestamp
  (ETSI EN 319 122-1 §5.3), == H(ByteRange) for a document timestamp (RFC 3161 §2.4.2).
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
from ltv.report import SubIndication, rfc3339

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.audit.cache import ChainCache
    from ltv.pipeline.facts import TokenFacts

__all__ = ["TIMESTAMP_CLOCK_SKEW", "TokenResult", "imprint_of_signature", "judge_token"]

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
        from ltv.tst import digest  # harden: ValueError for an unknown algorithm, as expected

        return digest(algo, signature_value)

    return _digest


async def judge_token(
    token: TokenFacts,
    *,
    tsa_cert: x509.Certificate | None,
    token_certs: list[x509.Certificate],
    anchors: list[x509.Certificate],
    other_certs: list[x509.Certificate],
    chain_moment: datetime,
    anchors_at: Callable[[datetime, list[x509.Certificate]], list[x509.Certificate]] | None = None,
    chain_cache: ChainCache | None = None,  # audit: see ltv.audit.cache
) -> TokenResult:
    """(3e)-(3f) for a token whose binding (3a)-(3d) was checked by :func:`ltv.tst.check_token`
    (:class:`~ltv.pipeline.facts.TokenFacts`); every failure is reported as data.

    ``anchors_at(genTime, certs)``: more TSA anchors, those trusted *at the token's genTime*
    (trusted lists: a TSA service granted when it issued the token; ltv.trustlists.assess);
    ``certs``: the TSA certificate and the others at hand, to pick the relevant ones."""
    gen_time = token.gen_time
    md_algorithms = tuple(a for a in (token.imprint_algorithm, token.digest_algorithm) if a)
    if tsa_cert is None or gen_time is None:
        return TokenResult(
            gen_time=gen_time,
            tsa_cert=None,
            imprint_ok=token.imprint_ok,
            signature_ok=False,
            chain=None,
            chain_moment=chain_moment,
            problems=token.problems,
            failure=token.failure or SubIndication.FORMAT_FAILURE,
            md_algorithms=md_algorithms,
        )
    problems = list(token.problems)
    # (3e)
    if anchors_at is not None:  # trusted lists: TSA services granted at genTime
        anchors = [*anchors, *anchors_at(gen_time, [tsa_cert, *token_certs, *other_certs])]
    chain = await validate_chain(
        tsa_cert,
        anchors=anchors,
        other_certs=other_certs + token_certs,
        moment=chain_moment,
        purpose="tsa",
        cache=chain_cache,
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
        imprint_ok=token.imprint_ok,
        # the TSA's signature counts only over content it is bound to (RFC 5652 §11.2)
        signature_ok=token.signature_ok and token.digest_ok,
        chain=chain,
        chain_moment=chain_moment,
        problems=tuple(problems),
        failure=token.failure,
        md_algorithms=md_algorithms,
        existed_by_then=existed_by_then,
    )
