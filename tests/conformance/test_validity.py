"""Validity as the origin states it (issue 8): a file its origin calls valid is never TOTAL-FAILED.

Counts can agree while the verdict is wrong in the worst direction ("forged" about a document
nobody altered): this checks the verdict itself. Each entry quotes the statement of validity
from the corpus manifest. Files are judged with the anchors the original test configured (or
none that fits) at a fixed time; without their PKI a real-world file honestly ends INDETERMINATE
— that is allowed, TOTAL-FAILED is not: no trust anchor and no time makes intact bytes altered.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ltv.policy import ValidationPolicy
from ltv.report import Indication
from ltv.trust import TrustStore
from ltv.verify import Verifier
from tests.unit.pipeline import fixtures as fx

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"
NOW = datetime(2026, 11, 28, tzinfo=UTC)

VALID: dict[str, str] = {
    "pades/pyhanko_minimal-signed-twice-both-created.pdf": "both signatures intact and valid",
    "pades/pyhanko_minimal-signed-twice-second-created.pdf": "sig 1 FORM_FILLING + docmdp_ok",
    "attacks/pyhanko_form-update-override-appearance-stream.pdf": "benign counterpart: "
    "modification_level FORM_FILLING",
    "attacks/dss_pdf-signed-original.pdf": "reference good file: intact, valid, no modifications",
    "pades/pyhanko_sig-no-signed-attrs.pdf": "val_untrusted passes (intact, valid)",
    "pades/pyhanko_sig-with-ski-sid.pdf": "val_untrusted passes",
    "pades/dss_adbe_crl_signed.pdf": "T-level and A-level technically valid",
    "pades/pyhanko_pades-with-old-style-signing-cert-attr-issser.pdf": "val_trusted",
    "pades/pyhanko_pades-with-old-style-signing-cert-attr.pdf": "val_trusted, bottom_line True",
    "pades/dss_DSS-2821.pdf": "object modifications detected but no annotation/undefined changes",
    "pades/dss_PAdES-LT.pdf": "B-level valid; DSS changes only, no undefined changes",
    "pades/dss_Signature-P-HU_POL-3.pdf": "modifications limited to DSS, no undefined changes",
    "pades/dss_DSS-1983.pdf": "T and A-level technically valid",
    "pades/dss_Signature-P-DE_SCI-4.pdf": "T-level and A-level technically valid",
    "pades/dss_Test.signed_Certipost-2048-SHA512.extended-LTA.pdf": "T and A-level valid",
    "pades/pyhanko_pades-lta-dss-indirect-arrs-test.pdf": "AdES bottom_line True",
    "pades/pyhanko_pades-lta-dss-indirect-arrs-test-2.pdf": "both val_trusted",
    "pades/dss_dss-1959_pades-revoc-removed-from-dss-dict.pdf": "T and A-level technically valid",
    "pades/dss_Signature-P-FR_CS-5.pdf": "T-level and A-level technically valid",
    "pades/dss_doc-firmado.pdf": "PAdES-BASELINE-T with the test's anchor",
    "pades/dss_doc-firmado-LT.pdf": "PAdES-BASELINE-LT with the test's anchor",
}

PENDING: dict[str, str] = {}
"""Entries that still fail, with the reason (none left)."""


def _entries() -> dict[str, dict[str, object]]:
    if not (CORPUS / "manifest.json").is_file():
        return {}
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return {e["file"]: e for e in manifest["entries"]}


def _policy(entry: dict[str, object]) -> ValidationPolicy:
    anchors = entry.get("trust_anchors") or "pyhanko_testing-ca_root.cer"
    names = [anchors] if isinstance(anchors, str) else list(anchors)  # type: ignore[arg-type]
    paths = [
        p for n in names for p in sorted((CORPUS / "trust").glob(str(n).replace("trust/", "")))
    ]
    return ValidationPolicy(trust=TrustStore.from_paths(paths))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_per_origin_is_never_total_failed(name: str) -> None:
    if name in PENDING:
        pytest.xfail(PENDING[name])
    entry = _entries()[name]
    report = Verifier(_policy(entry)).verify(CORPUS / name, now=NOW)
    fx.assert_schema(report.to_dict())
    assert report.signatures, report.error
    failed = [
        (s.field, s.subindication, s.reasons)
        for s in report.signatures
        if s.indication is Indication.TOTAL_FAILED
    ]
    assert not failed, f"{name}: origin says {VALID[name]!r}; ltv says {failed}"
