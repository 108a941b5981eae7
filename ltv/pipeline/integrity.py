"""(2) Integrity: ByteRange digest, CMS signature value, coverage, changes after signing.

Spec steps:
- ISO 32000-2 §12.8.1: the digest is computed over the /ByteRange; RFC 5652 §11.2: it must
  equal the messageDigest signed attribute (``intact``).
- RFC 5652 §5.6 / ETSI EN 319 102-1 §5.2.7 (cryptographic verification): the SignerInfo
  signature verifies under the signer's public key (``valid``).
- ETSI EN 319 142-1 §5.1 / ISO 32000-2 §12.8.1: a PAdES signature is detached; encapsulated
  content is a FORMAT_FAILURE.
- (2b) ISO 32000-2 §12.8.2.2-4 (DocMDP, FieldMDP, /Lock): every later revision is classified
  (``ltv.pipeline.changes``: dss, timestamp, signature, form-fill, annotation, metadata,
  structural, other) and judged by what the signer allowed — forbidden → FAILED /
  FORMAT_FAILURE here; ``other`` with no DocMDP → INDETERMINATE (``ltv.pipeline.verdict``);
  signature / form-fill / annotation → warnings. Decision table: docs/decisions.md D21. The
  DSS rule is pyHanko's, VRI-tolerant (``ltv.pipeline.diff_policy``): an existing /VRI entry
  modified or removed by a later DSS update is a warning.
- For a document timestamp (ETSI EN 319 142-1 §5.4; RFC 3161 §2.4.2) ``intact`` means the
  TSTInfo messageImprint equals the ByteRange digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ltv.pipeline.changes import Restrictions
from ltv.report import Coverage, IntegrityReport, ModificationEntry, Modifications, SubIndication

if TYPE_CHECKING:
    from asn1crypto import cms, x509
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    from ltv.pipeline.extract import ExtractedSignature
    from ltv.tst import TokenCheck

__all__ = ["IntegrityResult", "ModificationResult", "check_integrity"]


@dataclass(frozen=True, kw_only=True)
class IntegrityResult:
    report: IntegrityReport
    failure: SubIndication | None
    """TOTAL-FAILED subindication if integrity is broken, else None."""
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    """Tolerated findings for the signature's report (e.g. a VRI entry changed later)."""
    md_algorithm: str | None = None
    signature_mechanism: str | None = None
    modifications: ModificationResult = field(default_factory=lambda: ModificationResult())
    """Stage 2b (changes after signing); its ``failed`` effect is ``failure`` above."""


def from_pyhanko(sub: object) -> SubIndication | None:
    """Map a pyHanko AdESFailure/AdESIndeterminate to our enum (same ETSI names)."""
    name = getattr(sub, "name", None)
    if name is None:
        return None
    try:
        return SubIndication(name)
    except ValueError:
        return SubIndication.GENERIC


def _coverage(level: object) -> Coverage:
    from pyhanko.sign.validation.status import SignatureCoverageLevel as Lv

    if level == Lv.ENTIRE_FILE:
        return Coverage.ENTIRE_FILE
    if level == Lv.ENTIRE_REVISION:
        return Coverage.ENTIRE_REVISION
    return Coverage.PARTIAL


@dataclass(frozen=True, kw_only=True)
class ModificationResult:
    """Stage 2b: every change after the signed revision, classified and judged
    (``ltv.pipeline.changes``; decision table in docs/decisions.md, "Modification analysis")."""

    classes: tuple[ModificationEntry, ...] = ()
    effect: Literal["none", "warn", "indeterminate", "failed"] = "none"
    """none: no effect · warn: passes, with ``warnings`` naming the changes · indeterminate:
    a change no rule explains (INDETERMINATE / SIG_CONSTRAINTS_FAILURE) · failed: a change the
    signer forbade (TOTAL-FAILED / FORMAT_FAILURE)."""
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    level: Modifications = Modifications.NONE
    """The pyHanko-style summary kept in ``integrity.modifications``."""
    docmdp_ok: bool | None = True


