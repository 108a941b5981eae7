"""(2b) Changes after signing: every later revision classified, then judged by what the signer
allowed.

For one signature (or document timestamp) whose signed revision is ``base``, each later revision
``r`` is compared with ``base`` (as pyHanko's ``StandardDiffPolicy.review_file`` does: effects of
intermediate revisions stay visible) and every object it writes or frees is placed in one class:

``dss``, ``timestamp``, ``signature``, ``form-fill``, ``annotation``, ``metadata``,
``structural`` — or ``other`` when no rule explains it. ``none`` marks a revision with nothing in
it. The decision table is in docs/decisions.md ("Modification analysis").

The engine is pyHanko's difference analysis (pyHanko 0.38, ``pyhanko.sign.diff_analysis``): its
rules — catalog, /Info, XMP, DSS (ltv's VRI-tolerant one), xref/object streams, the form rules
(signature fields, form filling, appearance streams) — explain objects exactly as they do for
pyHanko, including its bookkeeping of objects reachable along several paths (an object is
explained only when every path by which the signed revision reaches it is). What ltv changes is
the orchestration: pyHanko stops at the first unexplained object and reports one message; here
each rule runs on its own (one failing rule cannot hide another's classification), each
explained object is labelled with its class, and ltv's own rules come after pyHanko's:

- freed xref entries of objects that were not live in the previous revision, or that nothing
  reached → ``structural`` (pyHanko rejects every free entry);
- objects rewritten unchanged, new objects nothing reaches, a structure tree
  (/StructTreeRoot, /StructParents, /Tabs) updated, a page's /Resources replaced by an equal
  copy or extended by names its content never uses → ``structural``;
- annotations added, modified or removed on a page (non-widget, of a markup/link type, no
  action beyond /URI and /GoTo) → ``annotation`` (pyHanko's default policy has no such rule);
- page /PieceInfo and /LastModified (private producer data) → ``metadata``.

One thing ltv is *stricter* about: a new object that the signed revision already referenced
(a dangling reference, resolved to null when it was signed) can never be "new and unused":
filling it in later changes what the signed revision shows (a hide-and-replace shadow
attack; pyHanko's orphan rule would clear it).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ltv.report import ModificationClass

__all__ = [
    "CLASS_ORDER",
    "Finding",
    "ModificationClass",
    "RevisionChanges",
    "classify",
]

CLASS_ORDER: tuple[ModificationClass, ...] = get_args(ModificationClass)

_MAX_DETAILS = 12
"""Details kept per class and revision (the rest is counted)."""

# ISO 32000-2 §12.5.6: markup annotations, links and popups. Anything else (widgets, screens,
# rich media, 3D, movies, printer marks, trap nets, watermarks…) is not a "comment".
_COMMENT_SUBTYPES = frozenset(
    {
        "/Text",
        "/Link",
        "/FreeText",
        "/Line",
        "/Square",
        "/Circle",
        "/Polygon",
        "/PolyLine",
        "/Highlight",
        "/Underline",
        "/Squiggly",
        "/StrikeOut",
        "/Stamp",
        "/Caret",
        "/Ink",
        "/Popup",
        "/FileAttachment",
        "/Redact",
    }
)
_HARMLESS_ACTIONS = frozenset({"/URI", "/GoTo"})
_PAGE_STRUCTURAL_KEYS = frozenset({"/StructParents", "/Tabs"})
_PAGE_METADATA_KEYS = frozenset({"/PieceInfo", "/LastModified"})
_DEEP_PAGE_KEYS = frozenset({"/Annots", "/Resources"})
_CATALOG_STRUCTURAL_KEYS = frozenset({"/Extensions", "/MarkInfo", "/Version"})
_NAME_TOKEN = re.compile(rb"/([^\s/\[\]()<>{}%]*)")


@dataclass(frozen=True)
class Finding:
    """One class of change in one revision, with what changed."""

    cls: ModificationClass
    revision: int
    """pyHanko's 0-based revision number, as ``SignatureReport.revision``."""
    details: tuple[str, ...]
    fields: tuple[str, ...] = ()
    """Form fields the change concerns (for FieldMDP locks)."""
    valid_when_locked: bool = True
    """pyHanko's verdict: every update would be acceptable even if ``fields`` were locked."""
    valid_when_certifying: bool = True
    """pyHanko's verdict: every update is acceptable after a certification signature."""


@dataclass(frozen=True)
class RevisionChanges:
    revision: int
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    """Tolerated changes worth a warning (a VRI entry modified or removed)."""


# -- the per-revision engine ------------------------------------------------------------------


@dataclass
class _Acc:
    details: list[str] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    locked_ok: bool = True
    certify_ok: bool = True


