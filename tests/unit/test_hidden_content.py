"""Content a repairing viewer would show that no cross-reference section explains.

Incremental-saving attacks append objects without a cross-reference section (or before a copy
of the old ``startxref``/``%%EOF``): a strict reader sees the signed revision as the last one and
no change at all, while viewers that rebuild the structure by scanning take the *last*
definition of each object. ltv reports such content as a change no rule explains (ISO 32000-2
§7.5.6 incremental updates must come with a cross-reference section): never TOTAL-PASSED.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ltv.policy import ValidationPolicy
from ltv.report import Indication, Report, SubIndication
from ltv.verify import Verifier
from tests.unit.pipeline import fixtures as fx

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def _verify(data: bytes) -> Report:
    report = Verifier(ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())).verify(
        data, now=NOW
    )
    fx.assert_schema(report.to_dict())
    return report


@pytest.fixture(scope="module")
def good() -> bytes:
    return (SAMPLES / "good-b-lt.pdf").read_bytes()


def _content_object(pdf: bytes) -> bytes:
    """The number of the page's content stream (the sample's single page)."""
    m = re.search(rb"/Contents (\d+) 0 R", pdf)
    assert m is not None
    return m.group(1)


def test_harmless_bytes_after_the_end_are_not_a_change(good: bytes) -> None:
    for tail in (b"\n\n", b"\r\n\x00\x00\x00", b"% a comment a producer left\n"):
        report = _verify(good + tail)
        assert report.indication is Indication.TOTAL_PASSED, (tail, report.signatures[0].reasons)


def test_object_redefined_without_xref_before_a_copied_eof(good: bytes) -> None:
    """The page content redefined after the signature, then the old startxref copied so that a
    strict reader sees nothing new. A repairing viewer shows the new text."""
    num = _content_object(good)
    last = re.findall(rb"startxref\s+\d+\s+%%EOF\s*", good)[-1]
    evil = b"BT /F1 12 Tf 72 720 Td (PAY 1000000 EUR) Tj ET"
    body = b"\n%s 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (num, len(evil), evil)
    report = _verify(good + body + last)
    (sig,) = report.signatures
    assert sig.integrity is not None and sig.integrity.intact  # the signed revision is intact
    assert sig.indication is Indication.INDETERMINATE
    assert sig.subindication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert any("defined again" in r for r in sig.reasons), sig.reasons
    assert [m.cls for m in sig.modifications if not m.allowed] == ["other"]


def test_objects_appended_after_the_last_eof(good: bytes) -> None:
    num = _content_object(good)
    body = b"%s 0 obj\n<< /Length 5 >>\nstream\nhello\nendstream\nendobj\n" % num
    report = _verify(good + body)
    (sig,) = report.signatures
    assert sig.indication is Indication.INDETERMINATE, sig.reasons
    assert any("no cross-reference section covers" in r for r in sig.reasons)
