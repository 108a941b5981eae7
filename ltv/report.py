"""The validation report: ETSI indications and frozen dataclasses of plain types.

Everything here is plain data (``str``, ``bool``, ``int``, timezone-aware ``datetime``, hex
strings), so the JSON form (``schemas/report.schema.json``) is a pure projection:
:meth:`Report.to_dict`. Field names follow the contract in DESIGN.md; fields may be added,
none renamed.

Indications and subindications are those of ETSI EN 319 102-1 §5.1.3 (Table 5), spelled as
ETSI spells them, except that the main indications use the hyphenated form of DESIGN.md.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, assert_never

__all__ = [
    "CertificateReport",
    "Coverage",
    "EvidenceRef",
    "FileInfo",
    "Indication",
    "IntegrityReport",
    "Level",
    "ModificationClass",
    "ModificationEntry",
    "Modifications",
    "NetworkReport",
    "PolicyRef",
    "QualificationReport",
    "Report",
    "RevocationReport",
    "RevocationState",
    "SignatureReport",
    "SignerReport",
    "SubIndication",
    "TimeSource",
    "TimestampReport",
    "TrustServiceRef",
    "rfc3339",
]


class Indication(enum.StrEnum):
    """ETSI EN 319 102-1 §5.1.3 main indication (plus NO_SIGNATURE for a file without one)."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"
    NO_SIGNATURE = "NO_SIGNATURE"

    @property
    def severity(self) -> int:
        """Order used to aggregate several signatures: the worst one wins."""
        match self:
            case Indication.TOTAL_PASSED:
                return 0
            case Indication.INDETERMINATE:
                return 1
            case Indication.TOTAL_FAILED:
                return 2
            case Indication.NO_SIGNATURE:
                return 3
            case _:
                assert_never(self)


class SubIndication(enum.StrEnum):
    """ETSI EN 319 102-1 §5.1.3 Table 5 subindications (the ones ltv can emit)."""

    # TOTAL-FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    NOT_YET_VALID = "NOT_YET_VALID"
    # INDETERMINATE
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    EXPIRED = "EXPIRED"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    NO_POE = "NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    GENERIC = "GENERIC"


class Level(enum.StrEnum):
    """PAdES baseline level reached (ETSI EN 319 142-1 §6)."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def rank(self) -> int:
        """B-B < B-T < B-LT < B-LTA."""
        match self:
            case Level.B_B:
                return 0
            case Level.B_T:
                return 1
            case Level.B_LT:
                return 2
            case Level.B_LTA:
                return 3
            case _:
                assert_never(self)


class Coverage(enum.StrEnum):
    """What the ByteRange covers (pyHanko SignatureCoverageLevel, folded to three values)."""

    ENTIRE_FILE = "ENTIRE_FILE"
    ENTIRE_REVISION = "ENTIRE_REVISION"
    PARTIAL = "PARTIAL"


class Modifications(enum.StrEnum):
    """What changed after signing (pyHanko ModificationLevel; LTA_UPDATES counts as NONE)."""

    NONE = "NONE"
    FORM_FILLING = "FORM_FILLING"
    ANNOTATIONS = "ANNOTATIONS"
    OTHER = "OTHER"


class RevocationState(enum.StrEnum):
    """Per-certificate outcome: the four evidence states plus 'not-checked' (trust anchors)."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    OFFLINE = "offline"
    NOT_CHECKED = "not-checked"


class TimeSource(enum.StrEnum):
    """Where a signature's validation time comes from."""

    SIGNATURE_TIMESTAMP = "signature-timestamp"
    DOCUMENT_TIMESTAMP = "document-timestamp"
    AT_OPTION = "at-option"
    NOW = "now"


SignatureKind = Literal["signature", "document-timestamp"]
CertRole = Literal["signer", "ca", "tsa", "responder"]
EvidenceMethod = Literal["ocsp", "crl", "none"]
EvidenceSource = Literal["dss", "vri", "cms", "fetched", "cache", "none"]