class _Review:
    """The classification of one later revision ``new`` against the signed revision ``old``."""

    def __init__(self, old: Any, new: Any, prev: Any) -> None:
        from pyhanko.pdf_utils import generic
        from pyhanko.sign.diff_analysis.rules_api import Context

        self.old, self.new, self.prev = old, new, prev
        self.reader = new.reader
        self.revision: int = new.revision
        self.found: dict[tuple[ModificationClass, str], _Acc] = {}
        self.explained: set[Any] = set()
        self.classes: dict[Any, set[ModificationClass | None]] = {}
        xref_data = self.reader.xrefs.get_xref_data(self.revision)
        # (idnum, generation - 1) as pyHanko lists them among the explicit refs
        self.freed = {
            generic.Reference(idnum, gen - 1, pdf=self.reader)
            for idnum, gen in xref_data.freed.items()
        }
        self.changed = set(new.explicit_refs_in_revision()) - self.freed
        old._load_reverse_xref_cache()
        # pyHanko's multi-usage table: an object the signed revision reaches is explained only
        # when every path reaching it is. Paths from other trailer keys than /Root and /Info
        # (e.g. Adobe's /AdditionalStreams) are not part of the document and not counted.
        self.pending: dict[Any, set[Any]] = {}
        for ref in self.changed:
            paths = {p for p in old._get_usages_of_ref(ref) if _in_document(p)}
            if paths:
                self.pending[ref] = {Context.from_absolute(old, p) for p in paths}
        self.page_numbers = _page_numbers(old)
        self.reported: set[Any] = set()
        self.catalog_ignored: set[str] = set()
        """Catalog keys an ltv rule judged (the catalog object may then be approved)."""
        """Unexplained objects already named by a more precise finding."""
        self.notes: list[str] = []
        """Tolerated findings worth a warning (VRI entries changed by a later DSS update)."""

    # -- bookkeeping --------------------------------------------------------------------------

    def note(
        self,
        cls: ModificationClass,
        detail: str,
        *,
        key: str = "",
        field_name: str | None = None,
        locked_ok: bool = True,
        certify_ok: bool = True,
    ) -> None:
        acc = self.found.setdefault((cls, key), _Acc())
        if detail and detail not in acc.details:
            acc.details.append(detail)
        if field_name is not None:
            acc.fields.add(field_name)
            acc.locked_ok = acc.locked_ok and locked_ok
        acc.certify_ok = acc.certify_ok and certify_ok

    def approve(self, update: Any, cls: ModificationClass | None) -> None:
        """pyHanko's ``ingest_ref``: clear the paths the update vouches for."""
        from pyhanko.sign.diff_analysis.rules_api import ApprovalType

        ref = update.updated_ref
        self.classes.setdefault(ref, set()).add(cls)
        paths = self.pending.get(ref)
        if paths is not None:
            kind = update.approval_type
            if kind == ApprovalType.BLANKET_APPROVE:
                paths.clear()
            elif kind == ApprovalType.APPROVE_RELATIVE_CONTEXT:
                paths -= {c for c in paths if c.relative_view == update.context_checked}
            else:
                paths.discard(update.context_checked)
            if paths:
                return
        self.explained.add(ref)

    def approve_ref(self, ref: Any, cls: ModificationClass | None) -> None:
        from pyhanko.sign.diff_analysis.rules_api import ReferenceUpdate

        self.approve(ReferenceUpdate(ref), cls)

    def unexplained(self) -> set[Any]:
        return self.changed - self.explained

    # -- helpers ------------------------------------------------------------------------------

    def existed(self, ref: Any, revision: int | None = None) -> bool:
        """The object was live (in use) at ``revision`` (default: the signed one)."""
        rev = self.old.revision if revision is None else revision
        try:
            return self.reader.xrefs.get_historical_ref(ref, rev) is not None
        except Exception:  # a malformed xref history: say it did not
            return False

    def where(self, ref: Any) -> str:
        """The shortest path by which the signed revision reaches ``ref``, pages numbered."""
        paths = sorted(
            (p for p in self.old._get_usages_of_ref(ref) if _in_document(p)),
            key=lambda p: (len(p.path), str(p)),
        )
        if not paths:
            return ""
        return _describe_path(self.old, paths[0], self.page_numbers)

    def describe(self, ref: Any) -> str:
        where = self.where(ref)
        what = _type_name(self.new, ref)
        head = f"object {ref.idnum}" + (f" ({what})" if what else "")
        if self.existed(ref):
            return f"{head} replaced" + (f", used at {where}" if where else "")
        return f"{head} added" + (f", referenced at {where}" if where else "")

    def new_deps(self, obj: Any) -> set[Any]:
        """Objects written after the signed revision that ``obj`` reaches (no recursion into
        older ones; references to objects that exist nowhere are skipped, not fatal)."""
        return _collect(self.new, obj, since=self.old.revision + 1)

    # -- the result ---------------------------------------------------------------------------

    def findings(self) -> tuple[Finding, ...]:
        merged: dict[ModificationClass, _Acc] = {}
        for (cls, _key), acc in self.found.items():
            into = merged.setdefault(cls, _Acc())
            into.details.extend(d for d in acc.details if d not in into.details)
            into.fields |= acc.fields
            into.locked_ok = into.locked_ok and acc.locked_ok
            into.certify_ok = into.certify_ok and acc.certify_ok
        if not merged:
            merged["none"] = _Acc(details=["no objects changed"])
        out = []
        for cls in CLASS_ORDER:
            if cls not in merged:
                continue
            acc = merged[cls]
            details = acc.details[:_MAX_DETAILS]
            if len(acc.details) > _MAX_DETAILS:
                details.append(f"… and {len(acc.details) - _MAX_DETAILS} more")
            out.append(
                Finding(
                    cls=cls,
                    revision=self.revision,
                    details=tuple(details),
                    fields=tuple(sorted(acc.fields)),
                    valid_when_locked=acc.locked_ok,
                    valid_when_certifying=acc.certify_ok,
                )
            )
        return tuple(out)


def classify(reader: Any, signed_revision: int) -> tuple[RevisionChanges, ...]:
    """Classify every revision after ``signed_revision`` (pyHanko's 0-based numbering)."""
    out = []
    old = reader.get_historical_resolver(signed_revision)
    for rev in range(signed_revision + 1, reader.xrefs.total_revisions):
        new = reader.get_historical_resolver(rev)
        prev = reader.get_historical_resolver(rev - 1)
        review = _Review(old, new, prev)
        _run(review)
        out.append(
            RevisionChanges(revision=rev, findings=review.findings(), notes=tuple(review.notes))
        )
    return tuple(out)


def _run(rv: _Review) -> None:
    from pyhanko.sign.diff_analysis import SuspiciousModification

    _freed(rv)
    _xref_form(rv)
    _poisoned = _dangling(rv)
    _catalog(rv)
    for step in (_global_rules, _form_rules):
        try:
            step(rv)
        except SuspiciousModification as err:  # pragma: no cover - each step guards itself
            rv.note("other", _msg(err))
    _structure_tree(rv)
    _pages(rv)
    _modified_annotations(rv)
    _orphans(rv, _poisoned)
    _identical(rv)
    for ref in sorted(rv.unexplained() - _poisoned - rv.reported, key=lambda r: r.idnum):
        if ref == rv.new.root_ref and any(k == "catalog" for _, k in rv.found):
            continue  # already named key by key
        rv.note("other", rv.describe(ref), key="object")


# -- ltv rules ---------------------------------------------------------------------------------


def _freed(rv: _Review) -> None:
    """Free xref entries: harmless unless they delete an object something used."""
    quiet: list[int] = []
    for ref in sorted(rv.freed, key=lambda r: r.idnum):
        if ref.generation < 0 or not rv.existed(ref, rv.revision - 1):
            quiet.append(ref.idnum)  # not live before: freeing it changes nothing
            continue
        used_old = [p for p in rv.old._get_usages_of_ref(ref) if _in_document(p)]
        if used_old:
            rv.note("other", f"object {ref.idnum}, used at {rv.where(ref)}, deleted", key="free")
            continue
        rv.prev._load_reverse_xref_cache()
        used_prev = [p for p in rv.prev._get_usages_of_ref(ref) if _in_document(p)]
        if used_prev:
            where = _describe_path(rv.prev, used_prev[0], _page_numbers(rv.prev))
            rv.note("other", f"object {ref.idnum} (used at {where}) deleted", key="free")
        else:
            quiet.append(ref.idnum)
    if quiet:
        rv.note("structural", f"free xref entries for objects not in use: {_ids(quiet)}")


