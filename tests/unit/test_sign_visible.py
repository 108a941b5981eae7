"""Visible signatures, checked by rendering the page with poppler's pdftoppm.

The signed page is rendered next to the unsigned one: every pixel that changed must lie inside
the signature's box, and enough of them must have changed there for text to have been drawn.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ltv.errors import UsageError
from ltv.sign import PadesLevel, Signer, SigningPolicy, VisibleSignature
from samples import pki
from samples.make_samples import make_unsigned_pdf
from tests.cli_in_process import run_cli

UNSIGNED = make_unsigned_pdf()
PDFTOPPM = shutil.which("pdftoppm")
needs_pdftoppm = pytest.mark.skipif(
    PDFTOPPM is None, reason="pdftoppm (Debian poppler-utils) missing: run `make sysdeps` as root"
)
Box = tuple[float, float, float, float]


def render(pdf: bytes, tmp: Path, name: str) -> tuple[int, int, bytes]:
    """Page 1 at 72 dpi, greyscale: (width, height, one byte per pixel, top row first)."""
    assert PDFTOPPM is not None
    src = tmp / f"{name}.pdf"
    src.write_bytes(pdf)
    subprocess.run(
        [PDFTOPPM, "-gray", "-r", "72", "-f", "1", "-l", "1", "-singlefile", str(src),
         str(tmp / name)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    data = (tmp / f"{name}.pgm").read_bytes()
    magic, width, height, maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P5" and maxval == b"255"
    return int(width), int(height), pixels[: int(width) * int(height)]


def changed_pixels(before: bytes, after: bytes, tmp: Path) -> tuple[int, list[tuple[int, int]]]:
    """(page height, the (x, y) in PDF points — origin bottom-left — of every changed pixel)."""
    w, h, a = render(before, tmp, "before")
    w2, h2, b = render(after, tmp, "after")
    assert (w, h) == (w2, h2)
    return h, [(i % w, h - 1 - i // w) for i in range(w * h) if a[i] != b[i]]


def inside(points: list[tuple[int, int]], box: Box, slack: int = 1) -> bool:
    x1, y1, x2, y2 = box
    return all(x1 - slack <= x <= x2 + slack and y1 - slack <= y <= y2 + slack for x, y in points)


def b_b_signer() -> Signer:
    return Signer.from_pkcs12(
        pki.SIGNER_GOOD_P12, pki.P12_PASSPHRASE, policy=SigningPolicy(level=PadesLevel.B_B)
    )


def _streams(stream: Any) -> Iterator[bytes]:
    yield stream.data
    for x in stream.get("/Resources", {}).get("/XObject", {}).values():
        yield from _streams(x.get_object())


def appearance_text(pdf: bytes, field: str) -> str:
    """The text of a signature field's normal appearance (PDF octal escapes decoded)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    reader = PdfFileReader(io.BytesIO(pdf))
    for name, _value, ref in enumerate_sig_fields(reader):
        if name == field:
            raw = b"\n".join(_streams(ref.get_object()["/AP"]["/N"])).decode("latin-1")
            return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), raw)
    raise AssertionError(f"no field {field}")


@needs_pdftoppm
def test_visible_signature_draws_text_inside_its_box_only(tmp_path: Path) -> None:
    box: Box = (36, 36, 300, 120)
    signed = b_b_signer().sign(
        UNSIGNED, field="Approval", reason="Approved", visible=VisibleSignature(1, box)
    )
    _, points = changed_pixels(UNSIGNED, signed, tmp_path)
    assert len(points) > 300, "no text was drawn"
    assert inside(points, box)
    text = appearance_text(signed, "Approval")
    for needle in ("Digitally signed by Signer Good", "Reason: Approved", "Date: 20"):
        assert needle in text


@needs_pdftoppm
def test_invisible_is_the_default(tmp_path: Path) -> None:
    signed = b_b_signer().sign(UNSIGNED, field="Quiet")
    assert changed_pixels(UNSIGNED, signed, tmp_path)[1] == []


@needs_pdftoppm
def test_an_existing_empty_field_shows_the_signature_in_its_widget(tmp_path: Path) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    box: Box = (320, 600, 560, 700)
    w = IncrementalPdfFileWriter(io.BytesIO(UNSIGNED))
    append_signature_field(w, SigFieldSpec("Approval", on_page=0, box=(320, 600, 560, 700)))
    buf = io.BytesIO()
    w.write(buf)
    with_field = buf.getvalue()
    signed = b_b_signer().sign(with_field, field="Approval", reason="Checked")
    _, points = changed_pixels(with_field, signed, tmp_path)
    assert len(points) > 300 and inside(points, box)
    with pytest.raises(UsageError, match="exists: its own widget"):
        b_b_signer().sign(with_field, field="Approval", visible=VisibleSignature(1, (0, 0, 9, 9)))


@needs_pdftoppm
def test_cli_visible_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(UNSIGNED)
    base = [
        sys.executable, "-m", "ltv", "sign", str(src), str(out), "--level", "B-B",
        "--key", str(pki.SIGNER_GOOD_KEY), "--cert", str(pki.SIGNER_GOOD_CERT),
    ]  # fmt: skip
    done = subprocess.run(
        [*base, "--visible", "-1:400,36,580,100", "--reason", "CLI"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _, points = changed_pixels(UNSIGNED, out.read_bytes(), tmp_path)
    assert len(points) > 300 and inside(points, (400, 36, 580, 100))
    bad_specs = (
        ("1:10,10", "expected PAGE:X1,Y1,X2,Y2"),
        ("0:1,1,9,9", "count from 1"),
        ("7:1,1,9,9", "page 7 does not exist"),
        ("1:9,9,1,1", "x1 < x2"),
    )
    for bad, needle in bad_specs:
        code, _, err = run_cli(capsys, *base[3:], "--visible", bad, "--force")
        assert code == 2, (bad, err)
        assert needle in err and err.count("\n") == 1
