"""Output of ``ltv probe``: JSON documents (``schemas/probe.schema.json``) and text tables.

Three documents, told apart by ``kind``: ``probe`` (one run), ``probe-report`` (a period of the
history store), ``tls-probe`` (``--tls``: stapling of one TLS server).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ltv.probe.model import Measurement
from ltv.probe.summary import TargetSummary

if TYPE_CHECKING:
    from ltv.evidence.tls import StapleReport
    from ltv.probe.measure import ProbeRun
    from ltv.probe.store import StoredRun

__all__ = [
    "HistoryReport",
    "history_json",
    "history_text",
    "measurement_json",
    "run_exit_code",
    "run_json",
    "run_text",
    "summary_json",
    "tls_json",
    "tls_text",
]

Json = dict[str, Any]


def _t(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _version() -> str:
    from ltv import __version__

    return str(__version__)


def measurement_json(m: Measurement) -> Json:
    return {
        "target": m.target,
        "url": m.url,
        "kind": m.kind,
        "run": m.run,
        "round": m.round,
        "at": _t(m.at),
        "method": m.method,
        "family": m.family,
        "host_header": m.host_header,
        "peer": m.peer,
        "status": m.status,
        "ok": m.ok,
        "error": m.error,
        "category": None if m.category is None else str(m.category),
        "detail": m.detail,
        "size": m.size,
        "dns_ms": m.dns_ms,
        "connect_ms": m.connect_ms,
        "tls_ms": m.tls_ms,
        "ttfb_ms": m.ttfb_ms,
        "total_ms": m.total_ms,
        "sla_breach": m.sla_breach,
        "local_problem": m.local_problem,
        "sha256": m.sha256,
        "ocsp_status": m.ocsp_status,
        "produced_at": _t(m.produced_at),
        "this_update": _t(m.this_update),
        "next_update": _t(m.next_update),
        "crl_entries": m.crl_entries,
        "crl_number": m.crl_number,
        "delta_crl": m.delta_crl,
        "gen_time": _t(m.gen_time),
        "subjects": list(m.subjects),
    }


def summary_json(s: TargetSummary) -> Json:
    return {
        "target": s.target,
        "url": s.url,
        "kind": s.kind,
        "host": s.host,
        "subject": s.subject,
        "serial": s.serial,
        "sources": list(s.sources),
        "verdict": s.verdict,
        "requests": s.requests,
        "ok": s.ok,
        "availability": s.availability,
        "excluded": s.excluded,
        "failures": s.failures,
        "statuses": s.statuses,
        "latency": [
            {
                "method": x.method,
                "family": x.family,
                "requests": x.requests,
                "ok": x.ok,
                "min_ms": x.min_ms,
                "median_ms": x.median_ms,
                "p95_ms": x.p95_ms,
                "max_ms": x.max_ms,
                "dns_ms": x.dns_ms,
                "connect_ms": x.connect_ms,
                "tls_ms": x.tls_ms,
                "ttfb_ms": x.ttfb_ms,
            }
            for x in s.latency
        ],
        "size": {"min": s.size_min, "median": s.size_median, "max": s.size_max},
        "sla_breaches": s.sla_breaches,
        "near_probe": s.near_probe,
        "families": [
            {"family": f.family, "address": f.address, "answers": f.answers} for f in s.families
        ],
        "first_at": _t(s.first_at),
        "last_at": _t(s.last_at),
        "ocsp": None
        if s.kind != "ocsp"
        else {
            "status": s.ocsp_status,
            "produced_at": _t(s.produced_at),
            "this_update": _t(s.this_update),
            "next_update": _t(s.next_update),
            "validity_seconds": s.validity_seconds,
            "get_post": s.get_post,
        },
        "crl": None
        if s.kind != "crl"
        else {
            "entries": s.crl_entries,
            "number": s.crl_number,
            "this_update": _t(s.this_update),
            "next_update": _t(s.next_update),
            "validity_seconds": s.validity_seconds,
            "delta_crl": s.delta_crl,
        },
        "tsa": None if s.kind != "tsa" else {"gen_time": _t(s.gen_time), "tsa": list(s.subjects)},
        "ca_issuers": None if s.kind != "ca-issuers" else {"subjects": list(s.subjects)},
        "no_host": None
        if s.no_host_answers is None
        else {"answers": s.no_host_answers, "error": s.no_host_error},
    }


def _options_json(run: ProbeRun) -> Json:
    o = run.options
    return {
        "count": o.count,
        "interval": o.interval,
        "methods": list(o.methods),
        "nonce": o.nonce,
        "sla": o.sla,
        "timeout": o.timeout,
    }


def run_json(run: ProbeRun, summaries: Sequence[TargetSummary]) -> Json:
    return {
        "ltv_version": _version(),
        "kind": "probe",
        "started_at": _t(run.started_at),
        "finished_at": _t(run.finished_at),
        "options": _options_json(run),
        "rounds": run.rounds,
        "local_problem_rounds": list(run.local_problem_rounds),
        "local_problem": bool(run.rounds) and len(run.local_problem_rounds) == run.rounds,
        "targets": [summary_json(s) for s in summaries],
        "measurements": [measurement_json(m) for m in run.measurements],
    }


def run_exit_code(run: ProbeRun, summaries: Sequence[TargetSummary]) -> int:
    """0 every target answered within the SLA; 1 any target down or degraded; 3 every round
    was a local network problem (nothing could be measured)."""
    if run.rounds and len(run.local_problem_rounds) == run.rounds:
        return 3
    if any(s.verdict in ("down", "degraded", "not-measured") for s in summaries):
        return 1
    return 0


# -- text ----------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value} B" if value < 10_000 else f"{value / 1024:.0f} KiB"


def _ipv6(s: TargetSummary) -> str:
    six = [f for f in s.families if f.family == "ipv6"]
    if not six:
        return "no"
    return "yes" if six[0].answers else "fails"


def _short_url(url: str, width: int = 44) -> str:
    text = url.split("://", 1)[-1]
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _summary_rows(summaries: Sequence[TargetSummary], sla: float) -> list[str]:
    header = "RESPONDER KIND METHOD FAMILY MEDIAN_ms P95_ms SIZE IPv6 SLA RESULT"
    rows = [[h.replace("_", " ") for h in header.split()]]
    for s in summaries:
        stats = s.latency or ()
        name = _short_url(s.url)
        if not stats:
            rows.append([name, s.kind, "-", "-", "-", "-", "-", _ipv6(s), "-", s.verdict])
        for x in stats:
            sla_text = "ok"
            if x.ok == 0:
                sla_text = "-"
            elif x.max_ms is not None and x.max_ms > sla * 1000:
                sla_text = "BREACH"
            result = "ok" if x.ok == x.requests else f"{x.requests - x.ok}/{x.requests} failed"
            rows.append(
                [
                    name,
                    s.kind,
                    x.method,
                    x.family or "-",
                    _ms(x.median_ms),
                    _ms(x.p95_ms),
                    _size(s.size_median),
                    _ipv6(s),
                    sla_text,
                    result,
                ]
            )
    return _table(rows)


def _details(s: TargetSummary) -> list[str]:
    lines = [f"{s.verdict.upper():<13} {s.target}"]
    if s.subject:
        lines.append(f"  for {s.subject}")
    if s.availability is not None:
        lines.append(
            f"  availability {s.availability:.1%} ({s.ok}/{s.requests})"
            + (f", {s.excluded} excluded (local network problem)" if s.excluded else "")
        )
    elif s.excluded:
        lines.append(f"  {s.excluded} requests excluded: local network problem")
    if s.failures:
        lines.append("  failures: " + ", ".join(f"{k} x{v}" for k, v in s.failures.items()))
    if s.sla_breaches:
        lines.append(f"  SLA breaches: {s.sla_breaches}")
    if s.near_probe:
        lines.append(
            "  median below 1 ms: the probe looks next to the responder (not representative)"
        )
    lines.extend(
        f"  {x.method} {x.family or '-'}: min {_ms(x.min_ms)} / median {_ms(x.median_ms)}"
        f" / p95 {_ms(x.p95_ms)} / max {_ms(x.max_ms)} ms"
        f" (dns {_ms(x.dns_ms)}, connect {_ms(x.connect_ms)}"
        + (f", tls {_ms(x.tls_ms)}" if x.tls_ms is not None else "")
        + f", ttfb {_ms(x.ttfb_ms)})"
        for x in s.latency
        if x.ok
    )
    if s.families:
        lines.append(
            "  address families: "
            + ", ".join(
                f"{f.family} {f.address or ''} {'answers' if f.answers else 'FAILS'}".replace(
                    "  ", " "
                )
                for f in s.families
            )
        )
    if s.kind == "ocsp" and s.ocsp_status:
        lines.append(
            f"  OCSP {s.ocsp_status}, producedAt {_t(s.produced_at)}, thisUpdate"
            f" {_t(s.this_update)}, nextUpdate {_t(s.next_update)}"
            + (
                f" (usable {s.validity_seconds / 3600:.1f} h)"
                if s.validity_seconds is not None
                else ""
            )
        )
    if s.get_post:
        lines.append(f"  GET vs POST: {s.get_post}")
    if s.kind == "crl" and s.crl_entries is not None:
        lines.append(
            f"  CRL {s.crl_entries} entries, {_size(s.size_median)}, thisUpdate {_t(s.this_update)}"
            f", nextUpdate {_t(s.next_update)}, delta CRL {'yes' if s.delta_crl else 'no'}"
        )
    if s.kind == "tsa" and s.gen_time:
        lines.append(f"  genTime {_t(s.gen_time)} from {', '.join(s.subjects)}")
    if s.kind == "ca-issuers" and s.subjects:
        lines.append(f"  serves {'; '.join(s.subjects)}")
    if s.no_host_answers is not None:
        lines.append(
            "  without Host header: "
            + ("answers" if s.no_host_answers else f"REJECTED ({s.no_host_error})")
        )
    return lines


def run_text(run: ProbeRun, summaries: Sequence[TargetSummary]) -> str:
    o = run.options
    out = [
        f"ltv probe: {len(run.targets)} targets, {run.rounds} round(s), SLA {o.sla:g} s,"
        f" started {_t(run.started_at)}",
        "",
        *_summary_rows(summaries, o.sla),
        "",
    ]
    if run.local_problem_rounds:
        rounds = ", ".join(str(r) for r in run.local_problem_rounds)
        hosts = {s.host for s in summaries}
        out.append(
            f"LOCAL NETWORK PROBLEM in round(s) {rounds}: every target failed at once; not"
            " counted as outages"
            + (" (all targets share one host: it may also be that host)" if len(hosts) < 2 else "")
        )
        out.append("")
    for s in summaries:
        out.extend(_details(s))
    return "\n".join(out) + "\n"


# -- history ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HistoryReport:
    db: str
    since: datetime | None
    until: datetime | None
    runs: Sequence[StoredRun]
    summaries: Sequence[TargetSummary]
    sla: float

    @property
    def rounds(self) -> int:
        return sum(r.rounds for r in self.runs)

    @property
    def excluded_rounds(self) -> int:
        return sum(len(r.local_problem_rounds) for r in self.runs)


def history_json(report: HistoryReport) -> Json:
    return {
        "ltv_version": _version(),
        "kind": "probe-report",
        "db": report.db,
        "period": {
            "from": _t(
                report.since
                or min((s.first_at for s in report.summaries if s.first_at), default=None)
            ),
            "to": _t(
                report.until
                or max((s.last_at for s in report.summaries if s.last_at), default=None)
            ),
        },
        "runs": len(report.runs),
        "rounds": report.rounds,
        "excluded_rounds": report.excluded_rounds,
        "sla": report.sla,
        "responders": [summary_json(s) for s in report.summaries],
    }


def history_text(report: HistoryReport) -> str:
    doc = history_json(report)
    out = [
        f"ltv probe report: {report.db}: {doc['runs']} run(s), {report.rounds} round(s) from"
        f" {doc['period']['from']} to {doc['period']['to']}",
        f"{report.excluded_rounds} round(s) excluded: every target failed at once (local"
        " network problem)",
        "",
        *_summary_rows(report.summaries, report.sla),
        "",
    ]
    for s in report.summaries:
        out.extend(_details(s))
    return "\n".join(out) + "\n"


# -- TLS ---------------------------------------------------------------------------------------


def tls_json(report: StapleReport) -> Json:
    return {
        "ltv_version": _version(),
        "kind": "tls-probe",
        "host": report.host,
        "port": report.port,
        "servername": report.servername,
        "at": _t(report.at),
        "protocol": report.protocol,
        "cipher": report.cipher,
        "handshake_ms": report.handshake_ms,
        "stapled": report.stapled,
        "verdict": report.verdict,
        "staple": None
        if not report.stapled
        else {
            "size": report.staple_size,
            "status": report.status,
            "detail": report.detail,
            "valid": report.valid,
            "produced_at": _t(report.produced_at),
            "this_update": _t(report.this_update),
            "next_update": _t(report.next_update),
            "revoked_at": _t(report.revoked_at),
            "reason": report.reason,
            "responder": report.responder,
            "responder_delegated": report.responder_delegated,
        },
        "chain": [
            {
                "subject": c.subject,
                "issuer": c.issuer,
                "serial": c.serial,
                "sha256": c.sha256,
                "not_before": _t(c.not_before),
                "not_after": _t(c.not_after),
            }
            for c in report.chain
        ],
        "problems": list(report.problems),
    }


def tls_text(report: StapleReport) -> str:
    lines = [
        f"ltv probe --tls {report.host}:{report.port}"
        + (f" (SNI {report.servername})" if report.servername else ""),
        f"  {report.protocol or '?'} {report.cipher or ''},"
        f" handshake {_ms(report.handshake_ms)} ms",
    ]
    if not report.stapled:
        lines.append("  NO STAPLE: the server sent no OCSP response (status_request)")
    else:
        lines.append(
            f"  staple: {report.staple_size} B, OCSP {report.status}"
            + (f" ({report.detail})" if report.detail else "")
            + f", producedAt {_t(report.produced_at)}, thisUpdate {_t(report.this_update)},"
            f" nextUpdate {_t(report.next_update)}"
        )
        if report.revoked_at:
            lines.append(f"  revoked at {_t(report.revoked_at)} ({report.reason or 'no reason'})")
        if report.responder:
            lines.append(
                f"  signed by {report.responder}"
                + (" (delegated responder)" if report.responder_delegated else " (the CA)")
            )
    lines.append(f"  verdict: {report.verdict}")
    lines.extend(f"  problem: {p}" for p in report.problems)
    lines.append(f"  chain sent ({len(report.chain)}):")
    lines.extend(
        f"    [{i}] {c.subject} (issuer {c.issuer}, serial {c.serial}, until {_t(c.not_after)})"
        for i, c in enumerate(report.chain)
    )
    return "\n".join(lines) + "\n"