def _xref_form(rv: _Review) -> None:
    xrefs = rv.reader.xrefs

    def form(rev: int) -> str:
        meta = xrefs.get_xref_container_info(rev)
        if xrefs.get_xref_data(rev).hybrid is not None:
            return "hybrid xref"
        return "xref stream" if meta.stream_ref is not None else "xref table"

    now, before = form(rv.revision), form(rv.revision - 1)
    if now != before:
        rv.note("structural", f"{now} instead of {before}")


def _dangling(rv: _Review) -> set[Any]:
    """New objects that the signed revision already referenced (then resolving to null)."""
    poisoned = set()
    for ref in rv.changed:
        if rv.existed(ref) or ref not in rv.pending:
            continue
        poisoned.add(ref)
        rv.note(
            "other",
            f"object {ref.idnum} added, which the signed revision referenced at "
            f"{rv.where(ref)} while it did not exist",
            key="dangling",
        )
    return poisoned


def _catalog(rv: _Review) -> None:
    """Name each catalog entry that changed; pyHanko's rule approves the catalog object."""
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.diff_analysis.constants import ROOT_EXEMPT_STRICT_COMPARISON

    old_root, new_root = rv.old.root, rv.new.root
    if not isinstance(new_root, generic.DictionaryObject):  # pragma: no cover - reader rejects
        rv.note("other", "document catalog is not a dictionary", key="catalog")
        return
    for key in sorted(set(old_root.keys()) | set(new_root.keys())):
        change = _key_change(rv, old_root, new_root, key)
        if change is None:
            continue
        if key in _CATALOG_STRUCTURAL_KEYS:
            rv.note("structural", f"catalog {key} {change}")
        elif key == "/StructTreeRoot":
            continue  # _structure_tree
        elif key in ROOT_EXEMPT_STRICT_COMPARISON:
            continue  # DSS, AcroForm, Metadata: their own rules
        elif key == "/Names" and _names(rv, old_root, new_root):
            rv.catalog_ignored.add(key)
        else:
            rv.note("other", f"catalog entry {key} {change}", key="catalog")


# ISO 32000-2 Table 32: name trees that only annotations use (named appearance streams) or that
# only navigation uses (named destinations, targets of links); any other (/JavaScript,
# /EmbeddedFiles, /Pages, /Templates, …) is content or behaviour
_NAME_TREES_FOR_COMMENTS = {
    "/AP": "named annotation appearances",
    "/Dests": "named destinations",
}


def _names(rv: _Review, old_root: Any, new_root: Any) -> bool:
    """The catalog's /Names changed only in name trees comments use: an ``annotation`` change
    (Acrobat adds them with comments). Returns True when that is all, having approved what
    the trees hold; False leaves the change to be named ``other``."""
    from pyhanko.pdf_utils import generic

    old_names = _get(old_root, "/Names") if "/Names" in old_root else generic.DictionaryObject()  # type: ignore[no-untyped-call]
    new_names = _get(new_root, "/Names")
    if not isinstance(old_names, generic.DictionaryObject) or not isinstance(
        new_names, generic.DictionaryObject
    ):
        return False
    changed = [
        k
        for k in sorted(set(old_names.keys()) | set(new_names.keys()))
        if _key_change(rv, old_names, new_names, k, deep=True) is not None
    ]
    if not changed or any(k not in _NAME_TREES_FOR_COMMENTS or k not in new_names for k in changed):
        return False
    for key in changed:
        rv.note("annotation", f"catalog /Names {key} ({_NAME_TREES_FOR_COMMENTS[key]}) updated")
        for dep in rv.new_deps(new_names.raw_get(key)):
            if dep in rv.changed and not rv.existed(dep):
                rv.approve_ref(dep, "annotation")
    raw = new_root.raw_get("/Names")
    if isinstance(raw, generic.IndirectObject) and raw.reference in rv.changed:
        rv.approve_ref(raw.reference, None)
    prefixes = {("/Root", "/Names", k) for k in changed}
    for ref in list(rv.unexplained()):
        if not rv.existed(ref):
            continue
        paths = [p for p in rv.old._get_usages_of_ref(ref) if _in_document(p)]
        if paths and all(tuple(p.path[:3]) in prefixes for p in paths):
            rv.approve_ref(ref, "annotation")
    return True


def _global_rules(rv: _Review) -> None:
    """pyHanko's global rules (``ltv_diff_policy``), each on its own, labelled."""
    from pyhanko.sign.diff_analysis import (
        CatalogModificationRule,
        DocInfoRule,
        DSSCompareRule,
        MetadataUpdateRule,
        SuspiciousModification,
    )

    from ltv.pipeline.diff_policy import ltv_diff_policy

    policy, dss_rule = ltv_diff_policy()
    for rule in policy.global_rules:
        inner = getattr(rule, "rule", rule)
        cls: ModificationClass | None
        detail = ""
        if isinstance(inner, CatalogModificationRule):
            # the catalog object carries the change; _catalog names what changed in it, and
            # the structure tree is judged by _structure_tree
            inner.ignored_keys = (
                frozenset(inner.ignored_keys) | {"/StructTreeRoot"} | rv.catalog_ignored
            )
            cls, where = None, "catalog"
        elif isinstance(inner, DSSCompareRule):
            cls, where = "dss", "DSS"
        elif isinstance(inner, DocInfoRule):
            cls, where = "metadata", "/Info"
            detail = "document information (/Info) updated"
        elif isinstance(inner, MetadataUpdateRule):
            cls, where = "metadata", "XMP"
            detail = "XMP metadata (/Metadata) updated"
        else:  # xref streams, object streams: containers, judged by their content
            cls, where = None, type(inner).__name__
        try:
            for _level, update in rule.apply_qualified(rv.old, rv.new):
                rv.approve(update, cls)
                if update.updated_ref not in rv.changed:
                    continue  # vouched for again, but written by an earlier revision
                if cls == "dss":
                    rv.note("dss", _dss_detail(rv))
                elif cls == "metadata" and _unchanged(rv, update.updated_ref):
                    rv.note("structural", f"object {update.updated_ref.idnum} rewritten unchanged")
                elif cls is not None:
                    rv.note(cls, detail)
        except SuspiciousModification as err:
            if where == "catalog" and any(k == "catalog" for _, k in rv.found):
                continue  # _catalog named each entry already
            rv.note("other", f"{where}: {_msg(err)}", key=where)
            if cls == "dss":
                dss_rule.changes.clear()  # not tolerated: the DSS update is unexplained
    rv.notes.extend(c.warning() for c in dss_rule.changes)