def rfc3339(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with a ``Z`` suffix (seconds precision)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetime in a report")
    return _rfc3339(moment)


@functools.lru_cache(maxsize=4096)
def _rfc3339(moment: datetime) -> str:
    # memoised: a report names the same few certificate validity dates again and again
    # (equal aware datetimes hash alike whatever their offset, and give the same text)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class EvidenceRef:
    """One piece of revocation evidence considered for a certificate (deciding or not)."""

    method: EvidenceMethod
    source: EvidenceSource
    status: str
    """What this evidence says: good / revoked / unknown, or offline (with ``detail``)."""
    this_update: datetime | None = None
    produced_at: datetime | None = None
    revoked_at: datetime | None = None
    url: str | None = None
    detail: str | None = None
    deciding: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "source": self.source,
            "status": self.status,
            "this_update": rfc3339(self.this_update),
            "produced_at": rfc3339(self.produced_at),
            "revoked_at": rfc3339(self.revoked_at),
            "url": self.url,
            "detail": self.detail,
            "deciding": self.deciding,
        }


@dataclass(frozen=True, kw_only=True)
class RevocationReport:
    """How one certificate's revocation status was settled (or why it was not)."""

    status: RevocationState
    """The status the evidence shows (``revoked`` even when the revocation is later than the
    validation time; see :attr:`status_at_validation_time`)."""
    method: EvidenceMethod = "none"
    source: EvidenceSource = "none"
    this_update: datetime | None = None
    next_update: datetime | None = None
    produced_at: datetime | None = None
    revoked_at: datetime | None = None
    reason: str | None = None
    url: str | None = None
    detail: str | None = None
    """Plain-language explanation (e.g. ``responder says unknown``, ``network-disabled``)."""
    status_at_validation_time: RevocationState = RevocationState.NOT_CHECKED
    """What the evidence proves about the validation time: a certificate revoked after the
    trusted time was ``good`` at that time."""
    warnings: tuple[str, ...] = ()
    """Evidence that did not decide the outcome but should be seen (e.g. an 'unknown' from one
    responder beside a CRL that proves the certificate not revoked)."""
    evidence: tuple[EvidenceRef, ...] = ()
    """Every relevant piece of evidence considered, embedded and fetched (``online=always``
    keeps both; the deciding one is marked)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "method": self.method,
            "source": self.source,
            "this_update": rfc3339(self.this_update),
            "next_update": rfc3339(self.next_update),
            "produced_at": rfc3339(self.produced_at),
            "revoked_at": rfc3339(self.revoked_at),
            "reason": self.reason,
            "url": self.url,
            "detail": self.detail,
            "status_at_validation_time": str(self.status_at_validation_time),
            "warnings": list(self.warnings),
            "evidence": [e.to_dict() for e in self.evidence],
        }


NOT_CHECKED = RevocationReport(
    status=RevocationState.NOT_CHECKED, detail="trust anchor: not checked"
)


@dataclass(frozen=True, kw_only=True)
class CertificateReport:
    """One certificate of a chain, leaf first, with its revocation outcome."""

    subject: str
    issuer: str
    serial: str
    sha256: str
    role: CertRole
    not_before: datetime
    not_after: datetime
    revocation: RevocationReport = NOT_CHECKED

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "sha256": self.sha256,
            "role": self.role,
            "not_before": rfc3339(self.not_before),
            "not_after": rfc3339(self.not_after),
            "revocation": self.revocation.to_dict(),
        }


@dataclass(frozen=True, kw_only=True)
class SignerReport:
    """The signing certificate (for a document timestamp: the TSA certificate)."""

    subject: str
    issuer: str
    serial: str
    sha256: str
    not_before: datetime
    not_after: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "sha256": self.sha256,
            "not_before": rfc3339(self.not_before),
            "not_after": rfc3339(self.not_after),
        }


@dataclass(frozen=True, kw_only=True)
class IntegrityReport:
    """ByteRange digest (``intact``), CMS signature (``valid``), coverage and later changes."""

    intact: bool
    valid: bool
    coverage: Coverage
    modifications: Modifications
    docmdp_ok: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "valid": self.valid,
            "coverage": str(self.coverage),
            "modifications": str(self.modifications),
            "docmdp_ok": self.docmdp_ok,
        }


ModificationClass = Literal[
    "none",
    "dss",
    "timestamp",
    "signature",
    "form-fill",
    "annotation",
    "metadata",
    "structural",
    "other",
]
"""The classes of change after a signed revision, in the order reports list them."""


@dataclass(frozen=True, kw_only=True)
class ModificationEntry:
    """One class of change in one revision after the signed one (docs/decisions.md,
    "Modification analysis")."""

    cls: ModificationClass
    revision: int
    """The revision that shows the change (0-based, as ``SignatureReport.revision``)."""
    allowed: bool
    """False when the signer forbade it (``restriction`` names how) or when it is ``other``."""
    details: tuple[str, ...]
    """What changed: object, key, page."""
    restriction: str | None = None
    """The DocMDP/FieldMDP/Lock restriction the change breaks, if any."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.cls,
            "revision": self.revision,
            "allowed": self.allowed,
            "details": list(self.details),
            "restriction": self.restriction,
        }


