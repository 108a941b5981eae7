"""Conformance: ltv's report against what the original projects' tests assert (corpus manifest).

Each manifest entry's free-text ``expected`` is encoded below as explicit checks (CHECKS), read
with its conditions: the trust anchors the test configured (``trust_anchors``, files in
``trust/``) and the validation time it fixed (pyHanko fixtures 2020-11-01 / 2021-01-05; DSS
2021-07-15T09:14:40Z where stated). Invariants hold for every file: no traceback, a report that
validates against the schema, and no attack file ever TOTAL-PASSED. Entries whose expectation
ltv does not (yet) meet are in KNOWN_DISAGREEMENTS with the reason, files ltv cannot evaluate
(exit 4, asserted) in UNEVALUABLE; SKIP lists entries with nothing to compare. The terminal
summary prints the agreement count (tests/conformance/conftest.py).
"""

from __future__ import annotations

import glob
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ltv.policy import ValidationPolicy
from ltv.trust import TrustStore
from ltv.verify import Verifier
from tests.conformance.agreement import TALLY
from tests.unit.pipeline.fixtures import assert_schema

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"
MANIFEST = CORPUS / "manifest.json"
NOW = datetime(2026, 11, 28, tzinfo=UTC)
FALLBACK_ANCHOR = "trust/pyhanko_testing-ca_root.cer"  # some anchor is needed; trusts nothing here

Doc = dict[str, Any]

SKIP: dict[str, str] = {
    "pades/endesive_pdf-acrobat.pdf": "no expectation stated by the source project",
    "pades/endesive_pdf-adobe-webcapture-x509.rsa_sha1.pdf": "no expectation stated "
    "(adbe.x509.rsa_sha1 is not CMS; ltv reports NO_SIGNATURE, exit 4)",
    "pades/dss_pdf-self-issued-ocsp.pdf": "only DSS base-class defaults asserted",
    "pades/dss_pades-ltv.pdf": "only the PAdES_LTV format label asserted (a DSS-internal name)",
}

KNOWN_DISAGREEMENTS: dict[str, str] = {
    "attacks/dss_pdf-removed-pages.pdf": "DSS: TOTAL_FAILED/FORMAT_FAILURE (its page-difference "
    "check). ltv: INDETERMINATE/SIG_CONSTRAINTS_FAILURE naming 'page tree changed: 3 page(s) "
    "signed, 1 now' — a change no signer permitted and no rule explains, with the signed "
    "revision intact (docs/decisions.md, Modification analysis); never passed",
    "attacks/dss_BadEncodedCMS.pdf": "DSS's stricter ASN.1 parser finds 0 signatures; asn1crypto "
    "parses the CMS lazily, so ltv reports the signature (INDETERMINATE, never passed)",
    "attacks/dss_dss-2236_annotation-and-visible-change.pdf": "DSS detects visual annotation "
    "overlap on the last signature; pyHanko's diff sees its revision untouched (ENTIRE_FILE)",
    "pades/dss_TestToSignPDFSHA256_TST_SIG_NOT_FOUND.pdf": "the TSA's CMS signature verifies "
    "under pyHanko/cryptography (and both ESS signing-certificate attributes hash to the "
    "carried certificate); DSS reports it not valid",
    "pades/dss_doc-firmado-LT.pdf": "DSS: PAdES-BASELINE-LT (its test ran in 2018/19). ltv "
    "(no validation time stated, so now): the TSA chain expired 2024-01-21 and no later POE "
    "exists, so the timestamp is not trusted and the level is B-B; with --at 2020-01-01 "
    "ltv reports TOTAL-PASSED at B-LT, the file's TSA-chain evidence counted",
}

UNEVALUABLE: dict[str, str] = {}
"""Files ltv cannot evaluate: the correct behaviour is exit 4 with a one-line reason, which is
asserted; they still count as disagreements with the original project's expectation."""


def _sigs(doc: Doc, kind: str = "signature") -> list[Doc]:
    return [s for s in doc["signatures"] if s["kind"] == kind]


def _counts(n_sig: int, n_doc: int, n_sig_tst: int | None = None) -> Callable[[Doc], bool]:
    def check(doc: Doc) -> bool:
        sigs = _sigs(doc)
        ok = len(sigs) == n_sig and len(_sigs(doc, "document-timestamp")) == n_doc
        if n_sig_tst is not None:
            ok = ok and sum(s["timestamp"] is not None for s in sigs) == n_sig_tst
        return ok

    return check


def _integrity(i: int, **want: object) -> Callable[[Doc], bool]:
    def check(doc: Doc) -> bool:
        sigs = _sigs(doc)
        if len(sigs) <= i or sigs[i]["integrity"] is None:
            return False
        return all(sigs[i]["integrity"][k] == v for k, v in want.items())

    return check


