"""(1) extract: evidence from every revision's DSS, with where it was found."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

import pytest

from ltv.pipeline.extract import extract
from ltv.policy import ValidationPolicy
from ltv.report import Indication, Level
from ltv.verify import Verifier
from tests.unit.pipeline import fixtures as fx

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pdfs() -> dict[str, bytes]:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    return fx.get_fixtures()


def _drop_dss_revinfo(data: bytes) -> bytes:
    """An incremental update that empties /DSS /OCSPs /CRLs and the VRI (as in DSS-1959)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(data))
    dss_ref = w.root.raw_get("/DSS")
    dss = dss_ref.get_object()
    dss["/OCSPs"] = generic.ArrayObject()
    dss["/CRLs"] = generic.ArrayObject()
    if "/VRI" in dss:
        del dss["/VRI"]
    w.mark_update(dss_ref)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_evidence_from_every_revision(pdfs: dict[str, bytes]) -> None:
    before = extract(pdfs["good-b-lt"])
    data = _drop_dss_revinfo(pdfs["good-b-lt"])
    ex = extract(data)
    assert ex.revisions == before.revisions + 1
    # the latest DSS holds no OCSP response, yet all of them are still found, in the DSS
    assert sorted(e.der for e in ex.evidence) == sorted(e.der for e in before.evidence)
    assert all(e.sources == ("dss",) for e in ex.evidence)
    assert all(e.revision is not None and e.revision < ex.revisions - 1 for e in ex.evidence)


def test_dropped_evidence_still_settles(pdfs: dict[str, bytes]) -> None:
    data = fx.doc_timestamp(_drop_dss_revinfo(pdfs["good-b-lt"]), fx.T_DOC_TS)
    policy = ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
    report = Verifier(policy).verify(data, now=NOW)
    fx.assert_schema(report.to_dict())
    assert report.indication is Indication.TOTAL_PASSED, report.to_dict()
    (s,) = [s for s in report.signatures if s.kind == "signature"]
    assert s.level is Level.B_LTA
    assert s.chain[0].revocation.source == "dss"
