"""(2b) changes after signing: ``ltv.pipeline.changes`` rule by rule, and the decision table.

Each case appends one real incremental update to ltv's sample B-LT (tests/unit/producers.py
writes it byte by byte) and asks the classifier what the update is.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name

from ltv.pipeline.changes import (
    Finding,
    Restrictions,
    RevisionChanges,
    classify,
    effect_of,
    judge,
)
from ltv.policy import ValidationPolicy
from ltv.render import render_text
from ltv.report import Indication, SubIndication
from ltv.verify import Verifier
from tests.unit import producers as pr
from tests.unit.pipeline import fixtures as fx

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def signed() -> bytes:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    return fx.get_fixtures()["good-b-lt"]


def _reader(data: bytes) -> Any:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(data), strict=False)


def _last(data: bytes) -> RevisionChanges:
    r = _reader(data)
    (sig,) = [s for s in r.embedded_signatures if s.field_name == "Sig1"]
    return classify(r, sig.signed_revision)[-1]


def _classes(rc: RevisionChanges) -> dict[str, tuple[str, ...]]:
    return {f.cls: f.details for f in rc.findings}


def _page(r: Any) -> tuple[Any, generic.DictionaryObject]:
    ref = r.root["/Pages"]["/Kids"].raw_get(0)
    return ref, generic.DictionaryObject(dict(ref.get_object().items()))


def test_free_entries_for_objects_never_used_are_structural(signed: bytes) -> None:
    size = int(_reader(signed).trailer["/Size"])
    rc = _last(pr.raw_update(signed, {}, free=(size, size + 1), form="table"))
    assert set(_classes(rc)) == {"structural"}, rc
    assert (
        f"free xref entries for objects not in use: {size}, {size + 1}"
        in _classes(rc)["structural"]
    )


def test_freeing_an_object_the_document_uses_is_other(signed: bytes) -> None:
    r = _reader(signed)
    font = r.root["/Pages"]["/Kids"][0]["/Resources"]["/Font"].raw_get("/F1")
    rc = _last(pr.raw_update(signed, {}, free=(font.idnum,), form="table"))
    (detail,) = _classes(rc)["other"]
    assert detail.startswith(f"object {font.idnum}, used at page 1 /Resources/Font/F1")
    assert detail.endswith("deleted")


def test_the_other_xref_form_and_an_unchanged_rewrite_are_structural(signed: bytes) -> None:
    # (/Info would not do: the DSS update after signing rewrote its /ModDate)
    r = _reader(signed)
    font = r.root["/Pages"]["/Kids"][0]["/Resources"]["/Font"].raw_get("/F1")
    last = r.xrefs.total_revisions - 1
    form = "table" if r.xrefs.get_xref_container_info(last).stream_ref else "stream"
    rc = _last(pr.raw_update(signed, {font.idnum: pr._serialise(font.get_object())}, form=form))
    details = _classes(rc)["structural"]
    assert set(_classes(rc)) == {"structural"}, rc
    assert any(d.startswith("xref ") and " instead of xref " in d for d in details), details
    assert f"objects rewritten unchanged: {font.idnum}" in details


def _with_resource(signed: bytes, content: bytes | None) -> bytes:
    """Page /Resources gain /XObject /Fx9 (a new form XObject); optionally the page content
    is replaced by ``content``."""
    r = _reader(signed)
    page_ref, page = _page(r)
    size = int(r.trailer["/Size"])
    xobj = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 9, 9)]),
        },
        stream_data=b"0 0 9 9 re f",
    )
    res = generic.DictionaryObject(dict(page["/Resources"].items()))
    res[pdf_name("/XObject")] = generic.DictionaryObject(
        {pdf_name("/Fx9"): generic.IndirectObject(size, 0, r)}
    )
    page[pdf_name("/Resources")] = res
    objects = {size: pr._serialise(xobj), page_ref.idnum: pr._serialise(page)}
    if content is not None:
        objects[size + 1] = pr._serialise(generic.StreamObject(stream_data=content))
        page[pdf_name("/Contents")] = generic.IndirectObject(size + 1, 0, r)
        objects[page_ref.idnum] = pr._serialise(page)
    return pr.raw_update(signed, objects)


def test_resources_nobody_uses_are_structural(signed: bytes) -> None:
    rc = _last(_with_resource(signed, None))
    assert set(_classes(rc)) == {"structural"}, rc
    assert (
        "page 1: resources /XObject /Fx9 added, not used by the page content"
        in (_classes(rc)["structural"])
    )


def test_resources_used_by_new_content_are_other(signed: bytes) -> None:
    rc = _last(_with_resource(signed, b"/Fx9 Do"))
    other = _classes(rc)["other"]
    assert "page 1: /Contents changed" in other, other


def _annotate(signed: bytes, annot: dict[str, Any]) -> bytes:
    r = _reader(signed)
    page_ref, page = _page(r)
    size = int(r.trailer["/Size"])
    body = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (1, 1, 9, 9)]),
            **{pdf_name(k): v for k, v in annot.items()},
        }
    )
    annots = list(page.raw_get("/Annots")) if "/Annots" in page else []
    page[pdf_name("/Annots")] = generic.ArrayObject([*annots, generic.IndirectObject(size, 0, r)])
    return pr.raw_update(signed, {size: pr._serialise(body), page_ref.idnum: pr._serialise(page)})


def test_a_comment_is_an_annotation(signed: bytes) -> None:
    rc = _last(_annotate(signed, {"/Subtype": pdf_name("/Text")}))
    assert _classes(rc) == {"annotation": ("page 1: /Text annotation added",)}


def _js() -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {
            pdf_name("/S"): pdf_name("/JavaScript"),
            pdf_name("/JS"): generic.TextStringObject("app.alert(1)"),
        }
    )


@pytest.mark.parametrize(
    ("annot", "named"),
    [
        ({"/Subtype": pdf_name("/Link"), "/A": _js()}, "a /Link annotation with a /JavaScript"),
        ({"/Subtype": pdf_name("/Text"), "/AA": generic.DictionaryObject()}, "additional"),
        ({"/Subtype": pdf_name("/Screen")}, "a /Screen annotation"),
        ({"/Subtype": pdf_name("/Widget")}, "a form field widget"),
    ],
    ids=["javascript-link", "additional-actions", "screen", "widget"],
)
def test_active_or_non_comment_annotations_are_other(
    signed: bytes, annot: dict[str, Any], named: str
) -> None:
    rc = _last(_annotate(signed, annot))
    assert "annotation" not in _classes(rc)
    assert any(named in d for d in _classes(rc)["other"]), rc


def test_catalog_entries_are_named(signed: bytes) -> None:
    r = _reader(signed)
    root_ref = r.trailer.raw_get("/Root")
    root = generic.DictionaryObject(dict(root_ref.get_object().items()))
    root[pdf_name("/OpenAction")] = _js()
    rc = _last(pr.raw_update(signed, {root_ref.idnum: pr._serialise(root)}))
    assert _classes(rc) == {"other": ("catalog entry /OpenAction added",)}


# -- the decision table ------------------------------------------------------------------------

_ALL = (
    "dss",
    "timestamp",
    "structural",
    "metadata",
    "signature",
    "form-fill",
    "annotation",
    "other",
)


def _f(cls: str, **kw: Any) -> Finding:
    return Finding(cls=cls, revision=3, details=("x",), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("p", "forbidden"),
    [
        (None, set()),
        (1, {"signature", "form-fill", "annotation", "other"}),
        (2, {"annotation", "other"}),
        (3, {"other"}),
    ],
    ids=["approval", "P=1", "P=2", "P=3"],
)
def test_decision_table(p: int | None, forbidden: set[str]) -> None:
    r = Restrictions(docmdp=p)
    for cls in _ALL:
        j = judge(_f(cls), r)
        assert (j.restriction is not None) == (cls in forbidden), (p, cls, j)
        assert j.allowed == (cls not in forbidden and cls != "other"), (p, cls, j)
        if j.restriction is not None:
            assert f"DocMDP P={p}" in j.restriction
    assert effect_of([judge(_f(c), r) for c in ("dss", "timestamp", "structural", "metadata")]) == (
        "none"
    )
    assert effect_of([judge(_f("other"), r)]) == ("failed" if p else "indeterminate")
    assert effect_of([judge(_f("form-fill"), r)]) == ("failed" if p == 1 else "warn")


def test_new_visible_signature_field_after_certification() -> None:
    # P=2/P=3 permit signing; a new visible field to sign in is part of it (Acrobat's reading,
    # pyHanko's default is stricter); P=1 permits nothing
    visible = _f("signature", valid_when_certifying=False)
    assert judge(visible, Restrictions(docmdp=None)).allowed
    assert judge(visible, Restrictions(docmdp=2)).allowed
    assert judge(visible, Restrictions(docmdp=3)).allowed
    assert judge(visible, Restrictions(docmdp=1)).restriction is not None


@pytest.mark.parametrize(("p", "visible"), [(2, False), (2, True), (3, True)])
def test_approval_signature_after_certification(p: int, visible: bool) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter

    certified = pr.sign_b_lt(pr.unsigned_with_field(), docmdp=p)
    pki = fx._pki()
    simple = signers.SimpleSigner.load(
        str(pki.key_path("signer-good")),
        str(pki.cert_path("signer-good")),
        ca_chain_files=[str(x) for x in pki.chain_paths("signer-good")],
    )
    w = IncrementalPdfFileWriter(io.BytesIO(certified))
    box = (300, 100, 500, 150) if visible else None
    fields.append_signature_field(w, fields.SigFieldSpec("Sig2", box=box))
    meta = signers.PdfSignatureMetadata(
        field_name="Sig2", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = signers.PdfSigner(meta, simple, timestamper=fx._tsa(fx.T_SIGN)).sign_pdf(w)
    policy = ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
    report = Verifier(policy).verify(bytes(out.getvalue()), now=NOW)
    cert = next(s for s in report.signatures if s.field == "Sig1")
    if p == 1:
        assert cert.indication is Indication.TOTAL_FAILED, cert.reasons
        assert any("DocMDP P=1" in r for r in cert.reasons)
    else:
        assert cert.indication is Indication.TOTAL_PASSED, cert.reasons
        assert any("signature field 'Sig2' signed" in w for w in cert.warnings), cert.warnings


def test_field_lock() -> None:
    locked = Restrictions(locked=lambda name: name == "Name")
    fill = _f("form-fill", fields=("Name",), valid_when_locked=False)
    assert "FieldMDP lock on field 'Name'" == judge(fill, locked).restriction
    other = _f("form-fill", fields=("Other",), valid_when_locked=False)
    assert judge(other, locked).allowed
    # an update pyHanko says is fine even on a locked field (e.g. /Ff set)
    assert judge(_f("form-fill", fields=("Name",)), locked).allowed


def test_field_lock_end_to_end() -> None:
    """A signature that locks field 'Name' (its /Lock and FieldMDP): filling it afterwards is
    forbidden; the same fill after an unlocked signature passes with a warning."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter

    pki = fx._pki()
    simple = signers.SimpleSigner.load(
        str(pki.key_path("signer-good")),
        str(pki.cert_path("signer-good")),
        ca_chain_files=[str(p) for p in pki.chain_paths("signer-good")],
    )
    base = pr.unsigned_with_field()
    w = IncrementalPdfFileWriter(io.BytesIO(base))
    fields.append_signature_field(
        w,
        fields.SigFieldSpec(
            "Sig1",
            field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, fields=["Name"]),
        ),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Sig1", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = signers.PdfSigner(meta, simple, timestamper=fx._tsa(fx.T_SIGN)).sign_pdf(w)
    locked = fx.add_dss(bytes(out.getvalue()), "signer-good", fx.Evidence(ocsps=pr.evidence()))
    unlocked = pr.sign_b_lt(base)
    policy = ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
    verifier = Verifier(policy)

    report = verifier.verify(pr.pypdf_update(locked, "form-fill"), now=NOW)
    (sig,) = report.signatures
    assert sig.indication is Indication.TOTAL_FAILED, sig.reasons
    assert sig.subindication is SubIndication.FORMAT_FAILURE
    assert any("FieldMDP lock on field 'Name'" in r for r in sig.reasons), sig.reasons

    text = render_text(report)
    assert "form-fill ([red]forbidden by FieldMDP lock on field 'Name'[/red])" in text, text

    report = verifier.verify(pr.pypdf_update(unlocked, "form-fill"), now=NOW)
    (sig,) = report.signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.reasons
    assert any("field 'Name'" in w for w in sig.warnings)
    # text output: one line per class and revision
    lines = [ln for ln in render_text(report).splitlines() if "changed in revision" in ln]
    assert any("form-fill ([green]allowed[/green]) field 'Name'" in ln for ln in lines), lines
    assert len(lines) == len(sig.modifications)