def _any_sig(**want: object) -> Callable[[Doc], bool]:
    return lambda doc: any(all(s.get(k) == v for k, v in want.items()) for s in _sigs(doc))


def _evidence(source: str, method: str, count: int | None = None) -> Callable[[Doc], bool]:
    def check(doc: Doc) -> bool:
        n = sum(
            e["count"] for e in doc["evidence"] if e["source"] == source and e["method"] == method
        )
        return n > 0 if count is None else n == count

    return check


def _not(indication: str) -> Callable[[Doc], bool]:
    return lambda doc: doc["indication"] != indication


def _modified(i: int) -> Callable[[Doc], bool]:
    def check(doc: Doc) -> bool:
        sigs = _sigs(doc)
        return len(sigs) > i and (
            sigs[i]["integrity"] is None or sigs[i]["integrity"]["modifications"] != "NONE"
        )

    return check


def _reason(i: int, text: str, kind: str = "signature") -> Callable[[Doc], bool]:
    """Signature ``i`` (of ``kind``) names ``text`` among its reasons."""
    return lambda doc: any(text in r for r in _sigs(doc, kind)[i]["reasons"])


def _warned(i: int, text: str) -> Callable[[Doc], bool]:
    return lambda doc: any(text in w for w in _sigs(doc)[i]["warnings"])


def _no_change(*classes: str) -> Callable[[Doc], bool]:
    """No signature or timestamp reports a change of these classes after signing."""
    return lambda doc: (
        not any(m["class"] in classes for s in doc["signatures"] for m in s["modifications"])
    )


_TRUSTED_NO_REV = {None, "TRY_LATER"}  # pyHanko's tests ran without revocation checking