def _restrictions(emb: EmbeddedPdfSignature) -> Restrictions:
    """DocMDP P (the signature's transform, else its field's /Lock /P) and the FieldMDP lock
    (the signature's transform, else its field's /Lock: ISO 32000-2 §12.7.5.5)."""
    from pyhanko.sign.fields import FieldMDPSpec

    p = emb.docmdp_level
    spec = emb.fieldmdp
    if spec is None:
        try:
            lock = emb.sig_field["/Lock"]
        except KeyError:
            lock = None
        if lock is not None:
            spec = FieldMDPSpec.from_pdf_object(lock)
    return Restrictions(
        docmdp=None if p is None else int(p.value),
        locked=None if spec is None else spec.is_locked,
    )


def _modifications(emb: EmbeddedPdfSignature, coverage: Coverage) -> ModificationResult:
    """Classify each later revision and judge it by what the signer allowed."""
    from ltv.pipeline.changes import classify, effect_of, judge

    if coverage is Coverage.ENTIRE_FILE:
        return ModificationResult()  # nothing after it
    if coverage is Coverage.PARTIAL:  # a ByteRange ltv rejects anyway: nothing to compare
        return ModificationResult(level=Modifications.OTHER, docmdp_ok=None)
    restrictions = _restrictions(emb)  # a malformed DocMDP/FieldMDP: the caller's FORMAT_FAILURE
    try:
        revisions = classify(emb.reader, emb.signed_revision)
    except Exception as err:  # a file no rule can walk: say so, never claim it was forbidden
        why = " ".join(str(err).split())[:200] or type(err).__name__
        entry = ModificationEntry(
            cls="other",
            revision=emb.signed_revision + 1,
            allowed=False,
            details=(f"later revisions could not be compared: {why}",),
        )
        return ModificationResult(
            classes=(entry,),
            effect="indeterminate",
            reasons=(
                "changed after signing in a way ltv cannot judge harmless: later revisions "
                f"could not be compared ({why}); the signed revision itself is intact",
            ),
            level=Modifications.OTHER,
            docmdp_ok=None,
        )
    judged = [judge(f, restrictions) for rc in revisions for f in rc.findings]
    entries = tuple(
        ModificationEntry(
            cls=j.finding.cls,
            revision=j.finding.revision,
            allowed=j.allowed,
            details=j.finding.details,
            restriction=j.restriction,
        )
        for j in judged
    )
    effect = effect_of(judged)
    reasons: list[str] = []
    warnings = [n for rc in revisions for n in rc.notes]
    for j in judged:
        what = f"revision {j.finding.revision}: {j.finding.cls} ({'; '.join(j.finding.details)})"
        if j.restriction is not None:
            reasons.append(f"changed after signing against {j.restriction}: {what}")
        elif j.finding.cls == "other":
            if effect == "indeterminate":
                reasons.append(
                    f"changed after signing in a way ltv cannot judge harmless: {what}; "
                    "the signed revision itself is intact"
                )
        elif j.finding.cls in ("signature", "form-fill", "annotation"):
            warnings.append(f"the document was changed after signing: {what}")
    classes = {j.finding.cls for j in judged}
    level = (
        Modifications.OTHER
        if "other" in classes
        else Modifications.ANNOTATIONS
        if "annotation" in classes
        else Modifications.FORM_FILLING
        if classes & {"signature", "form-fill"}
        else Modifications.NONE
    )
    return ModificationResult(
        classes=entries,
        effect=effect,
        reasons=tuple(reasons),
        warnings=tuple(warnings),
        level=level,
        docmdp_ok=effect != "failed",
    )