@functools.cache
def _tagged_update_class() -> Any:
    """pyHanko's ``FormUpdate`` with the name of the rule that made it (made once: creating a
    dataclass costs about a millisecond)."""
    from pyhanko.sign.diff_analysis.form_rules_api import FormUpdate

    @dataclasses.dataclass(frozen=True)
    class Tagged(FormUpdate):
        """A field rule's update, with the name of the rule that made it."""

        rule: str = ""

    return Tagged


def _form_rules(rv: _Review) -> None:
    """pyHanko's form rules, each field rule on its own and each field on its own."""
    from pyhanko.pdf_utils import misc
    from pyhanko.sign.diff_analysis import (
        FormUpdatingRule,
        ModificationLevel,
        SuspiciousModification,
    )
    from pyhanko.sign.diff_analysis.form_rules_api import FieldMDPRule

    from ltv.pipeline.diff_policy import ltv_diff_policy

    policy, _ = ltv_diff_policy()
    field_rules = policy.form_rule.field_rules if policy.form_rule is not None else []
    kinds = _signature_fields(rv.new)  # what each signature field holds now
    before = _signature_fields(rv.old)  # … and held when signed
    visible = _visible_fields(rv.new)

    class Guarded(FieldMDPRule):
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def apply(self, context: Any) -> Iterator[Any]:
            check = getattr(self.inner, "check_form_field", None)
            if check is None:  # SigFieldCreationRule: one check over the whole form
                try:
                    yield from _tag(self.inner.apply(context), self.inner)
                except SuspiciousModification as err:
                    rv.note("other", f"form: {_msg(err)}", key="form")
                return
            for fq_name, spec in context.field_specs.items():
                try:
                    yield from _tag(check(fq_name, spec, context), self.inner)
                except SuspiciousModification as err:
                    rv.note("other", f"field {fq_name!r}: {_msg(err)}", key="form")

    Tagged = _tagged_update_class()

    def _tag(updates: Iterable[Any], inner: Any) -> Iterator[Any]:
        for level, update in updates:
            values = {f.name: getattr(update, f.name) for f in dataclasses.fields(update)}
            yield level, Tagged(**values, rule=type(inner).__name__)

    for r in field_rules:
        if hasattr(r, "approve_widget_bindings"):
            # widgets on pages are judged by _pages, with every other page change
            r.approve_widget_bindings = False
    rule = FormUpdatingRule(field_rules=[Guarded(r) for r in field_rules])
    try:
        for level, update in rule.apply(rv.old, rv.new):
            name = update.field_name
            origin = getattr(update, "rule", None)
            if origin is None:
                # the form's own objects: /AcroForm, /Fields carry the change; /DR updated
                dr = level == ModificationLevel.FORM_FILLING
                rv.approve(update, "structural" if dr else None)
                if dr and update.updated_ref in rv.changed:
                    rv.note("structural", "form default resources (/AcroForm /DR) updated")
                continue
            cls: ModificationClass
            if origin == "GenericFieldModificationRule":
                cls, detail = "form-fill", f"field {name!r} filled or changed"
            elif name is None or before.get(name) == kinds.get(name, "gone") != "empty":
                # a signature already there when signed (or the form's plumbing): no change
                rv.approve(update, None)
                continue
            else:
                kind = kinds.get(name, "empty")
                new_field = name not in before
                if kind == "timestamp" and name not in visible:
                    cls, detail = "timestamp", f"document timestamp in field {name!r}"
                elif kind == "timestamp":
                    cls = "signature"
                    detail = f"document timestamp with a visible appearance in field {name!r}"
                elif kind == "signature":
                    cls = "signature"
                    detail = f"{'new ' if new_field else ''}signature field {name!r} signed"
                else:
                    cls, detail = "signature", f"empty signature field {name!r} added"
            rv.approve(update, cls)
            if update.updated_ref not in rv.changed:
                continue  # written by an earlier revision, reported there
            rv.note(
                cls,
                detail,
                key=f"field:{name}",
                field_name=name,
                locked_ok=bool(update.valid_when_locked),
                certify_ok=bool(update.valid_when_certifying),
            )
    except SuspiciousModification as err:
        rv.note("other", f"form: {_msg(err)}", key="form")
    except (misc.PdfError, AssertionError, KeyError, TypeError) as err:
        rv.note("other", f"form could not be compared: {_msg(err)}", key="form")


def _structure_tree(rv: _Review) -> None:
    """ISO 32000-2 §14.7: logical structure, read by assistive technology, not rendered."""
    old_root, new_root = rv.old.root, rv.new.root
    if "/StructTreeRoot" not in new_root:
        if "/StructTreeRoot" in old_root:
            rv.note("other", "catalog entry /StructTreeRoot removed", key="catalog")
        return
    raw = new_root.raw_get("/StructTreeRoot")
    touched = _key_change(rv, old_root, new_root, "/StructTreeRoot", deep=True) is not None
    for ref in list(rv.unexplained()):
        if not rv.existed(ref):
            continue
        paths = [p for p in rv.old._get_usages_of_ref(ref) if _in_document(p)]
        if paths and all(p.path[:2] == ("/Root", "/StructTreeRoot") for p in paths):
            rv.approve_ref(ref, "structural")
            touched = True
    if not touched:
        return
    for ref in rv.new_deps(raw):
        if ref in rv.changed and not rv.existed(ref):
            rv.approve_ref(ref, "structural")
    rv.note("structural", "structure tree (/StructTreeRoot) updated")