CHECKS: dict[str, list[Callable[[Doc], bool]]] = {
    "pades/pyhanko_minimal-signed-twice-both-created.pdf": [
        _counts(2, 0),
        _integrity(
            0,
            intact=True,
            valid=True,
            coverage="ENTIRE_REVISION",
            modifications="FORM_FILLING",
            docmdp_ok=True,
        ),
        _integrity(1, intact=True, valid=True, coverage="ENTIRE_FILE", modifications="NONE"),
    ],
    "pades/pyhanko_minimal-signed-twice-second-created.pdf": [
        _counts(2, 0),
        _integrity(0, modifications="FORM_FILLING", docmdp_ok=True),
        _integrity(1, modifications="NONE"),
    ],
    "attacks/pyhanko_form-update-override-appearance-stream.pdf": [
        _integrity(0, modifications="FORM_FILLING")
    ],
    "attacks/pyhanko_form-update-override-appearance-stream-sneaky.pdf": [
        _integrity(0, modifications="OTHER"),
        _reason(0, "/FooBar"),
    ],
    "attacks/pyhanko_cov_one-byterange.pdf": [_integrity(0, coverage="PARTIAL")],
    "attacks/pyhanko_cov_signature-gap-too-big.pdf": [
        _integrity(0, intact=True, valid=True, coverage="PARTIAL")
    ],
    "attacks/pyhanko_cov_tail-uncovered.pdf": [
        _integrity(0, intact=True, valid=True, coverage="PARTIAL")
    ],
    "attacks/pyhanko_cov_weird-byterange.pdf": [
        _integrity(0, intact=True, valid=True, coverage="PARTIAL")
    ],
    "attacks/dss_pdf-byterange-overlap.pdf": [
        _counts(2, 0),
        _any_sig(indication="TOTAL-FAILED", subindication="FORMAT_FAILURE"),
    ],
    "attacks/dss_pades-two-sig-copied-tst.pdf": [
        _counts(2, 0, 2),
        lambda d: sorted(s["timestamp"]["imprint_ok"] for s in _sigs(d)) == [False, True],
    ],
    "attacks/dss_dss-2236_hide.pdf": [_modified(0)],
    "attacks/shadow_hide_v2text_4_manipulated.pdf": [
        _integrity(0, modifications="OTHER"),
        _reason(0, "cannot judge harmless"),
        _reason(0, "page 1 /Annots"),
    ],
    "attacks/shadow_hnr_v1_4_manipulated.pdf": [
        _integrity(0, modifications="OTHER"),
        _reason(0, "cannot judge harmless"),
        _reason(0, "page tree changed"),
    ],
    "attacks/shadow_hnr_v1_3_signed.pdf": [
        _integrity(0, intact=True, valid=True, coverage="ENTIRE_FILE")
    ],
    "attacks/shadow_hide_v1_3_signed.pdf": [
        _integrity(0, intact=True, valid=True, coverage="ENTIRE_FILE")
    ],
    "attacks/dss_dss-2236_replace.pdf": [
        _modified(0),
        _warned(0, "form-fill"),
    ],
    "attacks/dss_pades-spoofing-replaced-reason.pdf": [
        _modified(0),
        _reason(0, "does not cover a whole revision"),
    ],
    "attacks/dss_BadEncodedCMS.pdf": [lambda d: d["indication"] == "NO_SIGNATURE"],
    "attacks/pyhanko_pdf-sig-with-econtent.pdf": [
        _any_sig(indication="TOTAL-FAILED", subindication="FORMAT_FAILURE")
    ],
    "pades/pyhanko_sig-no-signed-attrs.pdf": [
        _integrity(0, intact=True, valid=True, coverage="ENTIRE_FILE", modifications="NONE")
    ],
    "pades/dss_adbe_crl_signed.pdf": [
        _evidence("cms", "crl", 1),
        _counts(1, 2),
        _not("TOTAL-FAILED"),
        _no_change("other"),
    ],
    "pades/pyhanko_sig-with-ski-sid.pdf": [_integrity(0, intact=True, valid=True)],
    "attacks/dss_dss-2236_annotation-and-visible-change.pdf": [
        _counts(3, 0),
        _modified(0),
        _modified(1),
        _modified(2),
    ],
    "attacks/dss_pdf-removed-pages.pdf": [
        _any_sig(indication="TOTAL-FAILED", subindication="FORMAT_FAILURE")
    ],
    "attacks/dss_pdf-signed-corrupted.pdf": [_integrity(0, intact=False)],
    "attacks/dss_pdf-signed-original.pdf": [
        _integrity(0, intact=True, valid=True, modifications="NONE")
    ],
    "pades/dss_timestamped_and_signed.pdf": [
        _counts(1, 1, 0),
        _any_sig(level="B-B"),
    ],
    "pades/pyhanko_pades-with-old-style-signing-cert-attr-issser.pdf": [
        _integrity(0, intact=True, valid=True),
        lambda d: _sigs(d)[0]["subindication"] in _TRUSTED_NO_REV,
    ],
    "pades/pyhanko_pades-with-old-style-signing-cert-attr.pdf": [
        _integrity(0, intact=True, valid=True, coverage="ENTIRE_FILE", modifications="NONE"),
        lambda d: _sigs(d)[0]["subindication"] in _TRUSTED_NO_REV,
    ],
    "pades/dss_DSS-2821.pdf": [
        _counts(1, 1, 0),
        _any_sig(level="B-B"),
        _not("TOTAL-FAILED"),
        _no_change("other", "annotation"),
    ],
    "pades/dss_self-issued-qesig.pdf": [
        _any_sig(indication="INDETERMINATE", subindication="CERTIFICATE_CHAIN_GENERAL_FAILURE")
    ],
    "pades/dss_Signature-P-HU_NET-2.pdf": [lambda d: _sigs(d)[0]["integrity"]["valid"] is False],
    "pades/dss_PAdES-LT.pdf": [
        _counts(3, 1),
        _no_change("other", "annotation"),
    ],
    "pades/dss_Signature-P-HU_POL-3.pdf": [
        _evidence("dss", "crl", 3),
        _evidence("dss", "ocsp", 4),
        lambda d: not any(e["source"] == "cms" for e in d["evidence"]),
        _no_change("other"),
    ],
    "pades/dss_doc-firmado-LT.pdf": [
        _counts(1, 0, 1),
        lambda d: len(_sigs(d)[0]["timestamp"]["chain"]) == 3,
        _any_sig(level="B-LT"),
    ],
    "pades/dss_DSS-1983.pdf": [_counts(1, 1, 1)],
    "pades/dss_Signature-P-DE_SCI-4.pdf": [
        _counts(1, 1, 1),
        _evidence("dss", "ocsp"),
        lambda d: not any(e["method"] == "crl" for e in d["evidence"]),
        _not("TOTAL-FAILED"),
        _no_change("other"),
    ],
    "pades/dss_Test.signed_Certipost-2048-SHA512.extended-LTA.pdf": [_counts(1, 2)],
    "pades/pyhanko_pades-lta-dss-indirect-arrs-test.pdf": [
        lambda d: d["indication"] == "TOTAL-PASSED",
        _integrity(0, intact=True, valid=True, coverage="ENTIRE_REVISION"),
    ],
    "pades/pyhanko_pades-lta-dss-indirect-arrs-test-2.pdf": [
        _counts(2, 1),
        lambda d: all(s["indication"] == "TOTAL-PASSED" for s in _sigs(d)),
    ],
    "pades/dss_dss-1959_pades-revoc-removed-from-dss-dict.pdf": [
        _counts(1, 3, 1),
        # 2 revocation data in total: one was dropped from the latest DSS, found in an earlier
        # revision's; both in the DSS arrays (and their VRI entries)
        lambda d: sum(e["count"] for e in d["evidence"] if e["source"] == "dss") == 2,
        lambda d: not any(e["source"] == "cms" for e in d["evidence"]),
        # "the signature relates to 1": its signer's status is settled by embedded evidence
        lambda d: _sigs(d)[0]["chain"][0]["revocation"]["source"] in ("dss", "vri"),
        # "T-level and A-level technically valid": every token's imprint and signature check
        lambda d: all(
            s["timestamp"]["imprint_ok"] and s["timestamp"]["signature_ok"]
            for s in d["signatures"]
            if s["timestamp"] is not None
        ),
        # ... and none fails integrity: the later DSS updates modify the VRI entry of the
        # signature, which ltv tolerates (with a warning) as evidence is read from every revision
        lambda d: all(s["indication"] != "TOTAL-FAILED" for s in d["signatures"]),
    ],
    "pades/dss_Signature-P-FR_CS-5.pdf": [_evidence("vri", "crl")],
    "pades/dss_pades-5-signatures-and-1-document-timestamp.pdf": [_counts(5, 1)],
    "pades/dss_doc-firmado.pdf": [_counts(1, 1, 1)],
    "pades/dss_TestToSignPDFSHA256_TST_SIG_NOT_FOUND.pdf": [
        lambda d: _sigs(d)[0]["timestamp"]["signature_ok"] is False
    ],
    "pades/dss_pkcs7.pdf": [_counts(1, 0, 1)],
}


