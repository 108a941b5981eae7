"""Incremental writers for the producer matrix and the attack fixtures: real third-party
writers (pypdf, pyHanko) and a small hand-written one for what no library writes on request
(free entries for unused object numbers, an xref section of the other form).

Every writer takes the bytes of a signed PDF and appends one incremental update; the signed
bytes are never touched.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name

CONTENT_OLD = b"ltv sample document"
CONTENT_NEW = b"ltv SAMPLE DOCUMENT"  # same length: a minimal, visible content change
FIELD = "Name"


# -- the base document: the sample page plus an empty text field ----------------------------------


def unsigned_with_field() -> bytes:
    """samples' unsigned PDF + a text field 'Name' (widget on page 1), one revision more."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from samples.make_samples import make_unsigned_pdf

    w = IncrementalPdfFileWriter(io.BytesIO(make_unsigned_pdf()))
    page_ref = w.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    field = generic.DictionaryObject(
        {
            pdf_name("/FT"): pdf_name("/Tx"),
            pdf_name("/T"): generic.TextStringObject(FIELD),
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/Rect"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (72, 600, 272, 630)]
            ),
            pdf_name("/F"): generic.NumberObject(4),
            pdf_name("/P"): page_ref,
            pdf_name("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
        }
    )
    field_ref = w.add_object(field)
    page[pdf_name("/Annots")] = generic.ArrayObject([field_ref])
    w.update_container(page)
    helv = w.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )
    w.root[pdf_name("/AcroForm")] = generic.DictionaryObject(
        {
            pdf_name("/Fields"): generic.ArrayObject([field_ref]),
            pdf_name("/DR"): generic.DictionaryObject(
                {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/Helv"): helv})}
            ),
            pdf_name("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
        }
    )
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


# -- signing like ltv's samples (tests/unit/pipeline/fixtures.py), approval or certification ---


def evidence() -> tuple[bytes, ...]:
    """OCSP responses for signer-good, interm and tsa at T_SIGN + 1 min (from the fixtures)."""
    from ltv.pipeline.extract import extract
    from tests.unit.pipeline import fixtures as fx

    good = fx.get_fixtures()["good-b-lt"]
    return tuple(e.der for e in extract(good).evidence if e.kind == "ocsp")


def sign_b_lt(data: bytes, *, docmdp: int | None = None, field: str = "Sig1") -> bytes:
    """signer-good, PAdES B-LT (signature timestamp at fixtures.T_SIGN, DSS with the OCSP
    responses), as an approval signature or a certification at DocMDP P=``docmdp``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter

    from tests.unit.pipeline import fixtures as fx

    pki = fx._pki()
    simple = signers.SimpleSigner.load(
        str(pki.key_path("signer-good")),
        str(pki.cert_path("signer-good")),
        ca_chain_files=[str(p) for p in pki.chain_paths("signer-good")],
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        certify=docmdp is not None,
        docmdp_permissions=MDPPerm(docmdp or 2),
    )
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    signed = signers.PdfSigner(meta, simple, timestamper=fx._tsa(fx.T_SIGN)).sign_pdf(w)
    return fx.add_dss(bytes(signed.getvalue()), "signer-good", fx.Evidence(ocsps=evidence()))


# -- pypdf -------------------------------------------------------------------------------------


def pypdf_update(data: bytes, change: str) -> bytes:
    """pypdf's ``PdfWriter(incremental=True)``."""
    import pypdf
    from pypdf.annotations import Text
    from pypdf.generic import NameObject

    w = pypdf.PdfWriter(io.BytesIO(data), incremental=True)
    page = w.pages[0]
    if change == "harmless":
        w.add_metadata({"/Title": "harmless"})
    elif change == "annotation":
        w.add_annotation(page_number=0, annotation=Text(rect=(300, 700, 320, 720), text="ok"))
    elif change == "form-fill":
        w.update_page_form_field_values(page, {FIELD: "Alice"}, auto_regenerate=False)
    elif change == "page-content":
        stream = page[NameObject("/Contents")].get_object()
        stream.set_data(stream.get_data().replace(CONTENT_OLD, CONTENT_NEW))
    else:  # pragma: no cover
        raise ValueError(change)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


# -- pyHanko -----------------------------------------------------------------------------------


def pyhanko_update(
    data: bytes,
    change: str,
    *,
    object_streams: bool,
    lta: Callable[[Any, Callable[[], None] | None], bytes],
) -> bytes:
    """pyHanko's ``IncrementalPdfFileWriter``, with the input's xref form or with an xref
    stream and object streams. ``harmless`` adds a DSS and a document timestamp
    (``lta(writer)`` writes both and returns the file)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(data))
    restore: Callable[[], None] | None = None
    if object_streams:
        w.stream_xrefs = True
        stm = w.prepare_object_stream()
        plain = w.add_object

        def add_object(obj: Any, obj_stream: Any = None, idnum: Any = None) -> Any:
            if obj_stream is None and not isinstance(obj, generic.StreamObject):
                obj_stream = stm
            return plain(obj, obj_stream=obj_stream, idnum=idnum)

        w.add_object = add_object  # type: ignore[method-assign]

        def restore() -> None:
            w.add_object = plain  # type: ignore[method-assign]

    page_ref = w.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    if change == "harmless":
        return lta(w, restore)
    if change == "annotation":
        annot = w.add_object(_square(page_ref))
        page["/Annots"].append(annot)
        w.update_container(page)
    elif change == "form-fill":
        field_ref = _field_ref(w.root)
        field = field_ref.get_object()
        field[pdf_name("/V")] = generic.TextStringObject("Alice")
        field[pdf_name("/AP")] = generic.DictionaryObject(
            {pdf_name("/N"): w.add_object(_field_appearance())}
        )
        w.mark_update(field_ref)
    elif change == "page-content":
        old = page["/Contents"].data
        page[pdf_name("/Contents")] = w.add_object(
            generic.StreamObject(stream_data=old.replace(CONTENT_OLD, CONTENT_NEW))
        )
        w.update_container(page)
    else:  # pragma: no cover
        raise ValueError(change)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _field_ref(root: Any) -> Any:
    for f in root["/AcroForm"]["/Fields"]:
        if f.get_object().get("/T") == FIELD:
            return f.reference
    raise LookupError(FIELD)


def _square(page_ref: Any) -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Square"),
            pdf_name("/Rect"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (300, 500, 400, 560)]
            ),
            pdf_name("/C"): generic.ArrayObject([generic.NumberObject(v) for v in (1, 0, 0)]),
            pdf_name("/Contents"): generic.TextStringObject("reviewed"),
            pdf_name("/P"): page_ref,
        }
    )


def _field_appearance() -> generic.StreamObject:
    return generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, 200, 30)]
            ),
        },
        stream_data=b"/Tx BMC BT /Helv 12 Tf 2 10 Td (Alice) Tj ET EMC",
    )


# -- the hand-written writer -------------------------------------------------------------------


def _serialise(obj: Any) -> bytes:
    buf = io.BytesIO()
    obj.write_to_stream(buf, None)
    return buf.getvalue()


def raw_update(
    data: bytes,
    objects: dict[int, bytes],
    *,
    free: tuple[int, ...] = (),
    form: str | None = None,
) -> bytes:
    """Append one update: ``objects`` (number → body, generation 0), free entries for
    ``free``, in an xref ``table`` or ``stream`` (default: the last section's form)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    r = PdfFileReader(io.BytesIO(data), strict=False)
    last = r.xrefs.total_revisions - 1
    meta = r.xrefs.get_xref_container_info(last)
    form = form or ("stream" if meta.stream_ref is not None else "table")
    prev = r.xrefs.get_startxref_for_revision(last)
    size = int(r.trailer["/Size"])
    trailer_keys = {
        "/Root": _serialise(r.trailer.raw_get("/Root")),
        "/Prev": str(prev).encode(),
    }
    if "/Info" in r.trailer:
        trailer_keys["/Info"] = _serialise(r.trailer.raw_get("/Info"))
    if "/ID" in r.trailer:
        trailer_keys["/ID"] = _serialise(r.trailer["/ID"])
    out = bytearray(data if data.endswith(b"\n") else data + b"\n")
    offsets: dict[int, int] = {}
    for num, body in sorted(objects.items()):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    top = max([size - 1, *objects, *free])
    entries: dict[int, tuple[int, int, int]] = {n: (1, off, 0) for n, off in offsets.items()}
    entries.update(dict.fromkeys(free, (0, 0, 1)))  # freed generation 0, next generation 1
    if form == "table":
        new_size = top + 1
        xref_at = len(out)
        out += b"xref\n"
        for start, run in _runs(sorted(entries)):
            out += b"%d %d\n" % (start, len(run))
            for n in run:
                kind, off, gen = entries[n]
                out += b"%010d %05d %s\r\n" % (off, gen, b"n" if kind == 1 else b"f")
        keys = b"".join(k.encode() + b" " + v + b"\n" for k, v in trailer_keys.items())
        out += b"trailer\n<<\n/Size %d\n" % new_size + keys + b">>\n"
    else:
        xref_num = top + 1
        new_size = xref_num + 1
        xref_at = len(out)
        entries[xref_num] = (1, xref_at, 0)
        rows = b"".join(
            bytes([entries[n][0]]) + entries[n][1].to_bytes(4, "big") + bytes([entries[n][2]])
            for n in sorted(entries)
        )
        index = b" ".join(b"%d %d" % (s, len(run)) for s, run in _runs(sorted(entries)))
        body = zlib.compress(rows)
        keys = b"".join(k.encode() + b" " + v + b"\n" for k, v in trailer_keys.items())
        out += (
            b"%d 0 obj\n<<\n/Type /XRef\n/Size %d\n/W [1 4 1]\n/Index [%s]\n/Filter /FlateDecode\n"
            % (xref_num, new_size, index)
            + keys
            + b"/Length %d\n>>\nstream\n" % len(body)
            + body
            + b"\nendstream\nendobj\n"
        )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _runs(numbers: list[int]) -> list[tuple[int, list[int]]]:
    runs: list[tuple[int, list[int]]] = []
    for n in numbers:
        if runs and runs[-1][1][-1] == n - 1:
            runs[-1][1].append(n)
        else:
            runs.append((n, [n]))
    return runs


def hand_update(data: bytes, change: str, *, mode: str) -> bytes:
    """``mode`` 'free-unused': an xref table that also frees three object numbers nothing
    ever used; 'xref-convert': the update in the other xref form than the file's last one."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    r = PdfFileReader(io.BytesIO(data), strict=False)
    size = int(r.trailer["/Size"])
    last = r.xrefs.total_revisions - 1
    last_form = "stream" if r.xrefs.get_xref_container_info(last).stream_ref else "table"
    if mode == "free-unused":
        free: tuple[int, ...] = (size, size + 1, size + 2)
        form = "table"
        first_new = size + 3
    else:
        free = ()
        form = "table" if last_form == "stream" else "stream"
        first_new = size
    page_ref = r.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    objects: dict[int, bytes] = {}
    if change == "harmless" and mode == "xref-convert":
        # rewrite the document information dictionary unchanged, in the other xref form
        info = r.trailer.raw_get("/Info")
        objects[info.idnum] = _serialise(info.get_object())
    elif change == "annotation":
        objects[first_new] = _serialise(_square(page_ref))
        page = generic.DictionaryObject(dict(page.items()))
        page[pdf_name("/Annots")] = generic.ArrayObject(
            [*page.raw_get("/Annots"), generic.IndirectObject(first_new, 0, r)]
        )
        objects[page_ref.idnum] = _serialise(page)
    elif change == "form-fill":
        field_ref = _field_ref(r.root)
        field = generic.DictionaryObject(dict(field_ref.get_object().items()))
        field[pdf_name("/V")] = generic.TextStringObject("Alice")
        objects[first_new] = _serialise(_field_appearance())
        field[pdf_name("/AP")] = generic.DictionaryObject(
            {pdf_name("/N"): generic.IndirectObject(first_new, 0, r)}
        )
        objects[field_ref.idnum] = _serialise(field)
    elif change == "page-content":
        new = page["/Contents"].data.replace(CONTENT_OLD, CONTENT_NEW)
        objects[first_new] = _serialise(generic.StreamObject(stream_data=new))
        page = generic.DictionaryObject(dict(page.items()))
        page[pdf_name("/Contents")] = generic.IndirectObject(first_new, 0, r)
        objects[page_ref.idnum] = _serialise(page)
    out = raw_update(data, objects, free=free, form=form)
    assert re.search(rb"startxref\s+\d+\s+%%EOF\s*$", out)
    return out