def _check_signature_value(
    signer_info: cms.SignerInfo,
    cert: x509.Certificate,
    actual_digest: bytes,
    warnings: list[str],
) -> tuple[bool, bool, str | None]:
    """RFC 5652 §11.2 + §5.6 → ``(intact, valid, key_problem)``.

    ``intact`` compares the signed message-digest attribute with the digest of the signed bytes
    *by itself*, so that a key or algorithm ltv cannot use (``key_problem``) never reads as "the
    document was altered". A negative RSA modulus (a legacy encoder quirk) is read as unsigned,
    with a warning (:mod:`ltv.keys`).
    """
    from asn1crypto import core
    from pyhanko.sign.general import find_unique_cms_attribute
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    from ltv._boundary import describe, library_fault
    from ltv.keys import UnusableKeyOrAlgorithm, lenient_validator, usable_key

    embedded: bytes | None = None
    if not isinstance(signer_info["signed_attrs"], core.Void):
        try:
            embedded = bytes(
                find_unique_cms_attribute(signer_info["signed_attrs"], "message_digest").native
            )
        except (KeyError, ValueError, TypeError):
            embedded = None
    _, quirk = usable_key(cert.public_key)
    if quirk is not None:
        warnings.append(f"signer certificate: {quirk}")
    try:
        intact, valid = validate_sig_integrity(
            signer_info,
            cert,
            expected_content_type="data",
            actual_digest=actual_digest,
            sig_validator=lenient_validator(),
        )
    except UnusableKeyOrAlgorithm as err:
        return embedded is None or embedded == actual_digest, False, str(err)
    except Exception as err:
        if library_fault(err) is None or _is_validation_error(err):
            raise
        # pyHanko/cryptography could not use the key or algorithm (an assertion about the key
        # type, an unloadable key, an unsupported mechanism...)
        return embedded is None or embedded == actual_digest, False, describe(err)
    return intact, valid, None


def _is_validation_error(err: BaseException) -> bool:
    from pyhanko.sign.validation.errors import SignatureValidationError

    return isinstance(err, SignatureValidationError)