def _pages(rv: _Review) -> None:
    """Page objects rewritten: only /Annots, /Resources (extended), structure keys and
    private data may differ; annotations added or removed are named."""
    from pyhanko.pdf_utils import generic

    old_pages, new_pages = _page_list(rv.old), _page_list(rv.new)
    old_refs, new_refs = [r for r, _ in old_pages], [r for r, _ in new_pages]
    if old_refs != new_refs:
        if len(old_refs) != len(new_refs):
            what = f"{len(old_refs)} page(s) signed, {len(new_refs)} now"
        else:
            swapped = [i for i, (a, b) in enumerate(zip(old_refs, new_refs, strict=True), 1)]
            swapped = [i for i in swapped if old_refs[i - 1] != new_refs[i - 1]]
            what = "page(s) " + ", ".join(str(i) for i in swapped) + " replaced by other objects"
        rv.note("other", f"page tree changed: {what}", key="pages")
        return
    widgets = _new_signature_widgets(rv)
    for number, ((page_ref, path), _) in enumerate(zip(old_pages, new_pages, strict=True), 1):
        old_page, new_page = rv.old(page_ref), rv.new(page_ref)
        if page_ref not in rv.changed or page_ref in rv.explained:
            # the page object as signed, but an indirect /Annots or /Resources rewritten
            if _key_change(rv, old_page, new_page, "/Annots", deep=True):
                _annots(rv, page_ref, old_page, new_page, number, widgets)
            if _key_change(rv, old_page, new_page, "/Resources", deep=True):
                _resources(rv, page_ref, path, old_page, new_page, number)
            continue
        if not isinstance(new_page, generic.DictionaryObject):
            continue
        ok = True
        for key in sorted(set(old_page.keys()) | set(new_page.keys())):
            change = _key_change(rv, old_page, new_page, key, deep=key in _DEEP_PAGE_KEYS)
            if change is None or key == "/Parent":
                continue
            if key == "/Annots":
                ok = _annots(rv, page_ref, old_page, new_page, number, widgets) and ok
            elif key == "/Resources":
                ok = _resources(rv, page_ref, path, old_page, new_page, number) and ok
            elif key in _PAGE_STRUCTURAL_KEYS:
                rv.note("structural", f"page {number}: {key} {change}")
            elif key in _PAGE_METADATA_KEYS:
                rv.note("metadata", f"page {number}: {key} {change}")
            else:
                ok = False
                rv.note("other", f"page {number}: {key} {change}", key="page")
        if not ok:
            rv.reported.add(page_ref)
        if ok:
            # pyHanko blanket-approves pages too: they are referenced from all over the file
            rv.approve_ref(page_ref, None)


def _annots(
    rv: _Review, page_ref: Any, old_page: Any, new_page: Any, number: int, widgets: Any
) -> bool:
    from pyhanko.pdf_utils import generic

    old_list = _annot_refs(old_page)
    new_list = _annot_refs(new_page)
    if old_list is None or new_list is None:
        rv.note("other", f"page {number}: /Annots holds direct objects and changed", key="page")
        return False
    ok = True
    for ref in sorted(new_list - old_list, key=lambda r: r.idnum):
        if ref in widgets:
            continue  # a new signature field's widget: classified with its field
        annot = rv.new(ref)
        verdict = _comment(annot)
        if verdict is not None:
            ok = False
            rv.note("other", f"page {number}: {verdict} added (object {ref.idnum})", key="page")
            continue
        rv.note("annotation", f"page {number}: {_subtype(annot)} annotation added")
        rv.approve_ref(ref, "annotation")
        for dep in rv.new_deps(annot):
            if dep in rv.changed and not rv.existed(dep):
                rv.approve_ref(dep, "annotation")
    for ref in sorted(old_list - new_list, key=lambda r: r.idnum):
        annot = rv.old(ref)
        if _comment(annot) is not None:
            ok = False
            rv.note("other", f"page {number}: {_subtype(annot)} annotation removed", key="page")
        else:
            rv.note("annotation", f"page {number}: {_subtype(annot)} annotation removed")
    raw = new_page.raw_get("/Annots") if "/Annots" in new_page else None
    if ok and isinstance(raw, generic.IndirectObject) and raw.reference in rv.changed:
        rv.approve_ref(raw.reference, None)  # the array: its content was just judged
    return ok


def _modified_annotations(rv: _Review) -> None:
    """Old objects rewritten that the signed revision reaches only through comments (or the
    structure tree): a comment moved, edited, or its appearance redrawn."""
    for ref in sorted(rv.unexplained(), key=lambda r: r.idnum):
        if not rv.existed(ref):
            continue
        paths = [p for p in rv.old._get_usages_of_ref(ref) if _in_document(p)]
        annots: list[tuple[Any, int]] = []
        for p in paths:
            if p.path[:2] == ("/Root", "/StructTreeRoot"):
                continue
            annot = _annotation_on_path(rv.old, p)
            if annot is None:
                annots = []
                break
            annots.append(annot)
        if not annots:
            continue
        problem = _comment(rv.new(ref)) if ref in {a[0] for a in annots} else None
        if problem is not None or any(_comment(rv.old(a)) is not None for a, _ in annots):
            continue
        annot_ref, number = annots[0]
        rv.note("annotation", f"page {number}: {_subtype(rv.old(annot_ref))} annotation modified")
        rv.approve_ref(ref, "annotation")