def test_a_classifier_crash_is_indeterminate_never_failed(
    signed: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a file whose revisions no rule can walk must not be called forged
    import ltv.pipeline.changes as changes

    def boom(reader: Any, revision: int) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(changes, "classify", boom)
    policy = ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
    report = Verifier(policy).verify(fx.doc_timestamp(signed, fx.T_DOC_TS), now=NOW)
    (sig, _doc) = report.signatures
    assert sig.indication is Indication.INDETERMINATE, sig.reasons
    assert sig.subindication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert sig.integrity is not None and sig.integrity.intact
    assert any("could not be compared (maximum recursion" in r for r in sig.reasons)


def _names_update(signed: bytes, tree: str) -> bytes:
    """A /Stamp comment added with a catalog /Names entry (as Acrobat writes custom stamps:
    the appearance in the /AP name tree)."""
    r = _reader(signed)
    page_ref, page = _page(r)
    size = int(r.trailer["/Size"])
    ap = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 9, 9)]),
        },
        stream_data=b"0 0 9 9 re f",
    )
    ap_ref = generic.IndirectObject(size, 0, r)
    stamp = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Stamp"),
            pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (1, 1, 9, 9)]),
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): ap_ref}),
        }
    )
    annots = list(page.raw_get("/Annots")) if "/Annots" in page else []
    page[pdf_name("/Annots")] = generic.ArrayObject(
        [*annots, generic.IndirectObject(size + 1, 0, r)]
    )
    root_ref = r.trailer.raw_get("/Root")
    root = generic.DictionaryObject(dict(root_ref.get_object().items()))
    value = ap_ref if tree == "/AP" else _js()
    root[pdf_name("/Names")] = generic.DictionaryObject(
        {
            pdf_name(tree): generic.DictionaryObject(
                {pdf_name("/Names"): generic.ArrayObject([generic.TextStringObject("x"), value])}
            )
        }
    )
    return pr.raw_update(
        signed,
        {
            size: pr._serialise(ap),
            size + 1: pr._serialise(stamp),
            page_ref.idnum: pr._serialise(page),
            root_ref.idnum: pr._serialise(root),
        },
    )


def test_names_for_comments_are_part_of_the_annotation(signed: bytes) -> None:
    rc = _last(_names_update(signed, "/AP"))
    assert set(_classes(rc)) == {"annotation"}, rc
    assert "catalog /Names /AP (named annotation appearances) updated" in _classes(rc)["annotation"]


def test_names_with_javascript_are_other(signed: bytes) -> None:
    rc = _last(_names_update(signed, "/JavaScript"))
    assert "catalog entry /Names added" in _classes(rc)["other"], rc