def check_integrity(sig: ExtractedSignature, *, token: TokenCheck | None = None) -> IntegrityResult:
    """Run the integrity checks; problems are data (a FAILED subindication), not exceptions.

    ``token``: for a document timestamp, its already computed :func:`ltv.tst.check_token`."""
    from asn1crypto import core
    from pyhanko.sign.validation.errors import SignatureValidationError

    emb = sig.embedded
    reasons: list[str] = []
    warnings: list[str] = []
    signer_info = emb.signer_info
    md_algorithm = str(signer_info["digest_algorithm"]["algorithm"].native)
    mechanism = str(signer_info["signature_algorithm"]["algorithm"].native)

    def _broken(
        sub: SubIndication, why: str, *, coverage: Coverage = Coverage.PARTIAL
    ) -> IntegrityResult:
        return IntegrityResult(
            report=IntegrityReport(
                intact=False, valid=False, coverage=coverage, modifications=Modifications.OTHER
            ),
            failure=sub,
            reasons=(*reasons, why),
            md_algorithm=md_algorithm,
            signature_mechanism=mechanism,
        )

    # ISO 32000-2 §12.8.1: a well-formed ByteRange has four non-negative integers
    br = list(emb.byte_range)
    if len(br) != 4 or any((not isinstance(x, int)) or x < 0 for x in br):
        return _broken(SubIndication.FORMAT_FAILURE, f"malformed /ByteRange {br}")
    if br[0] + br[1] > br[2]:
        return _broken(SubIndication.FORMAT_FAILURE, "overlapping /ByteRange segments")
    stream = emb.reader.stream
    stream.seek(0, 2)
    size = stream.tell()
    if br[2] + br[3] > size:
        # the signed bytes cannot all be there: bytes were cut from (or the file truncated
        # within) what was signed
        return _broken(
            SubIndication.HASH_FAILURE,
            f"the /ByteRange ends at byte {br[2] + br[3]}, past the end of the file ({size} "
            "bytes): signed bytes are missing",
        )

    try:
        emb.compute_integrity_info(skip_diff=True)  # type: ignore[no-untyped-call]
        coverage = _coverage(emb.coverage)
        # (2b) changes after signing, judged by what the signer allowed
        mods = _modifications(emb, coverage)
        warnings.extend(mods.warnings)
    except Exception as err:  # pyHanko raises assorted errors on malformed files
        # the structure around the signature could not be analysed; the signed bytes themselves
        # are still checked below (a plain digest comparison: never "altered" by default), and
        # what cannot be told about later changes is INDETERMINATE, never TOTAL-FAILED
        msg = getattr(err, "failure_message", None) or " ".join(str(err).split())
        why = f"changes after signing could not be analysed ({msg or type(err).__name__})"
        try:
            coverage = _coverage(emb.evaluate_signature_coverage())
        except Exception:
            coverage = Coverage.PARTIAL
        mods = ModificationResult(
            effect="indeterminate", reasons=(why,), level=Modifications.OTHER, docmdp_ok=None
        )

    signed_data = emb.signed_data
    eci = signed_data["encap_content_info"]
    intact = valid = False
    try:
        if sig.kind == "signature":
            # ETSI EN 319 142-1 §5.1: PAdES/PDF signatures are detached
            if not isinstance(eci["content"], core.Void):
                return _broken(
                    SubIndication.FORMAT_FAILURE,
                    "detached PDF signature carries encapsulated content",
                    coverage=coverage,
                )
            intact, valid, key_problem = _check_signature_value(
                signer_info, emb.signer_cert, emb.compute_digest(), warnings
            )
            if key_problem is not None:
                # the bytes are what was signed (or we cannot tell): a key or algorithm ltv
                # cannot use makes the signature INDETERMINATE, never "altered" (issue 8)
                if not intact:
                    return _broken(
                        SubIndication.HASH_FAILURE,
                        "the signed bytes were changed: digest over /ByteRange does not match",
                        coverage=coverage,
                    )
                return IntegrityResult(
                    report=IntegrityReport(
                        intact=True,
                        valid=False,
                        coverage=coverage,
                        modifications=mods.level,
                        docmdp_ok=mods.docmdp_ok,
                    ),
                    failure=SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                    reasons=(*reasons, f"the signature value cannot be checked: {key_problem}"),
                    warnings=tuple(warnings),
                    md_algorithm=md_algorithm,
                    signature_mechanism=mechanism,
                    modifications=mods,
                )
        else:
            # RFC 3161 §2.4.2: messageImprint == H(ByteRange content); RFC 5652 §11.2 + §5.6:
            # the TSA's signature covers exactly this TSTInfo (ltv.tst, one checker for all
            # tokens). ``intact``: the imprint is the digest of the signed bytes; ``valid``: the
            # TSTInfo is the one the TSA signed, under the certificate it names
            from ltv.tst import check_token

            if token is None:
                token = check_token(signed_data, emb.compute_digest)
            if token.tsa_cert is None:  # unreadable, or the TSA certificate not identified
                sub = token.failure or SubIndication.FORMAT_FAILURE
                return _broken(sub, "; ".join(token.problems), coverage=coverage)
            intact = token.imprint_ok
            valid = token.digest_ok and token.signature_ok
            if intact and not valid:
                reasons.extend(token.problems)
    except SignatureValidationError as err:
        sub = from_pyhanko(err.ades_subindication) or SubIndication.FORMAT_FAILURE
        return _broken(sub, f"CMS signature unusable: {err.failure_message}", coverage=coverage)
    except Exception as err:
        msg = " ".join(str(err).split()) or type(err).__name__
        return _broken(
            SubIndication.FORMAT_FAILURE, f"CMS signature unusable: {msg}", coverage=coverage
        )

    failure: SubIndication | None = None
    if coverage is Coverage.PARTIAL:
        # checked first: a non-standard ByteRange makes the digest meaningless
        failure = SubIndication.FORMAT_FAILURE
        reasons.append("the signature does not cover a whole revision of the file")
        if not intact:
            reasons.append("digest over /ByteRange does not match")
    elif not intact:
        failure = SubIndication.HASH_FAILURE
        reasons.append("the signed bytes were changed: digest over /ByteRange does not match")
    elif not valid:
        failure = SubIndication.SIG_CRYPTO_FAILURE
        if not reasons or set(reasons) <= set(mods.reasons):
            reasons.append("the CMS signature value does not verify under the signer's key")
    elif mods.effect == "failed":
        # what the signer forbade was done anyway (ISO 32000-2 §12.8.2.2-4)
        failure = SubIndication.FORMAT_FAILURE
        reasons.extend(mods.reasons)
    return IntegrityResult(
        report=IntegrityReport(
            intact=intact,
            valid=valid,
            coverage=coverage,
            modifications=mods.level,
            docmdp_ok=mods.docmdp_ok,
        ),
        failure=failure,
        reasons=tuple(reasons),
        warnings=tuple(warnings),
        md_algorithm=md_algorithm,
        signature_mechanism=mechanism,
        modifications=mods,
    )