def _entries() -> list[Doc]:
    if not MANIFEST.is_file():
        return []
    manifest = json.loads(MANIFEST.read_text())
    return [e for e in manifest["entries"] if str(e["file"]).endswith(".pdf")]


def _anchors(entry: Doc) -> TrustStore:
    raw = entry.get("trust_anchors") or FALLBACK_ANCHOR
    names = raw if isinstance(raw, list) else [raw]
    paths: list[str] = []
    for name in names:
        name = str(name).removeprefix("trust/")
        paths.extend(sorted(glob.glob(str(CORPUS / "trust" / name))))
    return TrustStore.from_paths(paths)


def _time(entry: Doc) -> datetime | None:
    text = str(entry.get("expected") or "")
    for stamp, moment in (
        ("2021-01-05", datetime(2021, 1, 5, tzinfo=UTC)),
        ("2020-11-01", datetime(2020, 11, 1, tzinfo=UTC)),
        ("2021-07-15", datetime(2021, 7, 15, 9, 14, 40, tzinfo=UTC)),
    ):
        if stamp in text:
            return moment
    if str(entry["file"]).split("/")[-1].startswith("pyhanko_"):
        return datetime(2020, 11, 1, tzinfo=UTC)  # the clock pyHanko's fixtures were made at
    return None


ENTRIES = _entries()
TALLY.configure(
    pdfs=len(ENTRIES),
    skipped=len(SKIP),
    known=len(KNOWN_DISAGREEMENTS) + len(UNEVALUABLE),
)


@pytest.mark.skipif(not ENTRIES, reason="corpus manifest absent (../shared/corpus)")
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: str(e["file"]))
def test_corpus_entry(entry: Doc) -> None:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    name = str(entry["file"])
    data = (CORPUS / name).read_bytes()
    policy = ValidationPolicy(trust=_anchors(entry))
    report = Verifier(policy).verify(data, path=name, at=_time(entry), now=NOW)  # no traceback
    doc = report.to_dict()
    assert_schema(doc)
    assert report.network.requests == 0
    if name.startswith("attacks/"):
        assert doc["indication"] != "TOTAL-PASSED", f"attack file passed: {name}"
    if name in UNEVALUABLE:
        assert report.exit_code == 4 and report.error is not None, doc
        assert "\n" not in report.error and report.error.startswith("unreadable PDF")
    if name in SKIP:
        pytest.skip(SKIP[name])
    checks = CHECKS.get(name)
    assert checks is not None, f"no encoded expectation for {name}: add CHECKS or SKIP"
    agrees = all(_safe(check, doc) for check in checks)
    TALLY.record(name, agrees)
    known = KNOWN_DISAGREEMENTS.get(name) or UNEVALUABLE.get(name)
    if known is not None:
        if not agrees:
            pytest.xfail(known)
        pytest.fail(f"{name} now agrees: remove it from the known disagreements")
    assert agrees, f"{name}: report disagrees with: {entry.get('expected')}"


def _safe(check: Callable[[Doc], bool], doc: Doc) -> bool:
    try:
        return bool(check(doc))
    except (KeyError, IndexError, TypeError):
        return False
