"""The difference-analysis rules of stage 2b: pyHanko's default policy, VRI-tolerant.

``ltv.pipeline.changes`` runs these rules one by one (and its own after them) to classify each
revision after a signature; ``ltv_diff_policy`` stays rule for rule pyHanko's default so that
a pyHanko upgrade that changes the default shows up in its guard test.

pyHanko's ``DEFAULT_DIFF_POLICY`` (pyhanko/sign/diff_analysis/policies.py, pyHanko 0.38) is
rebuilt rule for rule, with one change: its ``DSSCompareRule`` treats any change to, or the
deletion of, a /VRI entry that existed in the signed revision as a SuspiciousModification.
Here such an entry may be modified or removed by a later DSS update:

- ETSI EN 319 142-1 §5.4.2.3: /VRI is optional (informative, deprecated in recent versions),
  and validation data is what /Certs, /OCSPs, /CRLs hold;
- ltv reads evidence from the DSS and VRI of *every* revision (``ltv.pipeline.extract``), so
  removing or replacing a VRI entry later hides nothing from validation.

Everything else stays as strict as pyHanko: a modified VRI entry goes through pyHanko's own
structural check for *new* entries (key format, allowed keys /Type /TU /TS /Cert /CRL /OCSP,
arrays of stream references, no clobbered objects), an in-place overwrite of an indirect VRI
entry object is still unexplained, and deleting the whole /VRI dictionary is still suspicious.
Each tolerated change is recorded (:class:`VriChange`) so the report can carry a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.reader import HistoricalResolver, RawPdfPath
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DocInfoRule,
    DSSCompareRule,
    FormUpdatingRule,
    GenericFieldModificationRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    ReferenceUpdate,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
    XrefStreamRule,
)
from pyhanko.sign.diff_analysis.commons import compare_key_refs
from pyhanko.sign.diff_analysis.rules.form_field_rules import _validate_dss_substructure
from pyhanko.sign.diff_analysis.rules_api import Context

__all__ = ["VriChange", "VriTolerantDSSCompareRule", "ltv_diff_policy"]


@dataclass(frozen=True)
class VriChange:
    """A /VRI entry of the signed revision that a later revision modified or removed."""

    key: str
    change: Literal["modified", "removed"]
    revision: int
    """The first later revision (pyHanko's 0-based numbering) that shows the change."""

    def warning(self) -> str:
        return (
            f"VRI entry {self.key} was {self.change} in a later revision ({self.revision}); "
            "allowed: evidence is read from every revision"
        )


class VriTolerantDSSCompareRule(DSSCompareRule):
    """pyHanko's ``DSSCompareRule``, except that existing VRI entries may change or go.

    ``apply`` is pyHanko 0.38's ``DSSCompareRule.apply`` verbatim but for the last step: pyHanko
    calls ``DSSCompareRule._check_vri`` by class name, so it cannot be overridden alone.
    """

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[VriChange] = []

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterator[ReferenceUpdate]:
        # --- pyHanko 0.38 DSSCompareRule.apply (form_field_rules.py), unchanged -------------
        dss_context = Context.from_absolute(old, RawPdfPath("/Root", "/DSS"))
        old_dss, new_dss = yield from misc.map_with_return(
            compare_key_refs("/DSS", old, old.root, new.root),
            ReferenceUpdate.curry_ref(context_checked=dss_context),
        )
        if new_dss is None:
            return

        if old_dss is None:
            old_dss = generic.DictionaryObject()  # type: ignore[no-untyped-call]
        nodict_err = "/DSS is not a dictionary"
        if not isinstance(old_dss, generic.DictionaryObject):
            raise misc.PdfReadError(nodict_err)  # pragma: no cover
        if not isinstance(new_dss, generic.DictionaryObject):
            raise SuspiciousModification(nodict_err)

        dss_der_stream_keys = {"/Certs", "/CRLs", "/OCSPs"}
        dss_expected_keys = {"/Type", "/VRI"} | dss_der_stream_keys
        dss_keys = set(new_dss.keys())

        if not (dss_keys <= dss_expected_keys):
            raise SuspiciousModification(f"Unexpected keys in DSS: {dss_keys - dss_expected_keys}.")

        yield from _validate_dss_substructure(
            old,
            new,
            old_dss,
            new_dss,
            dss_der_stream_keys,
            is_vri=False,
            context=dss_context,
        )

        # deleting /VRI as a whole is still rejected here by compare_key_refs
        old_vri, new_vri = yield from misc.map_with_return(
            compare_key_refs("/VRI", old, old_dss, new_dss),
            ReferenceUpdate.curry_ref(
                context_checked=Context.from_absolute(old, RawPdfPath("/Root", "/DSS", "/VRI"))
            ),
        )

        nodict_err = "/VRI is not a dictionary"
        if new_vri is not None:
            if not isinstance(new_vri, generic.DictionaryObject):
                raise SuspiciousModification(nodict_err)
            if old_vri is None:
                old_vri = generic.DictionaryObject()  # type: ignore[no-untyped-call]
            elif not isinstance(old_vri, generic.DictionaryObject):
                raise misc.PdfReadError(nodict_err)  # pragma: no cover
            # --- the one change: the tolerant VRI check ----------------------------------
            yield from self._check_vri_tolerant(old, new, old_vri, new_vri)

    def _check_vri_tolerant(
        self,
        old: HistoricalResolver,
        new: HistoricalResolver,
        old_vri: generic.DictionaryObject,
        new_vri: generic.DictionaryObject,
    ) -> Iterator[ReferenceUpdate]:
        """Record modified/removed entries, then run pyHanko's ``_check_vri`` against only the
        unchanged ones: every entry of the new /VRI that is not unchanged — new *or* modified —
        then gets pyHanko's full structural check for new entries."""
        unchanged = generic.DictionaryObject()  # type: ignore[no-untyped-call]
        if isinstance(new_vri.raw_get("/Type") if "/Type" in new_vri else None, generic.NameObject):
            # a /Type name in the /VRI dictionary itself (Adobe writes /Type /VRI): not an
            # entry, and harmless (ISO 32000-2 §12.8.4.4 defines only the hash keys)
            new_vri = generic.DictionaryObject(  # type: ignore[no-untyped-call]
                {k: new_vri.raw_get(k) for k in new_vri if k != "/Type"}
            )
        for key in old_vri:
            old_value = old_vri.raw_get(key)
            try:
                new_value = new_vri.raw_get(key)
            except KeyError:
                self._record(VriChange(str(key), "removed", new.revision))
                continue
            # as pyHanko: indirect or direct doesn't matter, the raw values are compared
            if new_value == old_value:
                unchanged[key] = old_value
            else:
                self._record(VriChange(str(key), "modified", new.revision))
        yield from DSSCompareRule._check_vri(old, new, unchanged, new_vri)  # type: ignore[no-untyped-call]

    def _record(self, change: VriChange) -> None:
        if not any(c.key == change.key and c.change == change.change for c in self.changes):
            self.changes.append(change)


def ltv_diff_policy() -> tuple[StandardDiffPolicy, VriTolerantDSSCompareRule]:
    """pyHanko's DEFAULT_DIFF_POLICY with the VRI-tolerant DSS rule → (policy, that rule).

    A fresh pair per call: the rule collects the VRI changes of one review."""
    dss_rule = VriTolerantDSSCompareRule()
    lta = ModificationLevel.LTA_UPDATES
    policy = StandardDiffPolicy(
        global_rules=[
            CatalogModificationRule(),  # type: ignore[no-untyped-call]
            DocInfoRule().as_qualified(lta),
            XrefStreamRule().as_qualified(lta),
            ObjectStreamRule().as_qualified(lta),
            dss_rule.as_qualified(lta),
            MetadataUpdateRule().as_qualified(lta),  # type: ignore[no-untyped-call]
        ],
        form_rule=FormUpdatingRule(
            field_rules=[
                SigFieldCreationRule(),  # type: ignore[no-untyped-call]
                SigFieldModificationRule(),
                GenericFieldModificationRule(),
            ],
        ),
    )
    return policy, dss_rule
