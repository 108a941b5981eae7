"""(2) integrity: pyHanko's difference analysis with a VRI-tolerant DSS rule (DSS-1959).

A B-LTA file (signature, DSS *with* a VRI entry, document timestamp) gets a later incremental
update. The document timestamp's signed revision holds the VRI entry, so that update is
what pyHanko's ``DSSCompareRule._check_vri`` rejects when it removes or replaces the entry.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ltv.pipeline.extract import extract
from ltv.policy import ValidationPolicy
from ltv.report import Indication, Modifications, Report, SignatureReport, SubIndication
from ltv.verify import Verifier
from tests.unit.pipeline import fixtures as fx

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
ALLOWED = "allowed: evidence is read from every revision"


@pytest.fixture(scope="module")
def b_lta_vri() -> bytes:
    """good B-T + DSS with a VRI entry for the signature + document timestamp."""
    from asn1crypto import ocsp as asn1_ocsp
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    pdfs = fx.get_fixtures()
    b_t = pdfs["good-b-t"]
    ocsps = [e.der for e in extract(pdfs["good-b-lt"]).evidence if e.kind == "ocsp"]
    assert ocsps
    sig = PdfFileReader(io.BytesIO(b_t)).embedded_signatures[0]
    contents = bytes(sig.sig_object.raw_get("/Contents"))
    pki = fx._pki()
    certs = [
        x509.Certificate.load(pem.unarmor(pki.cert_path(label).read_bytes())[2])
        for label in ("signer-good", "interm", "root", "tsa", "tsa-root", "interm-ocsp")
    ]
    buf = io.BytesIO(b_t)
    DocumentSecurityStore.add_dss(
        buf, contents, certs=certs, ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in ocsps]
    )
    return fx.doc_timestamp(buf.getvalue(), fx.T_DOC_TS)


def _update(data: bytes, edit: Callable[[Any, Any], None]) -> bytes:
    """One incremental update: ``edit(writer, dss)`` changes the DSS (then rewritten)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(data))
    dss_ref = w.root.raw_get("/DSS")
    dss = dss_ref.get_object()
    edit(w, dss)
    w.mark_update(dss_ref)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _vri_key(dss: Any) -> Any:
    (key,) = list(dss["/VRI"].keys())
    return key


def _remove_entry(w: Any, dss: Any) -> None:
    del dss["/VRI"][_vri_key(dss)]


def _replace_entry(entry: Callable[[Any, Any], dict[str, Any]]) -> Callable[[Any, Any], None]:
    """Replace the existing VRI entry by a new indirect object built from the old one."""
    from pyhanko.pdf_utils import generic

    def edit(w: Any, dss: Any) -> None:
        key = _vri_key(dss)
        old = dss["/VRI"][key]
        new = generic.DictionaryObject({generic.NameObject(k): v for k, v in entry(w, old).items()})
        dss["/VRI"][key] = w.add_object(new)

    return edit


def _without_ocsp(w: Any, old: Any) -> dict[str, Any]:
    return {k: old.raw_get(k) for k in old if k != "/OCSP"}


def _change_page(w: Any, dss: Any) -> None:
    from pyhanko.pdf_utils import generic

    page_ref = w.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    old = page["/Contents"].data
    assert b") Tj" in old
    page["/Contents"] = w.add_object(
        generic.StreamObject(stream_data=old.replace(b") Tj", b"!) Tj", 1))
    )
    w.mark_update(page_ref)


def _verify(data: bytes) -> Report:
    policy = ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
    report = Verifier(policy).verify(data, now=NOW)
    fx.assert_schema(report.to_dict())
    return report


def _doc_ts(report: Report) -> SignatureReport:
    (doc,) = [s for s in report.signatures if s.kind == "document-timestamp"]
    return doc


def test_unchanged_vri_passes_without_warning(b_lta_vri: bytes) -> None:
    # a later DSS update that leaves the VRI entry alone: no warning
    data = _update(b_lta_vri, lambda w, dss: None)
    report = _verify(data)
    assert report.indication is Indication.TOTAL_PASSED, report.to_dict()
    assert not any("VRI" in w for s in report.signatures for w in s.warnings)


@pytest.mark.parametrize(
    ("edit", "change"),
    [
        (_remove_entry, "removed"),
        (_replace_entry(_without_ocsp), "modified"),
    ],
    ids=["removed", "modified"],
)
def test_vri_entry_changed_later_passes_with_warning(
    b_lta_vri: bytes, edit: Callable[[Any, Any], None], change: str
) -> None:
    data = _update(b_lta_vri, edit)
    report = _verify(data)
    assert report.indication is Indication.TOTAL_PASSED, report.to_dict()
    doc = _doc_ts(report)
    assert doc.integrity is not None
    assert doc.integrity.modifications is Modifications.NONE  # still LTA_UPDATES
    (warning,) = [w for w in doc.warnings if "VRI entry" in w]
    assert f"was {change} in a later revision" in warning and ALLOWED in warning
    assert warning.split()[2].startswith("/") and len(warning.split()[2]) == 41  # the key
    # the signature's revision had no VRI yet (added later): nothing to warn about there
    (sig,) = [s for s in report.signatures if s.kind == "signature"]
    assert sig.indication is Indication.TOTAL_PASSED
    assert not any("VRI" in w for w in sig.warnings)
    # the evidence of the dropped entry is still read (from the earlier revision)
    assert sig.chain[0].revocation.source in ("dss", "vri")


