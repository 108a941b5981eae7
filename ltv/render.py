"""Rendering of reports: JSON (a pure projection of the dataclasses) and text (rich).

JSON: one object per file; several files → JSON Lines (one object per line).
Text: per signature, verdict first, then the level and whether Acrobat would call it "LTV
enabled", the trusted time and its source, the changes after signing (one line per class and
revision), the chain with each certificate's revocation outcome, then the reasons and warnings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import assert_never

from ltv.report import (
    CertificateReport,
    Indication,
    ModificationEntry,
    Report,
    RevocationState,
    SignatureReport,
    rfc3339,
)

__all__ = ["render_json", "render_jsonl", "render_plain", "render_text"]


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, separators=(",", ":"))


def render_jsonl(reports: Sequence[Report]) -> str:
    return "".join(render_json(r) + "\n" for r in reports)


def _style(ind: Indication) -> str:
    match ind:
        case Indication.TOTAL_PASSED:
            return "bold green"
        case Indication.TOTAL_FAILED:
            return "bold red"
        case Indication.INDETERMINATE:
            return "bold yellow"
        case Indication.NO_SIGNATURE:
            return "bold magenta"
        case _:
            assert_never(ind)


def _rev_style(state: RevocationState) -> str:
    match state:
        case RevocationState.GOOD:
            return "green"
        case RevocationState.REVOKED:
            return "red"
        case RevocationState.UNKNOWN | RevocationState.OFFLINE:
            return "yellow"
        case RevocationState.NOT_CHECKED:
            return "dim"
        case _:
            assert_never(state)


def _cert_line(c: CertificateReport) -> str:
    from rich.markup import escape

    r = c.revocation
    style = _rev_style(r.status)
    how = f" via {r.method}/{r.source}" if r.method != "none" else ""
    when = ""
    if r.revoked_at is not None:
        when = f" at {rfc3339(r.revoked_at)}"
    detail = f" — {escape(r.detail)}" if r.detail else ""
    others = [
        f"{e.status} via {e.method}/{e.source}"
        + (f" (thisUpdate {rfc3339(e.this_update)})" if e.this_update else "")
        for e in r.evidence
        if not e.deciding
    ]
    also = f"\n        also considered: {escape('; '.join(others))}" if others else ""
    return (
        f"    {escape(f'[{c.role}]')} {escape(c.subject)} (serial {c.serial})\n"
        f"        revocation: [{style}]{r.status}[/{style}]{when}{how}{detail}{also}"
    )


def _modification_line(m: ModificationEntry) -> str:
    """One line per class and revision: what changed after signing and whether it was allowed."""
    from rich.markup import escape

    if m.allowed:
        verdict = "[green]allowed[/green]"
    elif m.restriction is not None:
        verdict = f"[red]forbidden by {escape(m.restriction)}[/red]"
    else:
        verdict = "[yellow]not explained[/yellow]"
    details = escape("; ".join(m.details))
    return f"    changed in revision {m.revision}: {m.cls} ({verdict}) {details}".rstrip()


def _ltv_enabled(s: SignatureReport) -> str:
    """Acrobat's "LTV enabled": validation data in the file for the whole chain(s)."""
    if s.ltv_enabled is None:
        return "unknown (the chain could not be built)"
    if s.ltv_enabled:
        return "yes (validation data in the file for every certificate)"
    return "no (validation data missing in the file for some certificate)"


def _signature_block(s: SignatureReport) -> list[str]:
    from rich.markup import escape

    style = _style(s.indication)
    head = f"[{style}]{s.indication}[/{style}]"
    if s.subindication is not None:
        head += f" / [{style}]{s.subindication}[/{style}]"
    kind = "document timestamp" if s.kind == "document-timestamp" else "signature"
    lines = [f"  {head}  {kind} [bold]{escape(s.field)}[/bold]"]
    if s.level is not None:
        lines.append(f"    level: {s.level}")
    lines.append(f"    LTV enabled: {_ltv_enabled(s)}")
    lines.append(f"    validation time: {rfc3339(s.validation_time)} ({s.validation_time_source})")
    if s.signer is not None:
        lines.append(f"    signer: {escape(s.signer.subject)}")
    if s.integrity is not None:
        i = s.integrity
        lines.append(
            f"    integrity: intact={i.intact} valid={i.valid} coverage={i.coverage} "
            f"modifications={i.modifications}"
        )
    lines.extend(_modification_line(m) for m in s.modifications)
    if s.timestamp is not None:
        t = s.timestamp
        lines.append(
            f"    timestamp: {rfc3339(t.gen_time)} by {escape(t.tsa)} "
            f"(trusted={t.trusted}, imprint={t.imprint_ok}, signature={t.signature_ok})"
        )
    if s.qualification is not None:  # trustlists:
        q = s.qualification
        what = q.signature or "no class"
        ts = f", timestamp {q.timestamp}" if q.timestamp else ""
        lines.append(
            f"    qualification: [bold]{escape(what)}[/bold]{escape(ts)} "
            f"(qualified={q.qualified}, QSCD={q.qscd}) — {escape(q.source)}"
        )
        lines.extend(f"        note: {escape(n)}" for n in q.notes)
    if s.chain:
        lines.append("    chain:")
        lines.extend(_cert_line(c) for c in s.chain)
    lines.extend(f"    [bold]reason:[/bold] {escape(r)}" for r in s.reasons)
    lines.extend(f"    [yellow]warning:[/yellow] {escape(w)}" for w in s.warnings)
    return lines


def render_text(report: Report) -> str:
    """rich markup for one file's report (print with a rich Console)."""
    from rich.markup import escape

    style = _style(report.indication)
    lines = [f"[{style}]{report.indication}[/{style}]  {escape(report.file.path)}"]
    if report.error:
        lines.append(f"  [bold]reason:[/bold] {escape(report.error)}")
    for s in report.signatures:
        lines.extend(_signature_block(s))
    lines.extend(f"  [yellow]warning:[/yellow] {escape(w)}" for w in report.warnings)
    net = report.network
    lines.append(
        f"  network: {net.requests} request(s) (policy {report.policy.name}, "
        f"online={report.policy.online})"
    )
    lines.extend(f"    {escape(u)}" for u in net.urls)
    return "\n".join(lines)


def render_plain(report: Report) -> str:
    """:func:`render_text` without markup: what a file or a pipe gets (no rich Console)."""
    from rich.markup import render

    return render(render_text(report), emoji=False).plain
