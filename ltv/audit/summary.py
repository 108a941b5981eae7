"""What an audit run found: counts, renewal due, problems (JSON: ``schemas/audit.schema.json``).

**Renewal due.** A file stays protected while the outermost proof that carries it can still be
validated *now*. :func:`protection_until` is the date after which that is no longer so, for a
file that passes today:

1. with a trusted document timestamp: the newest one's TSA chain (its certificates' notAfter);
2. else, per signature, a trusted signature timestamp's TSA chain;
3. else (no trusted timestamp: the signature is judged at "now") the signer's own chain, and the
   nextUpdate of the evidence that settled each certificate (it is judged at "now" too).

Under a policy that requires revocation evidence for TSA chains (``tsa_revocation_required``,
preset ``strict``), the nextUpdate of that evidence counts for (1) and (2) as well. Before that
date, ``ltv extend`` (a fresh document timestamp over fresh evidence) renews the protection.
Certificates are counted up to and including the trust anchor (conservative: a date earlier
than strictly needed, never later).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ltv.report import (
    CertificateReport,
    Indication,
    Report,
    RevocationState,
    SignatureReport,
    TimeSource,
    rfc3339,
)

if TYPE_CHECKING:
    from ltv.audit.store import AuditStore, Run

__all__ = ["SUMMARY_SCHEMA", "protection_until", "summarize"]

SUMMARY_SCHEMA = "https://ltv.test/schemas/audit.schema.json"
"""``$id`` of ``schemas/audit.schema.json`` (written as ``"$schema"`` in the summary)."""

_NOW_SOURCES = (TimeSource.NOW, TimeSource.AT_OPTION)


def _chain_until(chain: Iterable[CertificateReport], *, evidence: bool) -> datetime | None:
    ends: list[datetime] = []
    for cert in chain:
        if cert.role == "responder":
            continue
        ends.append(cert.not_after)
        rev = cert.revocation
        if (
            evidence
            and rev.status_at_validation_time is RevocationState.GOOD
            and rev.next_update is not None
        ):
            ends.append(rev.next_update)
    return min(ends) if ends else None


def protection_until(report: Report, *, tsa_evidence: bool = False) -> datetime | None:
    """When the protection of a file that passes lapses (see the module docstring); None for a
    file that does not pass (there is nothing left to renew) or has no chain to go by."""
    if report.indication is not Indication.TOTAL_PASSED:
        return None
    docs = [
        s
        for s in report.signatures
        if s.kind == "document-timestamp" and s.timestamp is not None and s.timestamp.trusted
    ]
    if docs:
        newest = max(docs, key=lambda s: s.timestamp.gen_time if s.timestamp else s.validation_time)
        return _chain_until(newest.chain, evidence=tsa_evidence)
    dues: list[datetime] = []
    for sig in report.signatures:
        if sig.kind != "signature":
            continue
        due = _signature_until(sig, tsa_evidence=tsa_evidence)
        if due is not None:
            dues.append(due)
    return min(dues) if dues else None


def _signature_until(sig: SignatureReport, *, tsa_evidence: bool) -> datetime | None:
    ts = sig.timestamp
    if (
        ts is not None
        and ts.trusted
        and sig.validation_time_source is TimeSource.SIGNATURE_TIMESTAMP
    ):
        return _chain_until(ts.chain, evidence=tsa_evidence)
    if sig.validation_time_source in _NOW_SOURCES:
        return _chain_until(sig.chain, evidence=True)
    return None


# -- a run's summary, from the store -------------------------------------------------------------


def _counts(store: AuditStore, sql: str, run_id: int) -> dict[str, int]:
    return {str(k if k is not None else "none"): int(n) for k, n in store.query(sql, (run_id,))}


def summarize(store: AuditStore, run: Run, *, problems_limit: int | None = None) -> dict[str, Any]:
    """The summary of ``run`` (everything the JSON, the text and the HTML show)."""
    from ltv import __version__

    rid = run.id
    files = _counts(
        store, "SELECT indication, count(*) FROM files WHERE run_id = ? GROUP BY 1", rid
    )
    n_files = sum(files.values())
    by_indication = _counts(
        store, "SELECT indication, count(*) FROM signatures WHERE run_id = ? GROUP BY 1", rid
    )
    by_sub = _counts(
        store,
        "SELECT subindication, count(*) FROM signatures WHERE run_id = ? "
        "AND subindication IS NOT NULL GROUP BY 1",
        rid,
    )
    by_level = _counts(
        store,
        "SELECT level, count(*) FROM signatures WHERE run_id = ? AND kind = 'signature' GROUP BY 1",
        rid,
    )
    ltv_enabled = {"yes": 0, "no": 0, "unknown": 0}
    for value, n in store.query(
        "SELECT ltv_enabled, count(*) FROM signatures WHERE run_id = ? AND kind = 'signature' "
        "GROUP BY 1",
        (rid,),
    ):
        ltv_enabled["unknown" if value is None else ("yes" if value else "no")] += int(n)

    def grouped(column: str) -> dict[str, dict[str, int]]:
        out: dict[str, Counter[str]] = {}
        for key, indication, n in store.query(
            f"SELECT {column}, indication, count(*) FROM signatures "  # noqa: S608 - constant
            f"WHERE run_id = ? AND {column} IS NOT NULL GROUP BY 1, 2",
            (rid,),
        ):
            out.setdefault(str(key), Counter())[str(indication)] += int(n)
        return {
            k: {"signatures": sum(v.values()), **dict(sorted(v.items()))} for k, v in out.items()
        }

    by_signer_ca = grouped("signer_ca")
    by_tsa = grouped("tsa")
    n_signatures = sum(by_indication.values())
    unreadable, no_signature, examined = (
        int(x or 0)
        for x in next(
            store.query(
                "SELECT sum(indication = 'NO_SIGNATURE'), "
                "sum(indication = 'NO_SIGNATURE' AND error = 'no signature found'), "
                "sum(examined) FROM files WHERE run_id = ?",
                (rid,),
            )
        )
    )
    renewal = [
        {"file": path, "due": due, "sha256": sha}
        for path, due, sha in store.query(
            "SELECT path, due, sha256 FROM files WHERE run_id = ? AND due IS NOT NULL "
            "ORDER BY due, path",
            (rid,),
        )
    ]
    problems_sql = (
        "SELECT path, field, kind, indication, subindication, level, reasons FROM signatures "
        "WHERE run_id = ? AND indication != 'TOTAL-PASSED' ORDER BY path, idx"
    )
    problems: list[dict[str, Any]] = [
        {
            "file": path,
            "field": field,
            "kind": kind,
            "indication": indication,
            "subindication": sub,
            "level": level,
            "reasons": json.loads(reasons),
        }
        for path, field, kind, indication, sub, level, reasons in store.query(problems_sql, (rid,))
    ]
    problems.extend(
        {
            "file": path,
            "field": None,
            "kind": None,
            "indication": "NO_SIGNATURE",
            "subindication": None,
            "level": None,
            "reasons": [error or "could not be evaluated"],
        }
        for path, error in store.query(
            "SELECT path, error FROM files WHERE run_id = ? AND indication = 'NO_SIGNATURE' "
            "ORDER BY path",
            (rid,),
        )
    )
    problems.sort(key=lambda p: (p["file"], p["field"] or ""))
    truncated = problems_limit is not None and len(problems) > problems_limit
    if problems_limit is not None:
        problems = problems[:problems_limit]
    stats = run.stats or {}
    return {
        "$schema": SUMMARY_SCHEMA,
        "ltv_version": __version__,
        "run": rid,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "as_of": run.as_of,
        "at": run.at,
        "policy": {"name": run.policy, "online": run.online},
        "files": n_files,
        "signatures": n_signatures,
        "unreadable": unreadable,
        "no_signature": no_signature,
        "examined": examined,
        "reused": n_files - examined,
        "skipped": int(stats.get("skipped", 0)),
        "by_file_indication": dict(sorted(files.items())),
        "by_indication": dict(sorted(by_indication.items())),
        "by_subindication": dict(sorted(by_sub.items())),
        "by_level": dict(sorted(by_level.items())),
        "ltv_enabled": ltv_enabled,
        "by_signer_ca": dict(sorted(by_signer_ca.items())),
        "by_tsa": dict(sorted(by_tsa.items())),
        "renewal_due": renewal,
        "problems": problems,
        "problems_truncated": truncated,
    }


def exit_code(summary: dict[str, Any]) -> int:
    """The worst verdict, as for ``verify``: 1 any failed, 4 any unevaluable, 3 any
    indeterminate, else 0."""
    files = summary["by_file_indication"]
    if files.get(Indication.TOTAL_FAILED.value):
        return 1
    if files.get(Indication.NO_SIGNATURE.value):
        return 4
    if files.get(Indication.INDETERMINATE.value):
        return 3
    return 0


def render_text(summary: dict[str, Any], *, db: str, renewals: int = 10) -> str:
    """A plain-text summary for the terminal (no markup)."""
    lines = [
        f"audit run {summary['run']} ({summary['status']}) as of {summary['as_of']}, policy "
        f"{summary['policy']['name']} (online={summary['policy']['online']}): "
        f"{summary['files']} file(s), {summary['signatures']} signature(s)",
        "  files: "
        + (", ".join(f"{k} {v}" for k, v in summary["by_file_indication"].items()) or "none"),
        "  signatures: "
        + (", ".join(f"{k} {v}" for k, v in summary["by_indication"].items()) or "none"),
    ]
    if summary["by_subindication"]:
        lines.append(
            "  subindications: "
            + ", ".join(f"{k} {v}" for k, v in summary["by_subindication"].items())
        )
    if summary["by_level"]:
        lines.append("  levels: " + ", ".join(f"{k} {v}" for k, v in summary["by_level"].items()))
    e = summary["ltv_enabled"]
    lines.append(f"  LTV enabled (Acrobat): yes {e['yes']}, no {e['no']}, unknown {e['unknown']}")
    for title, key in (("by signer CA", "by_signer_ca"), ("by TSA", "by_tsa")):
        if summary[key]:
            lines.append(f"  {title}:")
            for name, counts in summary[key].items():
                rest = ", ".join(f"{k} {v}" for k, v in counts.items() if k != "signatures")
                lines.append(f"    {name}: {counts['signatures']} ({rest})")
    lines.append(
        f"  facts: {summary['examined']} file(s) parsed, {summary['reused']} re-used from the "
        f"store; {summary['unreadable']} not evaluable ({summary['no_signature']} without "
        f"signature); {summary['skipped']} skipped (not PDF)"
    )
    due = summary["renewal_due"]
    if due:
        lines.append(
            f"  renewal due (ltv extend before the date), soonest first, {len(due)} in all:"
        )
        lines.extend(f"    {d['due']}  {d['file']}" for d in due[:renewals])
        if len(due) > renewals:
            lines.append(f"    ... {len(due) - renewals} more (--json/--html, or the store {db})")
    return "\n".join(lines)


def as_rfc3339(moment: datetime | None) -> str | None:
    return rfc3339(moment)
