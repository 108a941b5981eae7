"""The producer matrix: ltv's B-LT/B-LTA samples (approval, and certification at P=1/2/3),
updated by other real incremental writers, each with a harmless change, an annotation, a form
fill and a page-content change — every cell gets the verdict of the decision table
(docs/decisions.md, "Modification analysis").

Writers: pypdf's ``PdfWriter(incremental=True)``; pyHanko's ``IncrementalPdfFileWriter`` with the
file's xref tables and with an xref stream + object streams (its harmless change: a DSS and a
document timestamp); a hand-written update that also frees object numbers nothing ever used; a
hand-written update in the other xref form. The matrix is built once per module.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from ltv.policy import ValidationPolicy
from ltv.report import Indication, Report, SignatureReport, SubIndication
from ltv.verify import Verifier
from tests.unit import producers as pr
from tests.unit.pipeline import fixtures as fx

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
T_LTA = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)

BASES = ("approval-b-lt", "approval-b-lta", "certified-p1", "certified-p2", "certified-p3")
WRITERS = ("pypdf", "pyhanko-xref-table", "pyhanko-objstm", "hand-free-unused", "hand-xref-convert")
CHANGES = ("harmless", "annotation", "form-fill", "page-content")
HARMLESS_CLASS = {
    "pypdf": {"metadata"},
    "pyhanko-xref-table": {"dss", "timestamp"},
    "pyhanko-objstm": {"dss", "timestamp"},
    "hand-free-unused": {"structural"},
    "hand-xref-convert": {"structural"},
}
CHANGE_CLASS = {"annotation": "annotation", "form-fill": "form-fill", "page-content": "other"}
DOCMDP = {"certified-p1": 1, "certified-p2": 2, "certified-p3": 3}

PASSED, WARNED, INDETERMINATE, FAILED = "passed", "passed-with-warning", "indeterminate", "failed"


def expected(base: str, change: str) -> str:
    """The decision table, for this matrix."""
    p = DOCMDP.get(base)
    if change == "harmless":
        return PASSED  # dss, timestamp, metadata, structural: allowed even at P=1
    if change == "page-content":
        return FAILED if p is not None else INDETERMINATE
    if change == "annotation":
        return FAILED if p in (1, 2) else WARNED
    return FAILED if p == 1 else WARNED  # form-fill


def _bases() -> dict[str, bytes]:
    unsigned = pr.unsigned_with_field()
    out: dict[str, bytes] = {}
    for base in BASES:
        b_lt = pr.sign_b_lt(unsigned, docmdp=DOCMDP.get(base))
        out[base] = fx.doc_timestamp(b_lt, fx.T_DOC_TS) if base == "approval-b-lta" else b_lt
    return out


def _crls() -> list[bytes]:
    from ltv.pipeline.extract import extract

    other = fx.get_fixtures()["unknown-plus-crl"]  # holds the CRL of the sample intermediate
    return [e.der for e in extract(other).evidence if e.kind == "crl"]


def _lta(w: Any, restore: Any) -> bytes:
    """pyHanko's harmless update: a DSS update (a CRL more) and a document timestamp."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign import signers
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    from samples import pki

    DocumentSecurityStore.supply_dss_in_writer(
        w,
        None,
        certs=[pki.load_cert(label) for label in ("tsa", "tsa-root")],
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in pr.evidence()],
        crls=[asn1_crl.CertificateList.load(c) for c in _crls()],
    )
    if restore is not None:
        restore()  # the signature dictionary must not go into an object stream
    out = signers.PdfTimeStamper(fx._tsa(T_LTA)).timestamp_pdf(w, md_algorithm="sha256")
    return bytes(out.getvalue())


def _write(writer: str, data: bytes, change: str) -> bytes:
    match writer:
        case "pypdf":
            return pr.pypdf_update(data, change)
        case "pyhanko-xref-table":
            return pr.pyhanko_update(data, change, object_streams=False, lta=_lta)
        case "pyhanko-objstm":
            return pr.pyhanko_update(data, change, object_streams=True, lta=_lta)
        case "hand-free-unused":
            return pr.hand_update(data, change, mode="free-unused")
        case "hand-xref-convert":
            return pr.hand_update(data, change, mode="xref-convert")
    raise ValueError(writer)  # pragma: no cover


