"""Attack fixtures made from the samples (Mladenov et al., "1 Trillion Dollar Refund", CCS 2019;
Mainka et al., "Shadow Attacks", NDSS 2021): universal signature forgery, incremental saving,
signature wrapping, shadow hide / replace / hide-and-replace, a signature dictionary edited
after signing, and a dangling reference filled in later. None may be TOTAL-PASSED, and each
report names why.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name

from ltv.policy import ValidationPolicy
from ltv.report import Indication, Report, SubIndication
from ltv.verify import Verifier
from tests import forge
from tests.unit import producers as pr
from tests.unit.pipeline import fixtures as fx

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
_BR = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _verify(data: bytes) -> Report:
    policy = ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
    report = Verifier(policy).verify(data, now=NOW)
    fx.assert_schema(report.to_dict())
    return report


def _why(report: Report) -> str:
    """Everything the report says against the file, in one string."""
    parts = [report.error or ""]
    for s in report.signatures:
        parts.extend(s.reasons)
        parts.extend(d for m in s.modifications if not m.allowed for d in m.details)
    return " | ".join(parts)


# -- documents the attacker prepares before signing (shadow attacks) ---------------------------


def _document(
    contents: list[bytes],
    *,
    xobjects: dict[str, Any] | None = None,
    spare_page: bool = False,
) -> bytes:
    """A one-page PDF (Helvetica /F1) with ``contents`` as its content streams."""
    from pyhanko.pdf_utils.writer import PdfFileWriter

    w = PdfFileWriter(stream_xrefs=False)
    font = w.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
    )
    if xobjects:
        resources[pdf_name("/XObject")] = generic.DictionaryObject(
            {pdf_name(k): v for k, v in xobjects.items()}
        )

    def page(streams: list[bytes]) -> generic.DictionaryObject:
        refs = [w.add_object(generic.StreamObject(stream_data=c)) for c in streams]
        return generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Page"),
                pdf_name("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                ),
                pdf_name("/Resources"): resources,
                pdf_name("/Contents"): generic.ArrayObject(refs),
            }
        )

    w.insert_page(page(contents))
    if spare_page:
        # prepared for hide-and-replace: a complete page nothing shows yet
        spare = page([b"BT /F1 24 Tf 72 700 Td (PAY 1000000 EUR) Tj ET"])
        spare[pdf_name("/Parent")] = w.root.raw_get("/Pages")
        w.root[pdf_name("/SparePage")] = w.add_object(spare)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


_TEXT = b"BT /F1 24 Tf 72 700 Td (PAY 100 EUR) Tj ET"
_HIDDEN = b"BT /F1 24 Tf 72 600 Td (PAY 1000000 EUR) Tj ET"
_COVER = b"1 1 1 rg 60 590 400 40 re f"


def _objects(data: bytes) -> Any:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(data), strict=False)


def _page(r: Any) -> Any:
    return r.root["/Pages"]["/Kids"].raw_get(0).get_object()


# -- the attacks -------------------------------------------------------------------------------


def usf_contents_empty(signed: bytes) -> bytes:
    start, end = forge.contents_slots(signed)[0]
    return signed[:start] + b"0" * (end - start) + signed[end:]


def usf_contents_null(signed: bytes) -> bytes:
    start, end = forge.contents_slots(signed)[0]
    gap = b"null" + b" " * (end - start - 2)  # replaces '<hex>' within the unsigned gap
    return signed[: start - 1] + gap + signed[end + 1 :]


def usf_contents_missing(signed: bytes) -> bytes:
    start, _ = forge.contents_slots(signed)[0]
    head = signed[:start]
    at = head.rindex(b"/Contents")
    return signed[:at] + b"/Contentz" + signed[at + len(b"/Contents") :]


def _sig_dict_update(signed: bytes, edit: Callable[[generic.DictionaryObject], None]) -> bytes:
    """An incremental update that redefines the signature dictionary (same object number)."""
    r = _objects(signed)
    field = r.root["/AcroForm"]["/Fields"][0]
    v = field.raw_get("/V")
    sig = generic.DictionaryObject(dict(v.get_object().items()))
    edit(sig)
    return pr.raw_update(signed, {v.idnum: pr._serialise(sig)})


def usf_byterange_elsewhere(signed: bytes) -> bytes:
    def edit(sig: generic.DictionaryObject) -> None:
        sig[pdf_name("/ByteRange")] = generic.ArrayObject(
            [generic.NumberObject(v) for v in (0, 100, 200, 100)]
        )

    return _sig_dict_update(signed, edit)


def sig_dict_edited_by_update(signed: bytes) -> bytes:
    def edit(sig: generic.DictionaryObject) -> None:
        sig[pdf_name("/Reason")] = generic.TextStringObject("I agree to pay 1000000 EUR")
        sig[pdf_name("/M")] = generic.TextStringObject("D:20300101000000Z")

    return _sig_dict_update(signed, edit)


def sig_dict_edited_in_place(signed: bytes) -> bytes:
    """/M rewritten inside the signed bytes, same length."""
    m = re.search(rb"/M\s*\(D(?::|\\072)(\d{4})", signed)
    assert m is not None
    return signed[: m.start(1)] + b"2031" + signed[m.end(1) :]


def incremental_saving(signed: bytes) -> bytes:
    """ISA: an update that changes the page content, nothing else."""
    return pr.hand_update(signed, "page-content", mode="xref-convert")


def incremental_saving_without_xref(signed: bytes) -> bytes:
    """ISA variant: new content objects appended with no xref section (readers that repair
    files show them)."""
    r = _objects(signed)
    page = _page(r)
    size = int(r.trailer["/Size"])
    new = page["/Contents"].data.replace(pr.CONTENT_OLD, pr.CONTENT_NEW)
    body = pr._serialise(generic.StreamObject(stream_data=new))
    return signed + b"%d 0 obj\n" % size + body + b"\nendobj\n%%EOF\n"


def signature_wrapping(signed: bytes) -> bytes:
    """SWA: malicious objects moved into an enlarged ByteRange gap, the second range shifted
    (and the /ByteRange rewritten to match, same width)."""
    m = _BR.search(signed)
    assert m is not None
    a, b, c, d = (int(x) for x in m.groups())
    evil = b"\n99 0 obj\n(PAY 1000000 EUR)\nendobj\n"
    moved = signed[:c] + evil + signed[c:]
    old = m.group(0)
    new = b"/ByteRange [%d %d %d %d]" % (a, b, c + len(evil), d)
    new = new.ljust(len(old))
    assert len(new) == len(old)
    return moved[: m.start()] + new + moved[m.end() :]


def shadow_hide(signed: bytes) -> bytes:
    """The white cover drawn when signing is emptied afterwards: the hidden text shows."""
    r = _objects(signed)
    cover = _page(r).raw_get("/Contents").raw_get(2)
    return pr.raw_update(
        signed, {cover.idnum: pr._serialise(generic.StreamObject(stream_data=b""))}
    )


def shadow_replace(signed: bytes) -> bytes:
    """The font object of the signed page overwritten (another font, other glyphs)."""
    r = _objects(signed)
    font_ref = _page(r)["/Resources"]["/Font"].raw_get("/F1")
    font = generic.DictionaryObject(dict(font_ref.get_object().items()))
    font[pdf_name("/BaseFont")] = pdf_name("/Courier")
    return pr.raw_update(signed, {font_ref.idnum: pr._serialise(font)})


def shadow_hide_and_replace(signed: bytes) -> bytes:
    """The page tree pointed at the spare page prepared (and signed) beforehand."""
    r = _objects(signed)
    pages_ref = r.root.raw_get("/Pages")
    pages = generic.DictionaryObject(dict(pages_ref.get_object().items()))
    pages[pdf_name("/Kids")] = generic.ArrayObject([r.root.raw_get("/SparePage")])
    return pr.raw_update(signed, {pages_ref.idnum: pr._serialise(pages)})


DANGLING = 4000


def dangling_reference_filled(signed: bytes) -> bytes:
    """The signed page draws /X1 → object 4000, which did not exist when signed (nothing
    shown); an update defines it."""
    xobj = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, 595, 842)]
            ),
            pdf_name("/Resources"): _page(_objects(signed))["/Resources"],
        },
        stream_data=_HIDDEN,
    )
    return pr.raw_update(signed, {DANGLING: pr._serialise(xobj)})


# (name, prepared document or None for the sample B-LT, attack, what the report must say)
ATTACKS: list[tuple[str, Callable[[], bytes] | None, Callable[[bytes], bytes], str]] = [
    # a signature whose value cannot be parsed is a signature, present and broken (issue 8)
    ("usf-contents-empty", None, usf_contents_empty, "cannot be parsed"),
    ("usf-contents-null", None, usf_contents_null, "cannot be parsed"),
    ("usf-contents-missing", None, usf_contents_missing, "cannot be parsed"),
    ("usf-byterange-elsewhere", None, usf_byterange_elsewhere, "ByteRange"),
    # pyHanko takes the redefined dictionary's revision as the signature's: its ByteRange then
    # ends before that revision (FAILED / FORMAT_FAILURE, coverage PARTIAL)
    ("sig-dict-edited-by-update", None, sig_dict_edited_by_update, "does not cover a whole"),
    ("sig-dict-edited-in-place", None, sig_dict_edited_in_place, "digest"),
    ("incremental-saving", None, incremental_saving, "page 1: /Contents changed"),
    # today "unreadable PDF: startxref not found" (exit 4); whatever a repairing reader makes
    # of it later, it must not pass
    ("incremental-saving-no-xref", None, incremental_saving_without_xref, "no cross-reference"),
    ("signature-wrapping", None, signature_wrapping, ""),
    (
        "shadow-hide",
        lambda: _document([_HIDDEN, _TEXT, _COVER]),
        shadow_hide,
        "used at page 1 /Contents[2]",
    ),
    (
        "shadow-replace",
        lambda: _document([_TEXT]),
        shadow_replace,
        "used at page 1 /Resources/Font/F1",
    ),
    (
        "shadow-hide-and-replace",
        lambda: _document([_TEXT], spare_page=True),
        shadow_hide_and_replace,
        "page tree changed",
    ),
    (
        "dangling-reference-filled",
        lambda: _document(
            [_TEXT, b"/X1 Do"], xobjects={"/X1": generic.IndirectObject(DANGLING, 0, None)}
        ),
        dangling_reference_filled,
        f"object {DANGLING} added, which the signed revision referenced",
    ),
]


@pytest.fixture(scope="module")
def attacked() -> dict[str, tuple[bytes, Report, Report]]:
    """name → (attacked file, its report, the report of the file before the attack)."""
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    sample = fx.get_fixtures()["good-b-lt"]
    out = {}
    for name, prepare, attack, _ in ATTACKS:
        signed = sample if prepare is None else pr.sign_b_lt(prepare())
        data = attack(signed)
        out[name] = (data, _verify(data), _verify(signed))
    return out


@pytest.mark.parametrize(
    "name", ["usf-contents-empty", "usf-contents-null", "usf-contents-missing"]
)
def test_universal_forgery_is_a_failing_signature_not_no_signature(
    attacked: dict[str, tuple[bytes, Report, Report]], name: str
) -> None:
    _, report, _ = attacked[name]
    (sig,) = report.signatures
    assert sig.field == "Sig1" and report.exit_code == 1
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.subindication is SubIndication.FORMAT_FAILURE


@pytest.mark.parametrize(
    ("name", "says"), [(a[0], a[3]) for a in ATTACKS], ids=[a[0] for a in ATTACKS]
)
def test_attack_never_passes_and_is_named(
    attacked: dict[str, tuple[bytes, Report, Report]], name: str, says: str
) -> None:
    _, report, before = attacked[name]
    # the prepared document itself was fine: the attack is what the verdict is about
    assert before.indication is Indication.TOTAL_PASSED, (name, _why(before))
    assert report.indication is not Indication.TOTAL_PASSED, (name, report.to_dict())
    why = _why(report)
    assert why.strip(" |"), name
    assert says in why, (name, why)


@pytest.mark.parametrize(
    "name",
    [
        "incremental-saving",
        "shadow-hide",
        "shadow-replace",
        "shadow-hide-and-replace",
        "dangling-reference-filled",
    ],
)
def test_changes_after_signing_are_indeterminate_not_failed(
    attacked: dict[str, tuple[bytes, Report, Report]], name: str
) -> None:
    # the signed revision is intact: INDETERMINATE / SIG_CONSTRAINTS_FAILURE, never FAILED
    _, report, _ = attacked[name]
    (sig,) = report.signatures
    assert sig.integrity is not None and sig.integrity.intact and sig.integrity.valid
    assert sig.indication is Indication.INDETERMINATE, sig.reasons
    assert sig.subindication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert [m.cls for m in sig.modifications if not m.allowed] == ["other"]


def test_dangling_reference_is_not_an_unused_new_object(
    attacked: dict[str, tuple[bytes, Report, Report]],
) -> None:
    # pyHanko's orphan rule alone would clear object 4000 (new, reached from no rewritten
    # object): ltv looks at what the signed revision referenced
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel

    data, _, _ = attacked["dangling-reference-filled"]
    r = PdfFileReader(io.BytesIO(data), strict=False)
    (sig,) = r.embedded_signatures
    verdict = DEFAULT_DIFF_POLICY.review_file(r, sig.signed_revision)
    assert getattr(verdict, "modification_level", None) == ModificationLevel.LTA_UPDATES
