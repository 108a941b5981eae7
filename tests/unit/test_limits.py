"""Resource limits (issue 7, finding 2): one test per limit, and the 10⁹-entry xref measured in a
subprocess for ``ltv verify`` and ``ltv inspect`` (< 5 s, < 300 MB)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ltv import TrustStore, ValidationPolicy, Verifier
from ltv.errors import InputError, PolicyError
from ltv.inspect import inspect_bytes
from ltv.limits import DEFAULT_LIMITS, LimitError, Limits, check_pdf, screen_evidence
from ltv.policy import policy_from_mapping
from ltv.report import Indication
from samples import pki
from tests.regressions import hostile

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _verify(data: bytes, **limits: int) -> object:
    policy = ValidationPolicy(
        trust=TrustStore.from_file(pki.cert_path("root")),
        tsa_trust=TrustStore.from_file(pki.cert_path("tsa-root")),
        limits=Limits(**limits),  # type: ignore[arg-type]
    )
    return Verifier(policy).verify(data, now=NOW)


def _not_evaluated(report: object, limit: str) -> None:
    assert report.exit_code == 4 and report.signatures == (), report  # type: ignore[attr-defined]
    error = report.error or ""  # type: ignore[attr-defined]
    assert error.startswith("could not be evaluated: ") and f"(limit {limit})" in error, error


# -- the finding itself, measured as a user meets it ---------------------------------------------

_MEASURE = textwrap.dedent(
    """
    import resource, subprocess, sys, time
    start = time.monotonic()
    proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)
    print(proc.returncode, time.monotonic() - start,
          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, repr(proc.stderr))
    """
)


@pytest.mark.parametrize("command", ["verify", "inspect"])
def test_huge_declared_xref_is_refused_fast_and_small(tmp_path: Path, command: str) -> None:
    path = tmp_path / "huge-xref.pdf"
    path.write_bytes(hostile.huge_declared_xref())  # 107 kB declaring 1,000,000,014 entries
    ltv = [sys.executable, "-m", "ltv", command, str(path)]
    if command == "verify":
        ltv += ["--trust", str(pki.cert_path("root"))]
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *ltv], capture_output=True, text=True, check=True
    ).stdout.split(" ", 3)
    code, seconds, max_rss_kib, stderr = int(out[0]), float(out[1]), int(out[2]), out[3]
    assert code == 4
    assert "declares 1000000014 entries" in stderr and "(limit max_objects)" in stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    assert seconds < 5, seconds
    assert max_rss_kib < 300 * 1024, max_rss_kib


# -- one test per limit -------------------------------------------------------------------------


def test_max_input_bytes() -> None:
    good = (SAMPLES / "good-b-lt.pdf").read_bytes()
    _not_evaluated(_verify(good, max_input_bytes=len(good) - 1), "max_input_bytes")
    assert _verify(good, max_input_bytes=len(good)).indication is Indication.TOTAL_PASSED


def test_max_objects_absolute_and_relative_to_the_file() -> None:
    _not_evaluated(_verify(hostile.huge_declared_xref()), "max_objects")
    # fewer than the policy allows, but more entries than the file has bytes
    small = hostile.huge_declared_xref(size=500_000, pad_to=0)
    with pytest.raises(LimitError, match="more than the file has bytes"):
        check_pdf(small)
    # a trailer /Size beyond the policy
    lta = (SAMPLES / "good-b-lta.pdf").read_bytes()
    _not_evaluated(_verify(lta, max_objects=5), "max_objects")


def test_max_decompression_ratio_of_declared_xref_rows() -> None:
    data = hostile.huge_declared_xref(size=1_500_000, pad_to=1_600_000)
    with pytest.raises(LimitError) as err:
        check_pdf(data)
    assert err.value.limit == "max_decompression_ratio"
    check_pdf(data, Limits(max_decompression_ratio=1_000_000))  # the same rows, allowed


def test_max_revisions() -> None:
    lta = (SAMPLES / "good-b-lta.pdf").read_bytes()
    _not_evaluated(_verify(lta, max_revisions=2), "max_revisions")
    assert _verify(lta).indication is Indication.TOTAL_PASSED


def test_max_signatures() -> None:
    lta = (SAMPLES / "good-b-lta.pdf").read_bytes()  # a signature and a document timestamp
    _not_evaluated(_verify(lta, max_signatures=1), "max_signatures")


@pytest.mark.parametrize(
    "data",
    [
        hostile.deep_nesting(5000),  # "[[[[...": found by the raw scan
        hostile.deep_nesting(5000, filler=b"1 "),  # "[1 [1 [1 ...": the parser's stack bound
    ],
    ids=["run", "interleaved"],
)
def test_max_depth(data: bytes) -> None:
    _not_evaluated(_verify(data), "max_depth")
    with pytest.raises(InputError, match=r"\(limit max_depth\)"):
        inspect_bytes(data)


def test_max_stream_bytes_declared_length_beyond_the_file() -> None:
    data = hostile.deep_nesting(3).replace(b"endobj", b"endobj", 1)
    data += b"9 0 obj\n<< /Length 99999999999 >>\nstream\nxx\nendstream\nendobj\n"
    _not_evaluated(_verify(data), "max_stream_bytes")


def test_zlib_bomb_in_a_dss_stream_is_an_unreadable_entry() -> None:
    """Only decoding reveals a bomb: pyHanko's decode limits get the policy's values; the
    entry is unreadable (a warning), the signature is judged on the rest."""
    good = (SAMPLES / "good-b-lt.pdf").read_bytes()
    data = hostile.append_dss_raw(good, ocsps=[b"\x00" * 20 * 1024 * 1024], compress=True)
    report = _verify(data, max_stream_bytes=8 * 1024 * 1024)
    assert report.indication is Indication.TOTAL_PASSED, report.to_dict()
    assert any("unreadable entry (PdfDecodeLimitError)" in w for w in report.warnings)


@pytest.mark.parametrize("kind", ["ocsp", "crl"])
def test_max_evidence_bytes_item_ignored_with_a_warning(kind: str) -> None:
    """Over max_ocsp_bytes / max_crl_bytes: that item is ignored (a warning), not the file."""
    good = (SAMPLES / "good-b-lt.pdf").read_bytes()
    if kind == "ocsp":
        report = _verify(good, max_ocsp_bytes=64)
        assert report.error is None and report.signatures
        assert any("more than the limit max_ocsp_bytes" in w for w in report.warnings)
        # the signer's evidence is gone: offline, never TOTAL-PASSED on nothing
        assert report.indication is Indication.INDETERMINATE
    else:
        assert screen_evidence("crl", b"\x30" * 100, Limits(max_crl_bytes=10)) == (
            "100 bytes, more than the limit max_crl_bytes (10)"
        )


def test_sample_pdfs_and_corpus_pass_the_default_limits() -> None:
    paths = sorted(SAMPLES.glob("*.pdf"))
    corpus = ROOT.parent / "shared" / "corpus"
    paths += sorted(corpus.rglob("*.pdf")) if corpus.is_dir() else []
    for path in paths:
        check_pdf(path.read_bytes(), DEFAULT_LIMITS)
    with (SAMPLES / "good-b-lta.pdf").open("rb") as fh:  # a file object is mapped, not read
        check_pdf(fh)


# -- policy ------------------------------------------------------------------------------------


def test_limits_table_in_the_policy() -> None:
    policy = policy_from_mapping({"limits": {"max_objects": 10, "max_decompression_ratio": 5.5}})
    assert policy.limits.max_objects == 10 and policy.limits.max_decompression_ratio == 5.5
    assert policy.limits.max_depth == DEFAULT_LIMITS.max_depth
    with pytest.raises(PolicyError, match="unknown key"):
        policy_from_mapping({"limits": {"max_everything": 1}})
    with pytest.raises(PolicyError, match="max_objects: a positive integer"):
        policy_from_mapping({"limits": {"max_objects": 0}})
    schema = json.loads((ROOT / "schemas" / "policy.schema.json").read_text())
    assert set(schema["properties"]["limits"]["properties"]) == set(Limits.__dataclass_fields__)


def test_inspect_refuses_an_oversized_file_before_reading_it(tmp_path: Path) -> None:
    from ltv.inspect import inspect_path

    big = tmp_path / "big.pdf"
    with big.open("wb") as fh:  # sparse: costs no disk
        fh.truncate(DEFAULT_LIMITS.max_input_bytes + 1)
    with pytest.raises(InputError, match=r"\(limit max_input_bytes\)"):
        inspect_path(big)


@pytest.mark.parametrize("shift", [-200, -20, 0, 20, 200])
def test_a_file_is_scanned_in_windows_with_the_same_findings(shift: int) -> None:
    """A file (a stream, not bytes) is scanned in 8 MiB windows with context on each side, so
    the scan never holds the whole file (verify of a 1 GB PDF stays near 100 MB). What straddles
    a window boundary — the xref dictionary, a nesting run — is found as in one piece."""
    import io

    from ltv import limits as limits_module

    boundary = limits_module._WINDOW
    hostile_pdf = hostile.huge_declared_xref(pad_to=0)
    at = hostile_pdf.index(b"/Type /XRef")
    padding = b"%" + b"x" * (boundary + shift - at - 2) + b"\n"
    data = (
        hostile_pdf[:9] + padding + hostile_pdf[9:]
    )  # the xref dictionary moves onto the boundary
    assert abs(data.index(b"/Type /XRef") - boundary) <= 250
    with pytest.raises(LimitError, match="max_objects"):
        check_pdf(data)  # bytes: one piece
    with pytest.raises(LimitError, match="max_objects"):
        check_pdf(io.BytesIO(data))  # a stream: windows
    deep = b"%PDF-1.7\n%" + b"x" * (boundary + shift - 60) + b"\n" + b"[" * 150
    with pytest.raises(LimitError, match="max_depth"):
        check_pdf(io.BytesIO(deep))