@pytest.fixture(scope="module")
def matrix() -> dict[tuple[str, str, str], tuple[int, Report]]:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    bases = _bases()
    verifier = Verifier(ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store()))
    out = {}
    for base, signed in bases.items():
        for writer in WRITERS:
            for change in CHANGES:
                data = _write(writer, signed, change)
                assert data.startswith(signed)  # an incremental update: signed bytes kept
                first = _revisions(signed)  # the first revision the writer added
                out[(base, writer, change)] = (first, verifier.verify(data, now=NOW))
    return out


def _revisions(data: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(io.BytesIO(data), strict=False).xrefs.total_revisions)


def _sig(report: Report) -> SignatureReport:
    (sig,) = [s for s in report.signatures if s.field == "Sig1"]
    return sig


CELLS = [(b, w, c) for b in BASES for w in WRITERS for c in CHANGES]


@pytest.mark.parametrize(("base", "writer", "change"), CELLS, ids=["/".join(c) for c in CELLS])
def test_cell(
    matrix: dict[tuple[str, str, str], tuple[int, Report]], base: str, writer: str, change: str
) -> None:
    first, report = matrix[(base, writer, change)]
    fx.assert_schema(report.to_dict())
    sig = _sig(report)
    in_update = {m.cls for m in sig.modifications if m.revision >= first}
    want = expected(base, change)
    context = (base, writer, change, sig.indication, sig.subindication, sig.reasons, in_update)

    # the update is classified as what it is
    if change == "harmless":
        assert HARMLESS_CLASS[writer] <= in_update, context
    else:
        assert CHANGE_CLASS[change] in in_update, context
    if change != "page-content":
        assert "other" not in {m.cls for m in sig.modifications}, (context, sig.modifications)
    if writer == "hand-free-unused":
        assert any("free xref entries" in d for m in sig.modifications for d in m.details)
    if writer == "hand-xref-convert":
        assert any(" instead of xref " in d for m in sig.modifications for d in m.details)

    mod_warnings = [w for w in sig.warnings if "changed after signing" in w]
    if want == PASSED:
        assert sig.indication is Indication.TOTAL_PASSED, context
        assert report.indication is Indication.TOTAL_PASSED, context
        assert not mod_warnings, context
        assert all(m.allowed for m in sig.modifications), sig.modifications
    elif want == WARNED:
        assert sig.indication is Indication.TOTAL_PASSED, context
        assert report.indication is Indication.TOTAL_PASSED, context
        named = "field 'Name'" if change == "form-fill" else "annotation"
        assert any(named in w for w in mod_warnings), (context, sig.warnings)
    elif want == INDETERMINATE:
        assert sig.indication is Indication.INDETERMINATE, context
        assert sig.subindication is SubIndication.SIG_CONSTRAINTS_FAILURE, context
        assert report.indication is Indication.INDETERMINATE, context
        assert any("page 1" in r and "cannot judge" in r for r in sig.reasons), context
        (other,) = [m for m in sig.modifications if m.cls == "other"]
        assert not other.allowed and other.restriction is None
    else:
        assert sig.indication is Indication.TOTAL_FAILED, context
        assert sig.subindication is SubIndication.FORMAT_FAILURE, context
        p = DOCMDP[base]
        assert any(f"DocMDP P={p}" in r for r in sig.reasons), context
        forbidden = [m for m in sig.modifications if m.restriction is not None]
        assert forbidden and all(not m.allowed for m in forbidden)
        assert {m.cls for m in forbidden} == {CHANGE_CLASS[change]}, forbidden
    # a document timestamp before the change is judged by the same table (no restriction)
    for doc in (s for s in report.signatures if s.kind == "document-timestamp"):
        if doc.revision is not None and doc.revision < first:
            if change == "page-content":
                assert doc.indication is Indication.INDETERMINATE, doc.reasons
            else:
                assert doc.indication is Indication.TOTAL_PASSED, doc.reasons


def test_the_matrix_covers_the_decision_table() -> None:
    verdicts = {expected(b, c) for b in BASES for c in CHANGES}
    assert verdicts == {PASSED, WARNED, INDETERMINATE, FAILED}
    assert len(CELLS) == 100