def _resources(
    rv: _Review, page_ref: Any, page_path: Any, old_page: Any, new_page: Any, number: int
) -> bool:
    """A page's /Resources may grow by names its (unchanged) content never uses."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import RawPdfPath
    from pyhanko.sign.diff_analysis.rules_api import Context, ReferenceUpdate

    old_res, new_res = _get(old_page, "/Resources"), _get(new_page, "/Resources")
    if not isinstance(old_res, generic.DictionaryObject) or not isinstance(
        new_res, generic.DictionaryObject
    ):
        rv.note("other", f"page {number}: /Resources changed", key="page")
        return False
    added: list[str] = []
    for cat in sorted(set(old_res.keys()) | set(new_res.keys())):
        if cat == "/ProcSet":
            continue  # obsolete (ISO 32000-2 §14.2), ignored by readers
        if cat not in new_res:
            rv.note("other", f"page {number}: resources {cat} removed", key="page")
            return False
        old_cat, new_cat = _get(old_res, cat), _get(new_res, cat)
        if old_cat is None:
            old_cat = generic.DictionaryObject()  # type: ignore[no-untyped-call]
        if not isinstance(old_cat, generic.DictionaryObject) or not isinstance(
            new_cat, generic.DictionaryObject
        ):
            if _same(old_res.raw_get(cat) if cat in old_res else None, new_res.raw_get(cat)):
                continue
            rv.note("other", f"page {number}: resources {cat} changed", key="page")
            return False
        for name in old_cat:
            if name not in new_cat or not _same(old_cat.raw_get(name), new_cat.raw_get(name)):
                rv.note("other", f"page {number}: resource {cat} {name} changed", key="page")
                return False
        added.extend(f"{cat} {name}" for name in new_cat if name not in old_cat)
    if added:
        used = _content_names(rv.new, new_page)
        if used is None:
            rv.note("other", f"page {number}: resources added, content unreadable", key="page")
            return False
        clash = [a for a in added if a.split(" ", 1)[1] in used]
        if clash:
            rv.note(
                "other",
                f"page {number}: resources {', '.join(clash)} added and used by the signed "
                "page content",
                key="page",
            )
            return False
        rv.note(
            "structural",
            f"page {number}: resources {', '.join(added)} added, not used by the page content",
        )
    else:
        rv.note("structural", f"page {number}: /Resources replaced by an equal copy")
    # approve what carries the resources: the dictionary and any category dictionary, by the
    # page's path (a shared resource dictionary needs every page using it to agree)
    base = Context.from_absolute(rv.old, page_path + "/Resources")
    raw = new_page.raw_get("/Resources")
    if isinstance(raw, generic.IndirectObject):
        rv.approve(ReferenceUpdate(raw.reference, context_checked=base), "structural")
    for cat in new_res:
        craw = new_res.raw_get(cat)
        if isinstance(craw, generic.IndirectObject):
            ctx = Context.from_absolute(rv.old, page_path + RawPdfPath("/Resources", cat))
            rv.approve(ReferenceUpdate(craw.reference, context_checked=ctx), "structural")
    for dep in rv.new_deps(new_res):
        if dep in rv.changed and not rv.existed(dep):
            rv.approve_ref(dep, "structural")
    return True


def _orphans(rv: _Review, poisoned: set[Any]) -> None:
    """New objects nothing in the revision reaches (pyHanko's orphans, minus dangling ones)."""
    candidates = {r for r in rv.unexplained() if not rv.existed(r) and r not in poisoned}
    if not candidates:
        return
    reached: set[Any] = set()
    roots: list[Any] = [rv.new.trailer_view]
    roots.extend(rv.new(r) for r in rv.changed if rv.existed(r))
    for obj in roots:
        reached |= _collect(rv.new, obj, since=rv.old.revision + 1)
    orphans = sorted(candidates - reached, key=lambda r: r.idnum)
    for ref in orphans:
        rv.approve_ref(ref, "structural")
    if orphans:
        rv.note("structural", f"objects added that nothing uses: {_ids(r.idnum for r in orphans)}")


def _identical(rv: _Review) -> None:
    from pyhanko.sign.diff_analysis.policies import _is_id

    same = []
    for ref in sorted(rv.unexplained(), key=lambda r: r.idnum):
        if not rv.existed(ref):
            continue
        try:
            if _is_id(rv.old(ref), rv.new(ref)):
                same.append(ref)
        except (NotImplementedError, Exception):  # noqa: S112 - unknown object kinds differ
            continue
    for ref in same:
        rv.explained.add(ref)
    if same:
        rv.note("structural", f"objects rewritten unchanged: {_ids(r.idnum for r in same)}")


# -- small helpers -------------------------------------------------------------------------------


def _unchanged(rv: _Review, ref: Any) -> bool:
    from pyhanko.sign.diff_analysis.policies import _is_id

    try:
        return rv.existed(ref) and bool(_is_id(rv.old(ref), rv.new(ref)))
    except Exception:
        return False


def _msg(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _ids(ids: Iterable[int]) -> str:
    items = sorted(set(ids))
    shown = ", ".join(str(i) for i in items[:20])
    return shown + (f" (+{len(items) - 20} more)" if len(items) > 20 else "")


def _in_document(path: Any) -> bool:
    nodes: tuple[Any, ...] = tuple(getattr(path, "path", ()))
    return bool(nodes) and nodes[0] in ("/Root", "/Info")


def _get(d: Any, key: str) -> Any:
    try:
        return d[key]
    except (KeyError, TypeError):
        return None


def _same(a: Any, b: Any) -> bool:
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.diff_analysis.policies import _is_id

    if isinstance(a, generic.IndirectObject) or isinstance(b, generic.IndirectObject):
        return (
            isinstance(a, generic.IndirectObject)
            and isinstance(b, generic.IndirectObject)
            and a.reference == b.reference
        )
    if a is None or b is None:
        return a is b
    try:
        return bool(_is_id(a, b))
    except NotImplementedError:
        return False


def _key_change(rv: _Review, old: Any, new: Any, key: str, *, deep: bool = False) -> str | None:
    """'added' / 'removed' / 'changed' for one dictionary key, or None when the raw value is
    the same. With ``deep``, an indirect value also counts as changed when its object was
    rewritten after the signed revision (otherwise that object is judged on its own)."""
    from pyhanko.pdf_utils import generic

    if key not in old and key not in new:
        return None
    if key not in old:
        return "added"
    if key not in new:
        return "removed"
    a, b = old.raw_get(key), new.raw_get(key)
    if isinstance(a, generic.IndirectObject) and isinstance(b, generic.IndirectObject):
        if a.reference != b.reference:
            return "changed"
        return "changed" if deep and _rewritten(rv, b.reference) else None
    return None if _same(a, b) else "changed"


def _rewritten(rv: _Review, ref: Any) -> bool:
    """``ref`` was written by a revision after the signed one, up to the reviewed one."""
    xrefs = rv.reader.xrefs
    key = (ref.idnum, ref.generation)
    return any(
        key in xrefs.get_xref_data(r).explicit_refs_in_revision
        for r in range(rv.old.revision + 1, rv.revision + 1)
    )


def _type_name(res: Any, ref: Any) -> str:
    from pyhanko.pdf_utils import generic

    try:
        obj = res(ref)
    except Exception:
        return ""
    if isinstance(obj, generic.StreamObject):
        sub = obj.get("/Subtype")
        return f"stream {sub}" if sub else "stream"
    if isinstance(obj, generic.DictionaryObject):
        t = obj.get("/Type")
        sub = obj.get("/Subtype")
        return " ".join(str(x) for x in (t, sub) if x is not None)
    return type(obj).__name__.replace("Object", "").lower()


def _page_list(res: Any) -> list[tuple[Any, Any]]:
    """(page ref, canonical RawPdfPath) in page order; [] for a damaged tree."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import RawPdfPath

    out: list[tuple[Any, Any]] = []
    seen: set[Any] = set()

    def walk(node: Any, path: Any, depth: int) -> None:
        if depth > 64:
            return
        kids = _get(node, "/Kids") if isinstance(node, generic.DictionaryObject) else None
        if not isinstance(kids, generic.ArrayObject):
            return
        for i, kid in enumerate(kids):
            if not isinstance(kid, generic.IndirectObject) or kid.reference in seen:
                continue
            seen.add(kid.reference)
            kid_path = path + RawPdfPath("/Kids", i)
            obj = kid.get_object()  # type: ignore[no-untyped-call]
            if isinstance(obj, generic.DictionaryObject) and obj.get("/Type") == "/Pages":
                walk(obj, kid_path, depth + 1)
            else:
                out.append((kid.reference, kid_path))

    try:
        walk(res.root["/Pages"], RawPdfPath("/Root", "/Pages"), 0)
    except Exception:  # a damaged page tree: no pages to compare
        return []
    return out


def _page_numbers(res: Any) -> dict[Any, int]:
    return {ref: i for i, (ref, _) in enumerate(_page_list(res), 1)}


def _describe_path(res: Any, path: Any, pages: dict[Any, int]) -> str:
    """'/Root/Pages/Kids[0]/Contents' → 'page 1 /Contents'."""
    from pyhanko.pdf_utils import generic

    nodes = list(path.path)
    obj: Any = res.trailer_view
    page_at, page_no = -1, 0
    for i, node in enumerate(nodes):
        try:
            raw = obj.raw_get(node)
        except Exception:
            break
        if isinstance(raw, generic.IndirectObject):
            if raw.reference in pages:
                page_at, page_no = i, pages[raw.reference]
            raw = raw.get_object()  # type: ignore[no-untyped-call]
        obj = raw
    rest = "".join(f"[{n}]" if isinstance(n, int) else str(n) for n in nodes[page_at + 1 :])
    if page_at >= 0:
        return f"page {page_no} {rest}".strip()
    return rest


def _collect(res: Any, obj: Any, *, since: int) -> set[Any]:
    """pyHanko's ``collect_dependencies(since_revision=...)``, tolerant of references to
    objects that exist nowhere (pyHanko raises KeyError on them)."""
    from pyhanko.pdf_utils import generic

    xrefs = res.reader.xrefs
    seen: set[Any] = set()
    stack = [obj]
    steps = 0
    while stack and steps < 200_000:
        steps += 1
        cur = stack.pop()
        if isinstance(cur, generic.IndirectObject):
            ref = cur.reference
            if ref in seen:
                continue
            try:
                introduced = xrefs.get_introducing_revision(ref)
            except KeyError:
                continue
            if introduced < since:
                continue
            seen.add(ref)
            try:
                cur = res(ref)
            except Exception:  # noqa: S112 - unreadable: nothing to follow
                continue
        if isinstance(cur, generic.DictionaryObject):
            stack.extend(cur.values())
        elif isinstance(cur, generic.ArrayObject):
            stack.extend(cur)
    return seen


def _annot_refs(page: Any) -> set[Any] | None:
    from pyhanko.pdf_utils import generic

    if "/Annots" not in page:
        return set()
    try:
        arr = page["/Annots"]
    except Exception:
        return None
    if not isinstance(arr, generic.ArrayObject):
        return None
    out = set()
    for item in arr:
        if not isinstance(item, generic.IndirectObject):
            return None
        out.add(item.reference)
    return out


def _subtype(annot: Any) -> str:
    try:
        return str(annot.get("/Subtype") or "untyped")
    except AttributeError:
        return "untyped"


def _comment(annot: Any) -> str | None:
    """None if ``annot`` is a comment (markup, link, popup) with no active content, else what
    it is instead."""
    from pyhanko.pdf_utils import generic

    if not isinstance(annot, generic.DictionaryObject):
        return "a non-dictionary annotation"
    sub = _subtype(annot)
    if sub == "/Widget":
        return "a form field widget"
    if sub not in _COMMENT_SUBTYPES:
        return f"a {sub} annotation"
    if "/AA" in annot:
        return f"a {sub} annotation with additional actions (/AA)"
    action = _get(annot, "/A")
    if action is not None:
        kind = _get(action, "/S")
        if str(kind) not in _HARMLESS_ACTIONS:
            return f"a {sub} annotation with a {kind} action"
        if "/Next" in action:
            return f"a {sub} annotation with chained actions"
    return None


def _annotation_on_path(res: Any, path: Any) -> tuple[Any, int] | None:
    """(annotation ref, page number) if ``path`` goes /Root/Pages(/Kids i)+/Annots k…"""
    from pyhanko.pdf_utils import generic

    nodes = list(path.path)
    if nodes[:2] != ["/Root", "/Pages"]:
        return None
    i = 2
    while i + 1 < len(nodes) and nodes[i] == "/Kids" and isinstance(nodes[i + 1], int):
        i += 2
    if i == 2 or i + 1 >= len(nodes) or nodes[i] != "/Annots" or not isinstance(nodes[i + 1], int):
        return None
    obj: Any = res.trailer_view
    page_ref = None
    for node in nodes[: i + 2]:
        try:
            raw = obj.raw_get(node)
        except Exception:
            return None
        if isinstance(raw, generic.IndirectObject):
            ref = raw.reference
            raw = raw.get_object()  # type: ignore[no-untyped-call]
            if isinstance(raw, generic.DictionaryObject) and raw.get("/Type") == "/Page":
                page_ref = ref
            last_ref = ref
        else:
            last_ref = None
        obj = raw
    if last_ref is None or page_ref is None:
        return None
    return last_ref, _page_numbers(res).get(page_ref, 0)


def _signature_fields(res: Any) -> dict[str, str]:
    """Fully qualified name → 'signature' | 'timestamp' | 'empty' for signature fields."""
    from pyhanko.pdf_utils import generic

    out: dict[str, str] = {}

    def walk(fields: Any, prefix: str, depth: int) -> None:
        if depth > 32 or not isinstance(fields, generic.ArrayObject):
            return
        for f in fields:
            try:
                fd = f.get_object()
                name = prefix + str(fd.get("/T", ""))
                if fd.get("/FT") == "/Sig":
                    value = _get(fd, "/V")
                    if value is None:
                        out[name] = "empty"
                    elif _get(value, "/Type") == "/DocTimeStamp":
                        out[name] = "timestamp"
                    else:
                        out[name] = "signature"
                if "/Kids" in fd:
                    walk(fd["/Kids"], name + ".", depth + 1)
            except Exception:  # noqa: S112 - malformed field: the form rules say so
                continue

    try:
        walk(res.root["/AcroForm"]["/Fields"], "", 0)
    except Exception:
        return out
    return out


def _visible_fields(res: Any) -> set[str]:
    """Names of top-level signature fields with a widget of non-zero area (pyHanko's test)."""
    from pyhanko.sign.diff_analysis.rules.form_field_rules import is_field_visible

    out: set[str] = set()
    try:
        fields = res.root["/AcroForm"]["/Fields"]
        for f in fields:
            fd = f.get_object()
            if fd.get("/FT") == "/Sig" and is_field_visible(fd):  # type: ignore[no-untyped-call]
                out.add(str(fd.get("/T", "")))
    except Exception:  # noqa: S110 - malformed form: the form rules report it
        pass
    return out


def _new_signature_widgets(rv: _Review) -> dict[Any, str]:
    """Widget annotation refs of signature fields absent from the signed revision."""
    from pyhanko.pdf_utils import generic

    old_names = set(_signature_fields(rv.old))
    out: dict[Any, str] = {}
    try:
        fields = rv.new.root["/AcroForm"]["/Fields"]
    except Exception:
        return out
    if not isinstance(fields, generic.ArrayObject):
        return out
    for f in fields:
        if not isinstance(f, generic.IndirectObject):
            continue
        fd = f.get_object()  # type: ignore[no-untyped-call]
        if not isinstance(fd, generic.DictionaryObject) or fd.get("/FT") != "/Sig":
            continue
        name = str(fd.get("/T", ""))
        if name in old_names:
            continue
        kids = _get(fd, "/Kids")
        if isinstance(kids, generic.ArrayObject):
            for k in kids:
                if isinstance(k, generic.IndirectObject):
                    out[k.reference] = name
        else:
            out[f.reference] = name
    return out


def _content_names(res: Any, page: Any) -> set[str] | None:
    """Every name token in the page's content streams (a superset of the resource names it
    uses: a name inside a string counts too, which only makes ltv stricter)."""
    from pyhanko.pdf_utils import generic

    try:
        contents = page.get("/Contents")
        streams = contents if isinstance(contents, generic.ArrayObject) else [contents]
        names: set[str] = set()
        for s in streams:
            if isinstance(s, generic.IndirectObject):
                s = s.get_object()  # type: ignore[no-untyped-call]
            if s is None:
                continue
            if not isinstance(s, generic.StreamObject):
                return None
            for m in _NAME_TOKEN.finditer(s.data):
                raw = re.sub(
                    rb"#([0-9A-Fa-f]{2})", lambda x: bytes([int(x.group(1), 16)]), m.group(1)
                )
                names.add("/" + raw.decode("latin-1"))
        return names
    except Exception:
        return None


def _dss_detail(rv: _Review) -> str:
    def counts(root: Any) -> dict[str, int] | None:
        dss = _get(root, "/DSS")
        if dss is None:
            return None
        out = {}
        for key in ("/Certs", "/OCSPs", "/CRLs", "/VRI"):
            value = _get(dss, key)
            try:
                out[key] = len(value) if value is not None else 0
            except TypeError:
                out[key] = 0
        return out

    old, new = counts(rv.prev.root), counts(rv.new.root)
    if new is None:
        return "DSS changed"
    label = {"/Certs": "certificates", "/OCSPs": "OCSP responses", "/CRLs": "CRLs", "/VRI": "VRI"}
    if old is None:
        parts = [f"{n} {label[k]}" for k, n in new.items() if n]
        return "DSS added" + (f": {', '.join(parts)}" if parts else "")
    parts = [f"{label[k]} {old[k]} → {new[k]}" for k in new if new[k] != old.get(k, 0)]
    return "DSS updated" + (f": {', '.join(parts)}" if parts else "")


# -- judging: what the signer allowed ------------------------------------------------------------

Effect = Literal["none", "warn", "indeterminate", "failed"]

_DOCMDP_TEXT = {
    1: "DocMDP P=1 (no changes permitted)",
    2: "DocMDP P=2 (form filling and signing only)",
    3: "DocMDP P=3 (form filling, signing and annotations only)",
}
_NO_EFFECT: frozenset[ModificationClass] = frozenset(
    {"none", "dss", "timestamp", "structural", "metadata"}
)


@dataclass(frozen=True)
class Restrictions:
    """What the signer forbade (ISO 32000-2 §12.8.2.2 DocMDP, §12.8.2.4 FieldMDP, §12.7.5.5
    /Lock)."""

    docmdp: int | None = None
    """P of the signature's DocMDP transform (or of its field's /Lock), None if none."""
    locked: Any = None
    """``callable(field_name) -> bool``: the FieldMDP/Lock says the field is locked."""

    def is_locked(self, name: str) -> bool:
        return bool(self.locked is not None and self.locked(name))


@dataclass(frozen=True)
class Judged:
    finding: Finding
    allowed: bool
    restriction: str | None
    """What forbade it (None: not forbidden — for ``other`` that means "cannot be judged")."""


def judge(finding: Finding, r: Restrictions) -> Judged:
    """The decision table of docs/decisions.md ("Modification analysis")."""
    cls = finding.cls
    p = r.docmdp
    if cls in _NO_EFFECT:
        # ISO 32000-2 §12.8.2.2.1: DocMDP does not apply to DSS updates and document
        # timestamps; structural changes and metadata do not change what is shown
        return Judged(finding, True, None)
    if cls == "other":
        return Judged(finding, False, _DOCMDP_TEXT.get(p or 0) if p is not None else None)
    locked = [f for f in finding.fields if r.is_locked(f)]
    if locked and not finding.valid_when_locked:
        names = ", ".join(repr(f) for f in locked)
        return Judged(finding, False, f"FieldMDP lock on field {names}")
    if p is not None and (p == 1 or (cls == "annotation" and p == 2)):
        return Judged(finding, False, _DOCMDP_TEXT[p])
    # P=2/3 permit signing, new visible signature fields included (as Acrobat; pyHanko's
    # default is stricter, its ``valid_when_certifying`` is kept in the finding, not enforced)
    return Judged(finding, True, None)


def effect_of(judged: Iterable[Judged]) -> Effect:
    items = list(judged)
    if any(j.restriction is not None for j in items):
        return "failed"
    if any(j.finding.cls == "other" for j in items):
        return "indeterminate"
    if any(not j.allowed or j.finding.cls not in _NO_EFFECT for j in items):
        return "warn"
    return "none"
