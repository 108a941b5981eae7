"""Committed findings stay fixed.

``cases/<target>/*.bin`` are inputs the fuzz campaign (``make fuzz``, fuzz/README.md) found to
crash, hang or mislead ltv; each is replayed through the same public API and oracle as the
target that found it (``fuzz.targets``), with the ``.txt`` beside it saying what it did. The
hand-made hostile files (``hostile.py``) are replayed here too, through the Verifier and inspect.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import fuzz.targets as T
from ltv import TrustStore, ValidationPolicy, Verifier
from ltv.errors import InputError
from ltv.inspect import inspect_bytes
from ltv.report import Indication
from samples import pki
from tests.regressions import hostile

CASES = Path(__file__).parent / "cases"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _cases() -> list[Path]:
    return sorted(CASES.glob("*/*.bin"))


@pytest.mark.parametrize("case", _cases(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fuzz_finding_stays_fixed(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(T, "FINDINGS_DIR", tmp_path)
    target = T.TARGETS[case.parent.name]
    what = case.with_suffix(".txt")
    found = T.one_input(target, case.read_bytes())
    detail = ""
    if found is not None:
        detail = next(tmp_path.rglob("*.txt")).read_text()
    assert found is None, f"{case.name} ({what.read_text().splitlines()[0]}): {detail}"


def test_regression_cases_are_small() -> None:
    """Committed findings are small (minimised or hand-cut), so the repository stays lean."""
    assert sum(p.stat().st_size for p in _cases()) < 2_000_000


# -- a validly signed PDF whose field name is a byte string (issue 7, finding 5) ----------------


def bytes_field_name_pdf() -> bytes:
    """Signed by signer-good in a field whose /T is ``<9f9f9f>``: neither UTF-16 (no BOM) nor
    PDFDocEncoding (0x9F is undefined there), so pyHanko reads it as a byte string."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from samples.make_samples import make_unsigned_pdf

    writer = IncrementalPdfFileWriter(io.BytesIO(make_unsigned_pdf()))
    fields.append_signature_field(writer, fields.SigFieldSpec(sig_field_name="QQSIGQQ"))
    buf = io.BytesIO()
    writer.write(buf)
    data = buf.getvalue().replace(b"(QQSIGQQ)", b"<9F9F9F >")  # same length: offsets hold
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    (name,) = [n for n, _, _ in fields.enumerate_sig_fields(reader)]
    assert isinstance(name, bytes)
    signer = signers.SimpleSigner.load(
        str(pki.key_path("signer-good")),
        str(pki.cert_path("signer-good")),
        ca_chain_files=[str(p) for p in pki.chain_paths("signer-good")],
    )
    meta = signers.PdfSignatureMetadata(
        field_name=name, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    signed = signers.PdfSigner(meta, signer).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)))
    return bytes(signed.getvalue())


def test_field_name_as_byte_string(tmp_path: Path) -> None:
    import subprocess
    import sys

    data = bytes_field_name_pdf()
    report = Verifier(ValidationPolicy(trust=TrustStore.from_file(pki.cert_path("root")))).verify(
        data, now=NOW
    )
    assert report.error is None
    (sig,) = report.signatures
    assert sig.field == "<9f9f9f>" and sig.integrity.intact
    assert sig.indication is Indication.INDETERMINATE  # B-B, no evidence: TRY_LATER
    json.dumps(report.to_dict())
    assert inspect_bytes(data)["pdf"]["signatures"][0]["field"] == "<9f9f9f>"
    path = tmp_path / "bytes-name.pdf"
    path.write_bytes(data)
    for args in (
        ["verify", str(path), str(path), "--trust", str(pki.cert_path("root"))],
        ["verify", str(path), "--trust", str(pki.cert_path("root")), "--format", "json"],
        ["inspect", str(path)],
        ["inspect", str(path), "--format", "json"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "ltv", *args], capture_output=True, text=True, check=False
        )
        assert proc.returncode in (0, 3), (args, proc.stderr)
        assert "<9f9f9f>" in proc.stdout and "internal error" not in proc.stderr


# -- hand-made hostile files -------------------------------------------------------------------

HOSTILE = {
    "huge-declared-xref": hostile.huge_declared_xref,
    "deep-nesting": hostile.deep_nesting,
    "deep-nesting-interleaved": lambda: hostile.deep_nesting(5000, filler=b"0 "),
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_file_is_a_verdict_never_a_crash(make: object) -> None:
    data = make()  # type: ignore[operator]
    report = T.verifier().verify(data, now=NOW)
    assert report.exit_code == 4 and "internal error" not in (report.error or "")
    with pytest.raises(InputError, match="limit max_"):
        inspect_bytes(data)