@dataclass(frozen=True, kw_only=True)
class TimestampReport:
    """An RFC 3161 token: the signature timestamp, or the token of a document timestamp."""

    gen_time: datetime
    tsa: str
    imprint_ok: bool
    signature_ok: bool
    trusted: bool
    chain_checked_at: datetime | None = None
    """When the TSA chain was validated (the next covering document timestamp, else now)."""
    chain: tuple[CertificateReport, ...] = ()
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "gen_time": rfc3339(self.gen_time),
            "tsa": self.tsa,
            "imprint_ok": self.imprint_ok,
            "signature_ok": self.signature_ok,
            "trusted": self.trusted,
            "chain_checked_at": rfc3339(self.chain_checked_at),
            "chain": [c.to_dict() for c in self.chain],
            "problems": list(self.problems),
        }


# trustlists: qualified status from EU trusted lists (ltv.trustlists) ---------------------------


@dataclass(frozen=True, kw_only=True)
class TrustServiceRef:
    """A trust service of a trusted list and the status entry that decided (ETSI TS 119 612)."""

    territory: str
    list_id: str
    """The store's snapshot id (``tl-BE-74-e3d25e9486fb``)."""
    list_sequence: int
    list_issued: datetime
    tsp: str
    service: str
    type: str
    """Service type, short form: ``CA/QC``, ``TSA/QTST``, ``CA/PKC``…"""
    status: str
    """Status at the moment judged: ``granted``, ``withdrawn``…"""
    status_since: datetime
    status_until: datetime | None
    stale: bool = False
    """The status is extrapolated past the list's NextUpdate (no newer list in the store)."""

    def describe(self) -> str:
        until = f" until {rfc3339(self.status_until)}" if self.status_until else ""
        return (
            f"{self.service!r} ({self.type}) of {self.tsp!r}, {self.territory} list "
            f"#{self.list_sequence} of {rfc3339(self.list_issued)}: {self.status} since "
            f"{rfc3339(self.status_since)}{until}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "territory": self.territory,
            "list": self.list_id,
            "list_sequence": self.list_sequence,
            "list_issued": rfc3339(self.list_issued),
            "tsp": self.tsp,
            "service": self.service,
            "type": self.type,
            "status": self.status,
            "status_since": rfc3339(self.status_since),
            "status_until": rfc3339(self.status_until),
            "stale": self.stale,
        }


@dataclass(frozen=True, kw_only=True)
class QualificationReport:
    """Qualified status of a signature under eIDAS, from the trusted lists in the store."""

    signature: str | None
    """QES | AdES-QC | AdES | QSeal | AdESeal-QC | AdESeal; ``None`` when the signature is
    not TOTAL-PASSED (no class is claimed for a signature that does not validate)."""
    timestamp: str | None
    """QTST (its TSA service was a granted TSA/QTST at genTime) | TST; ``None``: no trusted
    signature timestamp."""
    source: str
    """Which list, service and status entry decided (one line)."""
    qualified: bool
    """The signer's certificate is qualified at the validation time (and was at issuance)."""
    qscd: bool
    """The private key is on a (Q)SCD, by the certificate or the service's qualifiers."""
    qc_type: str | None
    """esig | eseal | web (``None`` when nothing says)."""
    service: TrustServiceRef | None = None
    timestamp_service: TrustServiceRef | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "signature": self.signature,
            "timestamp": self.timestamp,
            "source": self.source,
            "qualified": self.qualified,
            "qscd": self.qscd,
            "qc_type": self.qc_type,
            "service": None if self.service is None else self.service.to_dict(),
            "timestamp_service": (
                None if self.timestamp_service is None else self.timestamp_service.to_dict()
            ),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, kw_only=True)
