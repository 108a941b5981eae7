"""Large payloads read lazily (ltv.pipeline.lazy) change nothing but memory.

The differential: every committed sample and the corpus files verified once as usual and once
with *every* payload larger than 16 bytes left on disk (so every content stream, every DSS entry
and every image goes through the lazy path, including copies made by pyHanko's historical
resolver in the difference analysis) — the reports must be identical.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

import ltv.pipeline.lazy as lazy
from ltv.policy import ValidationPolicy
from ltv.trust import TrustStore
from ltv.verify import Verifier
from tests.unit.pipeline import fixtures as fx

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "corpus"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)

FILES = sorted(ROOT.glob("samples/*.pdf")) + sorted(
    p
    for p in (CORPUS.glob("*/*.pdf") if CORPUS.is_dir() else [])
    if p.name
    in {
        "dss_Signature-P-DE_SCI-4.pdf",
        "dss_PAdES-LT.pdf",
        "pyhanko_pades-lta-dss-indirect-arrs-test-2.pdf",
        "dss_pades-5-signatures-and-1-document-timestamp.pdf",
        "shadow_hnr_v1_4_manipulated.pdf",
        "pyhanko_minimal-signed-twice-both-created.pdf",
    }
)


def _reports(monkeypatch: pytest.MonkeyPatch, threshold: int) -> list[dict[str, object]]:
    monkeypatch.setattr(lazy, "DEFAULT_THRESHOLD", threshold)
    monkeypatch.setattr(lazy.DeferringStream.__init__, "__defaults__", (threshold,))
    anchors = [fx._pki().cert_path("root"), fx._pki().cert_path("tsa-root")]
    if CORPUS.is_dir():
        anchors.append(CORPUS / "trust" / "pyhanko_testing-ca_root.cer")
    verifier = Verifier(ValidationPolicy(trust=TrustStore.from_paths(anchors)))
    return [verifier.verify(f, now=NOW).to_dict() for f in FILES]


def test_lazy_payloads_give_identical_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    eager = _reports(monkeypatch, 1 << 40)
    deferred = _reports(monkeypatch, 16)
    assert len(eager) == len(FILES) >= 9
    for path, a, b in zip(FILES, eager, deferred, strict=True):
        assert a == b, path.name


def test_deferring_stream_defers_only_large_object_reads(tmp_path: Path) -> None:
    data = b"1 0 obj\n<< /Length 1000 >>\nstream\n" + b"0123456789" * 100 + b"\nendstream"
    start = data.index(b"stream\n") + 7
    stream = lazy.DeferringStream(io.BytesIO(data), threshold=50)
    stream.seek(start)
    assert stream.read(100) == data[start : start + 100]  # not deferring outside an object read
    stream.deferring = 1
    stream.seek(start - 20)
    assert stream.read(100) == data[start - 20 : start + 80]  # not a payload read: real
    stream.seek(start)
    placeholder = stream.read(1000)
    assert placeholder == b"" and stream.tell() == start + 1000
    assert stream.read_at(start, 1000) == data[start : start + 1000]
    assert stream.tell() == start + 1000
    assert stream.read(10) == b"\nendstream"  # small reads are real