def test_vri_removed_with_page_change_is_indeterminate(b_lta_vri: bytes) -> None:
    # the page content changed after signing, no DocMDP: INDETERMINATE with the change named
    # (docs/decisions.md "Modification analysis"), never TOTAL-PASSED
    def edit(w: Any, dss: Any) -> None:
        _remove_entry(w, dss)
        _change_page(w, dss)

    report = _verify(_update(b_lta_vri, edit))
    assert report.indication is Indication.INDETERMINATE, report.to_dict()
    for s in report.signatures:
        assert s.indication is Indication.INDETERMINATE
        assert s.subindication is SubIndication.SIG_CONSTRAINTS_FAILURE
        assert s.integrity is not None and s.integrity.modifications is Modifications.OTHER
        assert any("page 1: /Contents changed" in r for r in s.reasons), s.reasons
        assert [m.cls for m in s.modifications if not m.allowed] == ["other"]


def _add_entry(key: str, entry: Callable[[Any, Any], dict[str, Any]]) -> Callable[[Any, Any], None]:
    from pyhanko.pdf_utils import generic

    def edit(w: Any, dss: Any) -> None:
        old = dss["/VRI"][_vri_key(dss)]
        new = generic.DictionaryObject({generic.NameObject(k): v for k, v in entry(w, old).items()})
        dss["/VRI"][generic.NameObject(key)] = w.add_object(new)

    return edit


def _copy(w: Any, old: Any) -> dict[str, Any]:
    return {k: old.raw_get(k) for k in old}


def _extra_key(w: Any, old: Any) -> dict[str, Any]:
    from pyhanko.pdf_utils import generic

    return {**_copy(w, old), "/Foo": generic.NumberObject(1)}


def _not_stream_refs(w: Any, old: Any) -> dict[str, Any]:
    from pyhanko.pdf_utils import generic

    return {**_copy(w, old), "/OCSP": generic.ArrayObject([generic.NumberObject(1)])}


def _entry_as_stream(w: Any, dss: Any) -> None:
    from pyhanko.pdf_utils import generic

    dss["/VRI"][_vri_key(dss)] = w.add_object(generic.StreamObject(stream_data=b"x"))


def _drop_vri_dict(w: Any, dss: Any) -> None:
    del dss["/VRI"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_add_entry("/NOT-A-SHA1-HASH", _copy), "is not formatted correctly"),
        (_add_entry("/" + "A" * 40, _extra_key), "Unexpected keys in VRI dictionary"),
        (_replace_entry(_extra_key), "Unexpected keys in VRI dictionary"),
        (_replace_entry(_not_stream_refs), "array of stream references"),
        (_entry_as_stream, "Unexpected stream"),
        # deleting /VRI as a whole stays as strict as pyHanko
        (_drop_vri_dict, "Key /VRI was deleted"),
    ],
    ids=[
        "new-bad-key",
        "new-extra-key",
        "modified-extra-key",
        "modified-not-stream-refs",
        "modified-to-stream",
        "vri-dict-deleted",
    ],
)
def test_malformed_vri_still_flagged(
    b_lta_vri: bytes, edit: Callable[[Any, Any], None], message: str
) -> None:
    # unexplained DSS content is `other`: INDETERMINATE (no DocMDP), with pyHanko's message
    report = _verify(_update(b_lta_vri, edit))
    assert report.indication is Indication.INDETERMINATE, report.to_dict()
    doc = _doc_ts(report)
    assert doc.indication is Indication.INDETERMINATE
    assert doc.subindication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert any(message in r for r in doc.reasons), doc.reasons
    assert not any("VRI entry" in w for w in doc.warnings)


def test_policy_is_pyhankos_default_but_for_the_dss_rule() -> None:
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DSSCompareRule

    from ltv.pipeline.diff_policy import VriTolerantDSSCompareRule, ltv_diff_policy

    ours, dss_rule = ltv_diff_policy()

    def shape(rule: Any) -> tuple[Any, ...]:
        inner = getattr(rule, "rule", None)
        if isinstance(inner, VriTolerantDSSCompareRule):
            inner = DSSCompareRule()
        level = getattr(rule, "level", None)
        return (type(rule), type(inner), level, vars(inner) if inner is not None else vars(rule))

    assert [shape(r) for r in ours.global_rules] == [
        shape(r) for r in DEFAULT_DIFF_POLICY.global_rules
    ]
    assert sum(getattr(r, "rule", None) is dss_rule for r in ours.global_rules) == 1
    for attr in ("reject_object_freeing", "ignore_orphaned_objects", "ignore_identical_objects"):
        assert getattr(ours, attr) == getattr(DEFAULT_DIFF_POLICY, attr)
    assert [type(r) for r in ours.form_rule.field_rules] == [
        type(r) for r in DEFAULT_DIFF_POLICY.form_rule.field_rules
    ]
    assert [vars(r) for r in ours.form_rule.field_rules] == [
        vars(r) for r in DEFAULT_DIFF_POLICY.form_rule.field_rules
    ]
    # the copied DSSCompareRule.apply calls _check_vri by class name: if pyHanko changes that
    # method, the copy in ltv/pipeline/diff_policy.py must be reviewed
    import inspect

    assert "DSSCompareRule._check_vri(old, new, old_vri, new_vri)" in inspect.getsource(
        DSSCompareRule.apply
    )
