"""(4) Chain: a path from a certificate to an explicit trust anchor, validated AT a given time.

Spec steps:
- ETSI EN 319 102-1 §5.2.6 (X.509 certificate validation) with RFC 5280 §6.1 path validation,
  performed by pyhanko-certvalidator *at the trusted time* (the POE from step 3), not now.
- Revocation is OFF inside certvalidator (``NO_REVOCATION``) and fetching is off
  (``allow_fetching=False``: no AIA chasing, no OCSP/CRL download): step 5 does revocation per
  certificate with ltv.evidence so that every certificate gets a reportable four-state outcome.
- Trust roots are always given explicitly (never the OS list; see ltv.trust).
- Subindications: pyHanko's mapping of certvalidator errors (expired EE → OUT_OF_BOUNDS_NO_POE,
  no path → NO_CERTIFICATE_CHAIN_FOUND, ...), which uses ETSI's names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ltv.names import name_str
from ltv.pipeline.integrity import from_pyhanko
from ltv.report import SubIndication

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.audit.cache import ChainCache

__all__ = ["ChainResult", "validate_chain"]


@dataclass(frozen=True, kw_only=True)
class ChainResult:
    path: tuple[x509.Certificate, ...]
    """Leaf first; the trust anchor (if it is a certificate) last. May be partial on failure."""
    anchor_included: bool
    """Whether ``path[-1]`` is the trust anchor."""
    problem: SubIndication | None
    reason: str | None = None
    time_horizon: datetime | None = None


async def validate_chain(
    cert: x509.Certificate,
    *,
    anchors: list[x509.Certificate],
    other_certs: list[x509.Certificate],
    moment: datetime,
    purpose: Literal["signer", "tsa"],
    cache: ChainCache | None = None,
) -> ChainResult:
    """Build and validate a path for ``cert`` at ``moment``; failures are data.

    ``cache`` (audit): a path validated before for this leaf, anchors and purpose, re-used when
    ``moment`` lies inside its validity window; a failure met before with exactly the same
    inputs (see ``ltv.audit.cache``)."""
    if cache is not None:  # audit: work done once per archive
        hit = cache.lookup(
            cert, anchors=anchors, other_certs=other_certs, moment=moment, purpose=purpose
        )
        if hit is not None:
            return hit
    from pyhanko.sign.validation.generic_cms import validate_cert_usage
    from pyhanko.sign.validation.status import (
        SignatureStatus,
        TimestampSignatureStatus,
    )
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.policy_decl import NO_REVOCATION, CertRevTrustPolicy

    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    if not _parses(cert):  # harden: certvalidator would raise on it halfway through a path
        return ChainResult(
            path=(cert,),
            anchor_included=False,
            problem=SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            reason=f"the {purpose} certificate {name_str(cert.subject)} cannot be decoded",
        )
    vc = ValidationContext(
        trust_roots=anchors,
        other_certs=[c for c in other_certs if _parses(c)],
        moment=moment,
        best_signature_time=moment,
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(NO_REVOCATION),
    )
    if purpose == "tsa":
        ku = TimestampSignatureStatus.default_usage_constraints()
    else:
        ku = SignatureStatus.default_usage_constraints()
    result = await validate_cert_usage(
        cert, vc, key_usage_settings=ku, paths=vc.path_builder.async_build_paths_lazy(cert)
    )
    path_obj = result.success_result or result.error_path
    path: tuple[x509.Certificate, ...] = (cert,)
    anchor_included = False
    if path_obj is not None:
        certs = list(path_obj.iter_certs(include_root=True))
        certs.reverse()
        if certs and certs[0].dump() != cert.dump():
            certs.insert(0, cert)
        path = tuple(certs)
        try:
            root = path_obj.trust_anchor.authority.certificate  # type: ignore[attr-defined]
            anchor_included = root is not None and path[-1].dump() == root.dump()
        except (AttributeError, LookupError):
            anchor_included = False
    if result.success_result is not None:
        done = ChainResult(path=path, anchor_included=anchor_included, problem=None)
    else:
        sub = from_pyhanko(result.error_subindic) or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
        done = ChainResult(
            path=path,
            anchor_included=anchor_included,
            problem=sub,
            reason=_explain(sub, cert, moment, result.error_time_horizon),
            time_horizon=result.error_time_horizon,
        )
    if cache is not None:
        cache.store(
            cert,
            anchors=anchors,
            other_certs=other_certs,
            moment=moment,
            purpose=purpose,
            result=done,
        )
    return done


def _parses(cert: x509.Certificate) -> bool:
    """Whether *cert* parses in full: a damaged certificate (e.g. one of a file's DSS with a
    broken extension) cannot be on any path, and asn1crypto's lazy parsing would otherwise raise
    inside certvalidator's registry."""
    from ltv.evidence._crypto import MALFORMED

    try:
        cert.native  # noqa: B018 - parse eagerly
        _ = cert.subject.human_friendly, cert.issuer.hashable  # harden: names certvalidator reads
    except MALFORMED:  # harden: asn1crypto raises AttributeError, OverflowError... too
        return False
    return True


def _explain(
    sub: SubIndication, cert: x509.Certificate, moment: datetime, horizon: datetime | None
) -> str:
    from ltv.report import rfc3339

    who = name_str(cert.subject)
    at = rfc3339(moment)
    match sub:
        case SubIndication.NO_CERTIFICATE_CHAIN_FOUND:
            return f"no path from {who} to a trust anchor"
        case SubIndication.OUT_OF_BOUNDS_NO_POE:
            return (
                f"certificate of {who} is not valid at {at} (valid until "
                f"{rfc3339(cert['tbs_certificate']['validity']['not_after'].native)}) and "
                "no proof of existence inside its validity"
            )
        case SubIndication.CHAIN_CONSTRAINTS_FAILURE:
            return f"chain of {who} violates path constraints (key usage, basic constraints...)"
        case _:
            extra = f" (time horizon {rfc3339(horizon)})" if horizon else ""
            return f"chain of {who} could not be validated at {at}: {sub}{extra}"
