"""Damaged files are read without rewriting them (issue 8).

Our own damaged fixtures, made from the committed B-LT sample: an update appended after the
signature whose cross-reference pointers are broken (``/Prev 0``, a ``startxref`` pointing into
the signature, object offsets that are off), and cut bytes inside the signed content. The
structure is located by scanning the original bytes (ltv.pipeline.repair): what is broken around
the signature is a warning; signed bytes that were cut are "not intact". Plus the two corpus
files pyHanko's reader cannot open.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ltv.policy import ValidationPolicy
from ltv.report import Indication, Report, SubIndication
from ltv.trust import TrustStore
from ltv.verify import Verifier
from tests.unit.pipeline import fixtures as fx

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
DAMAGED = "damaged PDF structure"


def _verify(data: bytes, policy: ValidationPolicy | None = None) -> Report:
    policy = policy or ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
    report = Verifier(policy).verify(data, now=NOW)
    fx.assert_schema(report.to_dict())
    return report


def _append_update(
    pdf: bytes, *, prev: int | None = None, startxref_delta: int = 0, offset_delta: int = 0
) -> bytes:
    """Append an incremental update that restates the catalog unchanged, with a cross-reference
    section whose /Prev, startxref or object offset can be wrong."""
    last_startxref = int(re.findall(rb"startxref\s+(\d+)\s+%%EOF", pdf)[-1])
    size = int(re.findall(rb"/Size (\d+)", pdf)[-1])
    root = re.findall(rb"/Root (\d+) 0 R", pdf)[-1]
    catalogs = re.findall(rb"(?<![0-9])" + root + rb" 0 obj\s*(<<.*?)endobj", pdf, re.S)
    body = b"\n" + root + b" 0 obj\n" + catalogs[-1].strip() + b"\nendobj\n"  # the newest
    obj_offset = len(pdf) + 1
    xref_offset = len(pdf) + len(body)
    xref = (
        b"xref\n0 1\n0000000000 65535 f \n"
        + root
        + b" 1\n%010d 00000 n \n" % (obj_offset + offset_delta)
        + b"trailer\n<< /Size %d /Root %s 0 R /Prev %d >>\n"
        % (size, root, last_startxref if prev is None else prev)
        + b"startxref\n%d\n%%%%EOF\n" % (xref_offset + startxref_delta)
    )
    return pdf + body + xref


@pytest.fixture(scope="module")
def good() -> bytes:
    return (SAMPLES / "good-b-lt.pdf").read_bytes()


def test_a_well_formed_update_is_the_baseline(good: bytes) -> None:
    report = _verify(_append_update(good))
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].reasons
    assert not any(DAMAGED in w for w in report.warnings)


@pytest.mark.parametrize(
    ("damage", "kwargs"),
    [
        ("/Prev 0", {"prev": 0}),
        ("startxref into the signature", {"startxref_delta": -9000}),
        ("startxref off by a few bytes", {"startxref_delta": 7}),
        ("object offset off", {"offset_delta": 5}),
    ],
)
def test_broken_pointers_after_the_signature_are_a_warning(
    good: bytes, damage: str, kwargs: dict[str, int]
) -> None:
    """The signature and everything it covers are intact; only the pointers of an update after
    it are broken. pyHanko's reader alone fails on some of these (exit 4 before)."""
    data = _append_update(good, **kwargs)
    report = _verify(data)
    (sig,) = report.signatures
    assert sig.integrity is not None and sig.integrity.intact and sig.integrity.valid, damage
    assert report.indication is Indication.TOTAL_PASSED, (damage, sig.reasons)
    assert report.exit_code == 0


def test_cut_bytes_in_the_signed_content_are_not_intact(good: bytes) -> None:
    """Five bytes cut from the page content: every later offset is wrong and the signed bytes
    differ. The file is still evaluated — and the signature is not intact."""
    pos = good.index(b") Tj")
    data = good[: pos - 5] + good[pos:]
    report = _verify(data)
    assert report.exit_code == 1, report.error
    (sig,) = report.signatures
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.subindication is SubIndication.HASH_FAILURE
    assert sig.integrity is not None and not sig.integrity.intact
    assert any(DAMAGED in w for w in report.warnings)


def test_the_input_bytes_are_what_is_hashed(good: bytes) -> None:
    """The reader is steered, never fed a repaired copy: a file with broken pointers keeps the
    digest of its raw bytes in the report."""
    import hashlib

    data = _append_update(good, prev=0)
    assert _verify(data).file.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
def test_corpus_files_pyhankos_reader_cannot_open() -> None:
    anchor = TrustStore.from_file(CORPUS / "trust" / "pyhanko_testing-ca_root.cer")
    policy = ValidationPolicy(trust=anchor)
    corrupted = _verify((CORPUS / "attacks" / "dss_pdf-signed-corrupted.pdf").read_bytes(), policy)
    (sig,) = corrupted.signatures
    assert sig.indication is Indication.TOTAL_FAILED and not sig.integrity.intact  # type: ignore[union-attr]
    assert any("past the end of the file" in r for r in sig.reasons)
    five = _verify(
        (CORPUS / "pades" / "dss_pades-5-signatures-and-1-document-timestamp.pdf").read_bytes(),
        policy,
    )
    kinds = [s.kind for s in five.signatures]
    assert kinds.count("signature") == 5 and kinds.count("document-timestamp") == 1
    assert all(s.integrity is not None and s.integrity.intact for s in five.signatures)
    assert any(DAMAGED in w for w in five.warnings)
