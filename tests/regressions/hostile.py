"""Hostile PDFs made by the tests (small, deterministic): declared sizes, depths and counts
that a parser which trusts them turns into gigabytes or a crash."""

from __future__ import annotations

import zlib


def _pdf(objects: list[bytes], *, trailer_obj: bytes, pad_to: int = 0) -> bytes:
    """Objects numbered from 1, then ``trailer_obj`` (an xref stream object, numbered last)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    for i, body in enumerate(objects, start=1):
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    if pad_to:
        out += b"%" + b"x" * max(0, pad_to - len(out) - 200) + b"\n"
    start = len(out)
    out += b"%d 0 obj\n" % (len(objects) + 1) + trailer_obj + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


def huge_declared_xref(size: int = 1_000_000_014, pad_to: int = 107_000) -> bytes:
    """An xref stream declaring ``size`` entries with a few bytes of data: pyHanko's lenient
    reader yields an entry for every declared row, data or not (finding 2 of issue 7)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    rows = b"\x00\x00\x00\xff" + b"\x01\x00\x0f\x00"
    data = zlib.compress(rows)
    xref = (
        b"<< /Type /XRef /Size %d /W [1 2 1] /Root 1 0 R /Filter /FlateDecode /Length %d >>\n"
        b"stream\n" % (size, len(data)) + data + b"\nendstream"
    )
    return _pdf(objects, trailer_obj=xref, pad_to=pad_to)


def deep_nesting(depth: int = 5000, filler: bytes = b"") -> bytes:
    """A catalog entry nested ``depth`` arrays deep (a recursive parser's stack), with
    ``filler`` tokens between the brackets."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Deep " + (b"[" + filler) * depth + b"]" * depth + b" >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    return _table_pdf(objects)


def _table_pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        start,
    )
    return bytes(out)


def zlib_bomb(decoded: int = 300 * 1024 * 1024) -> bytes:
    """A page content stream that inflates ~1000:1 to ``decoded`` bytes."""
    comp = zlib.compressobj(9)
    chunk = b"\x00" * (1 << 20)
    data = b"".join(comp.compress(chunk) for _ in range(decoded >> 20)) + comp.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
    ]
    return _table_pdf(objects)


def append_dss_raw(
    pdf: bytes,
    *,
    ocsps: list[bytes] | tuple[bytes, ...] = (),
    crls: list[bytes] | tuple[bytes, ...] = (),
    certs: list[bytes] | tuple[bytes, ...] = (),
    compress: bool = False,
) -> bytes:
    """An incremental update adding streams *as given* to the DSS (/OCSPs, /CRLs) — what
    anyone can append to a signed file: no signature covers it. pyHanko's own DSS writer
    parses what it embeds, so malformed objects are written here, raw."""
    import io

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    root = writer.root
    dss_ref = root.raw_get("/DSS") if "/DSS" in root else None
    if isinstance(dss_ref, generic.IndirectObject):
        dss = dss_ref.get_object()
        writer.mark_update(dss_ref)
    else:
        dss = generic.DictionaryObject()
        root["/DSS"] = writer.add_object(dss)
        writer.update_root()
    for key, items in (("/OCSPs", ocsps), ("/CRLs", crls), ("/Certs", certs)):
        if not items:
            continue
        existing = list(dss[key]) if key in dss else []
        streams = []
        for d in items:
            stream = generic.StreamObject(stream_data=d)
            if compress:
                stream.compress()
            streams.append(stream)
        refs = [writer.add_object(stream) for stream in streams]
        dss[generic.NameObject(key)] = generic.ArrayObject(existing + refs)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def corrupt_xref_stream() -> bytes:
    """An xref stream whose FlateDecode data is not zlib data at all."""
    good = huge_declared_xref(size=3, pad_to=0)
    start = good.index(b"stream\n") + len(b"stream\n")
    end = good.index(b"\nendstream")
    return good[:start] + b"\x00" * (end - start) + good[end:]
