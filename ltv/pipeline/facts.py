"""What a file *is*: the timeless facts of stages 1, 2, 2b and the binding of every token.

Everything here is plain, immutable and picklable — DER bytes, enums, strings, timezone-aware
datetimes — with no PDF reader attached: the facts of a file can be stored by its content hash
(``ltv audit``) and judged again at any time, under any trust and policy, by
:func:`ltv.pipeline.run.judge`, without reading the PDF again. What a file is *worth* (TSA and
signer chains, revocation, verdict, level) depends on time, trust and policy and is never stored
here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ltv.report import SubIndication
from ltv.tst import TokenBinding

if TYPE_CHECKING:
    from ltv.pipeline.extract import EvidenceItem
    from ltv.pipeline.integrity import IntegrityResult
    from ltv.tst import TokenCheck

__all__ = ["FACTS_VERSION", "DocumentFacts", "SignatureFacts", "TokenFacts"]

FACTS_VERSION = 2
"""Bumped whenever the facts of the same bytes would come out different (a stored fact of an
older version is re-examined, never re-used)."""


@dataclass(frozen=True, kw_only=True)
class TokenFacts(TokenBinding):
    """An RFC 3161 token and what binds it (``ltv.tst.check_token``), as plain data."""

    gen_time: datetime | None
    tsa_cert: bytes | None
    """DER of the TSA certificate named by sid + ESS attribute, when it was identified."""
    other_certs: tuple[bytes, ...]
    imprint_ok: bool
    digest_ok: bool
    signer_identified: bool
    signature_ok: bool
    imprint_algorithm: str | None
    digest_algorithm: str | None
    problems: tuple[str, ...]
    failure: SubIndication | None

    @classmethod
    def from_check(cls, check: TokenCheck) -> TokenFacts:
        return cls(
            gen_time=check.gen_time,
            tsa_cert=None if check.tsa_cert is None else check.tsa_cert.dump(),
            other_certs=tuple(c.dump() for c in check.other_certs),
            imprint_ok=check.imprint_ok,
            digest_ok=check.digest_ok,
            signer_identified=check.signer_identified,
            signature_ok=check.signature_ok,
            imprint_algorithm=check.imprint_algorithm,
            digest_algorithm=check.digest_algorithm,
            problems=check.problems,
            failure=check.failure,
        )


@dataclass(frozen=True, kw_only=True)
class SignatureFacts:
    """One signature field (a signature or a document timestamp), parsed or not."""

    field: str
    kind: Literal["signature", "document-timestamp"]
    revision: int | None
    """The revision it signs (0-based, pyHanko's numbering); None when unparsable."""
    subfilter: str | None
    integrity: IntegrityResult
    signer_cert: bytes | None
    """DER of the signing certificate (a document timestamp: the TSA's), when identified."""
    signer_problem: str | None = None
    """Why the signing certificate could not be identified."""
    signer_subindication: SubIndication | None = None
    tokens: tuple[TokenFacts, ...] = ()
    """Signature timestamps; for a document timestamp, its own token."""
    digest_algorithm: str | None = None
    parsed: bool = True
    """False for a field whose value is present but cannot be parsed: a signature, present and
    broken (TOTAL-FAILED / FORMAT_FAILURE), never silently dropped."""


@dataclass(frozen=True, kw_only=True)
class DocumentFacts:
    """Everything timeless about one file."""

    sha256: str
    size: int
    revisions: int
    signatures: tuple[SignatureFacts, ...]
    """In revision order."""
    certificates: tuple[bytes, ...]
    """Every certificate found anywhere (CMS, tokens, DSS, OCSP responses), DER, de-duplicated."""
    evidence: tuple[EvidenceItem, ...]
    warnings: tuple[str, ...] = ()
    error: str | None = None
    """Set when the file could not be evaluated (unreadable, not a PDF, over a limit)."""
    version: int = FACTS_VERSION

    @property
    def document_timestamps(self) -> tuple[SignatureFacts, ...]:
        return tuple(s for s in self.signatures if s.kind == "document-timestamp")