class SignatureReport:
    """The verdict for one signature or document timestamp."""

    field: str
    kind: SignatureKind
    indication: Indication
    subindication: SubIndication | None
    reasons: tuple[str, ...]
    level: Level | None
    signer: SignerReport | None
    integrity: IntegrityReport | None
    timestamp: TimestampReport | None
    validation_time: datetime
    validation_time_source: TimeSource
    chain: tuple[CertificateReport, ...]
    warnings: tuple[str, ...] = ()
    revision: int | None = None
    ltv_enabled: bool | None = None
    """What Acrobat calls "LTV enabled": the file carries validation data (OCSP/CRL) for every
    certificate of the signer's chain and of its timestamp's TSA chain (below the anchors).
    ``None`` when the chain could not be built, so the certificates are not known."""
    qualification: QualificationReport | None = None  # trustlists: set with a trust store
    modifications: tuple[ModificationEntry, ...] = ()
    """Every change after the signed revision, one entry per class and revision."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "kind": self.kind,
            "indication": str(self.indication),
            "subindication": None if self.subindication is None else str(self.subindication),
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "level": None if self.level is None else str(self.level),
            "revision": self.revision,
            "ltv_enabled": self.ltv_enabled,
            "signer": None if self.signer is None else self.signer.to_dict(),
            "integrity": None if self.integrity is None else self.integrity.to_dict(),
            "modifications": [m.to_dict() for m in self.modifications],
            "timestamp": None if self.timestamp is None else self.timestamp.to_dict(),
            "validation_time": rfc3339(self.validation_time),
            "validation_time_source": str(self.validation_time_source),
            "chain": [c.to_dict() for c in self.chain],
            "qualification": (  # trustlists:
                None if self.qualification is None else self.qualification.to_dict()
            ),
        }


@dataclass(frozen=True, kw_only=True)
class FileInfo:
    path: str
    sha256: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True, kw_only=True)
class PolicyRef:
    name: str
    online: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "online": self.online}


@dataclass(frozen=True, kw_only=True)
class NetworkReport:
    """Every online request made while validating this file (none under ``online=never``)."""

    requests: int = 0
    urls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "urls": list(self.urls)}


@dataclass(frozen=True, kw_only=True)
class Report:
    """The report for one file."""

    ltv_version: str
    file: FileInfo
    checked_at: datetime
    policy: PolicyRef
    indication: Indication
    signatures: tuple[SignatureReport, ...]
    network: NetworkReport = field(default_factory=NetworkReport)
    warnings: tuple[str, ...] = ()
    evidence: tuple[tuple[str, str, int], ...] = ()
    """Revocation evidence found in the file: (source dss|vri|cms, method ocsp|crl, count)."""
    error: str | None = None
    """Set when the file could not be evaluated (exit 4): unreadable, not a PDF, no signature."""

    @property
    def exit_code(self) -> int:
        """DESIGN.md: 0 all passed, 1 any failed, 3 indeterminate, 4 not evaluable."""
        match self.indication:
            case Indication.TOTAL_PASSED:
                return 0
            case Indication.TOTAL_FAILED:
                return 1
            case Indication.INDETERMINATE:
                return 3
            case Indication.NO_SIGNATURE:
                return 4
            case _:
                assert_never(self.indication)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ltv_version": self.ltv_version,
            "file": self.file.to_dict(),
            "checked_at": rfc3339(self.checked_at),
            "policy": self.policy.to_dict(),
            "indication": str(self.indication),
            "signatures": [s.to_dict() for s in self.signatures],
            "network": self.network.to_dict(),
            "warnings": list(self.warnings),
            "evidence": [
                {"source": src, "method": method, "count": n} for src, method, n in self.evidence
            ],
        }
        if self.error is not None:
            out["error"] = self.error
        return out


def aggregate(indications: list[Indication]) -> Indication:
    """The file's indication: the worst of its signatures' (no signature → NO_SIGNATURE)."""
    if not indications:
        return Indication.NO_SIGNATURE
    return max(indications, key=lambda i: i.severity)
