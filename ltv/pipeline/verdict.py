"""(6) Verdict: ETSI EN 319 102-1 indication + subindication, reasons, PAdES level.

Order of the checks follows ETSI EN 319 102-1:
- §5.3 basic signature validation: format/integrity (§5.2.7 cryptographic verification:
  HASH_FAILURE / SIG_CRYPTO_FAILURE / FORMAT_FAILURE → TOTAL-FAILED);
- §5.2.8 signature acceptance (cryptographic constraints at the POE:
  CRYPTO_CONSTRAINTS_FAILURE_NO_POE);
- §5.2.6 X.509 validation at the POE (NO_CERTIFICATE_CHAIN_FOUND, OUT_OF_BOUNDS_NO_POE, ...);
- §5.6.2.3 / §5.5 revocation against the POE: revoked before the POE → TOTAL-FAILED/REVOKED
  when a timestamp orders the events, else INDETERMINATE/REVOKED_NO_POE (REVOKED_CA_NO_POE for
  a CA); 'unknown' → INDETERMINATE ("responder says unknown"); no usable evidence →
  INDETERMINATE/TRY_LATER (§5.2.5);
- policy constraints (minimum level) → INDETERMINATE/SIG_CONSTRAINTS_FAILURE;
- changes after signing (stage 2b, docs/decisions.md "Modification analysis"): forbidden by
  the signer → integrity failure above (TOTAL-FAILED/FORMAT_FAILURE); a change no rule
  explains → INDETERMINATE/SIG_CONSTRAINTS_FAILURE (§5.2.8: the signature does not meet the
  constraint "no unexplained change after signing"), its reason added to any other
  non-passing verdict; permitted form filling, signing, annotations → a warning.
PAdES levels per ETSI EN 319 142-1 §6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ltv.report import Indication, Level, RevocationState, SubIndication, TimeSource

if TYPE_CHECKING:
    from ltv.pipeline.integrity import ModificationResult

__all__ = ["Decision", "Facts", "decide", "indication_for"]

_FAILED = {
    SubIndication.FORMAT_FAILURE,
    SubIndication.HASH_FAILURE,
    SubIndication.SIG_CRYPTO_FAILURE,
    SubIndication.REVOKED,
    SubIndication.NOT_YET_VALID,
}


def indication_for(sub: SubIndication) -> Indication:
    """ETSI EN 319 102-1 Table 5: which main indication a subindication belongs to."""
    return Indication.TOTAL_FAILED if sub in _FAILED else Indication.INDETERMINATE


@dataclass(frozen=True, kw_only=True)
class CertStatus:
    """The verdict-relevant part of one chain certificate."""

    subject: str
    is_leaf: bool
    status_at_t: RevocationState
    detail: str | None
    revoked_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Facts:
    kind: str
    integrity_failure: SubIndication | None
    integrity_reasons: tuple[str, ...]
    time_source: TimeSource
    validation_time: datetime
    algorithm_problem: str | None
    chain_problem: SubIndication | None
    chain_reason: str | None
    certs: tuple[CertStatus, ...]
    revocation_required: bool = True
    """False for TSA chains under a lenient policy: missing evidence is only a warning."""
    level: Level | None = None
    min_level: Level | None = None
    modifications: ModificationResult | None = None
    """Stage 2b (changes after signing). A ``failed`` effect arrives as integrity_failure."""


@dataclass(frozen=True, kw_only=True)
class Decision:
    indication: Indication
    subindication: SubIndication | None
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())


def decide(f: Facts) -> Decision:
    d = _decide(f)
    mods = f.modifications
    if mods is None or mods.effect != "indeterminate" or f.integrity_failure is not None:
        return d
    # a change no rule explains: never TOTAL-PASSED (shadow / incremental-saving attacks live
    # here), never TOTAL-FAILED (the signed revision is intact); named in any case
    if d.indication is Indication.TOTAL_PASSED:
        return Decision(
            indication=Indication.INDETERMINATE,
            subindication=SubIndication.SIG_CONSTRAINTS_FAILURE,
            reasons=mods.reasons,
            warnings=d.warnings,
        )
    return Decision(
        indication=d.indication,
        subindication=d.subindication,
        reasons=(*d.reasons, *mods.reasons),
        warnings=d.warnings,
    )


def _decide(f: Facts) -> Decision:
    warnings: list[str] = []
    # §5.2.7 cryptographic verification / format
    if f.integrity_failure is not None:
        return Decision(
            indication=indication_for(f.integrity_failure),
            subindication=f.integrity_failure,
            reasons=f.integrity_reasons or (str(f.integrity_failure),),
        )
    # §5.2.8 cryptographic constraints at the POE
    if f.algorithm_problem is not None:
        return Decision(
            indication=Indication.INDETERMINATE,
            subindication=SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
            reasons=(f.algorithm_problem,),
        )
    # §5.2.6 chain at the POE
    if f.chain_problem is not None:
        return Decision(
            indication=indication_for(f.chain_problem),
            subindication=f.chain_problem,
            reasons=(f.chain_reason or str(f.chain_problem),),
        )
    has_poe = f.time_source in (TimeSource.SIGNATURE_TIMESTAMP, TimeSource.DOCUMENT_TIMESTAMP)
    # §5.6.2.3 revocation against the POE: revoked first, then unknown, then offline
    for c in f.certs:
        if c.status_at_t is RevocationState.REVOKED:
            when = f" at {c.revoked_at.isoformat()}" if c.revoked_at else ""
            if has_poe:
                return Decision(
                    indication=Indication.TOTAL_FAILED,
                    subindication=SubIndication.REVOKED,
                    reasons=(
                        f"certificate of {c.subject} was revoked{when}, before the "
                        f"proof of existence {f.validation_time.isoformat()}",
                    ),
                )
            sub = SubIndication.REVOKED_NO_POE if c.is_leaf else SubIndication.REVOKED_CA_NO_POE
            return Decision(
                indication=Indication.INDETERMINATE,
                subindication=sub,
                reasons=(
                    f"certificate of {c.subject} is revoked{when} and no timestamp shows "
                    "the signature existed before that",
                ),
            )
    for c in f.certs:
        if c.status_at_t is RevocationState.UNKNOWN:
            return Decision(
                indication=Indication.INDETERMINATE,
                subindication=SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                reasons=(f"{c.subject}: responder says unknown",),
            )
    for c in f.certs:
        if c.status_at_t is RevocationState.OFFLINE:
            msg = f"{c.subject}: no usable revocation evidence ({c.detail or 'offline'})"
            if f.revocation_required:
                return Decision(
                    indication=Indication.INDETERMINATE,
                    subindication=SubIndication.TRY_LATER,
                    reasons=(msg,),
                )
            warnings.append(msg)
    if f.min_level is not None and (f.level is None or f.level.rank < f.min_level.rank):
        return Decision(
            indication=Indication.INDETERMINATE,
            subindication=SubIndication.SIG_CONSTRAINTS_FAILURE,
            reasons=(f"level {f.level or 'none'} is below the policy's minimum {f.min_level}",),
            warnings=tuple(warnings),
        )
    return Decision(
        indication=Indication.TOTAL_PASSED,
        subindication=None,
        reasons=(),
        warnings=tuple(warnings),
    )
