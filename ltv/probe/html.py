"""One self-contained HTML page per probe run or history report.

Inline CSS and inline SVG charts, no script, no external resource (nothing is fetched when the
page is opened): a latency chart per responder — total milliseconds of each successful request
over time, one series per method and address family, failed requests as red ticks at the bottom,
the SLA as a dashed line when it is within the chart's range.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from ltv.probe.model import Measurement
from ltv.probe.summary import TargetSummary

__all__ = ["render_page"]

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.4em}h2{font-size:1.1em;margin:1.6em 0 .3em;word-break:break-all}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}.up{color:#180}.down,.BREACH{color:#c00;font-weight:bold}
.degraded,.local-problem{color:#b60}.note{color:#555}.chart{border:1px solid #ddd}
"""


def _t(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _chart(measurements: Sequence[Measurement], sla: float) -> str:
    """An inline SVG: total latency (ms) over time, one colour per method/family."""
    width, height, left, bottom, top, right = 640, 220, 56, 28, 12, 150
    counted = [m for m in measurements if m.host_header and not m.local_problem]
    if not counted:
        return '<p class="note">no counted measurement</p>'
    times = [m.at.timestamp() for m in counted]
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0
    ok = [m for m in counted if m.ok and m.total_ms is not None]
    top_ms = max([m.total_ms or 0.0 for m in ok] + [1.0])
    sla_ms = sla * 1000.0
    show_sla = sla_ms <= top_ms * 1.5
    if show_sla:
        top_ms = max(top_ms, sla_ms)
    top_ms *= 1.1
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(ts: float) -> float:
        return left + (ts - t0) / span * plot_w if t1 > t0 else left + plot_w / 2

    def y(ms: float) -> float:
        return top + plot_h - ms / top_ms * plot_h

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="latency chart">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"'
        ' stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        ms = top_ms * frac
        parts.append(
            f'<text x="{left - 4}" y="{y(ms) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{ms:.0f} ms</text>"
        )
    first, last = _t(datetime.fromtimestamp(t0, UTC)), _t(datetime.fromtimestamp(t1, UTC))
    parts.append(
        f'<text x="{left}" y="{height - 8}" font-size="10">{escape(first)}</text>'
        f'<text x="{left + plot_w}" y="{height - 8}" font-size="10" text-anchor="end">'
        f"{escape(last)}</text>"
    )
    if show_sla:
        parts.append(
            f'<line x1="{left}" y1="{y(sla_ms):.1f}" x2="{left + plot_w}" y2="{y(sla_ms):.1f}"'
            ' stroke="#c00" stroke-dasharray="4 3"/>'
            f'<text x="{left + plot_w + 4}" y="{y(sla_ms) + 4:.1f}" font-size="10" fill="#c00">'
            f"SLA {sla:g} s</text>"
        )
    series: dict[str, list[Measurement]] = {}
    for m in ok:
        series.setdefault(f"{m.method} {m.family or ''}".strip(), []).append(m)
    for i, (name, points) in enumerate(sorted(series.items())):
        color = _COLORS[i % len(_COLORS)]
        coords = " ".join(f"{x(m.at.timestamp()):.1f},{y(m.total_ms or 0):.1f}" for m in points)
        if len(points) > 1:
            parts.append(f'<polyline fill="none" stroke="{color}" points="{coords}"/>')
        parts.extend(
            f'<circle cx="{x(m.at.timestamp()):.1f}" cy="{y(m.total_ms or 0):.1f}" r="2.5"'
            f' fill="{color}"><title>{escape(name)}: {m.total_ms:.1f} ms</title></circle>'
            for m in points
        )
        ly = top + 12 + i * 14
        parts.append(
            f'<rect x="{left + plot_w + 8}" y="{ly - 8}" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + plot_w + 22}" y="{ly + 1}" font-size="11">{escape(name)}</text>'
        )
    failed = [m for m in counted if not m.ok]
    parts.extend(
        f'<line x1="{x(m.at.timestamp()):.1f}" y1="{top + plot_h}" x2="{x(m.at.timestamp()):.1f}"'
        f' y2="{top + plot_h - 10}" stroke="#c00" stroke-width="2">'
        f"<title>{escape(m.method)} {escape(m.family or '')}: {escape(m.error or '')}</title>"
        "</line>"
        for m in failed
    )
    if failed:
        ly = top + 12 + len(series) * 14
        parts.append(
            f'<line x1="{left + plot_w + 13}" y1="{ly - 8}" x2="{left + plot_w + 13}" y2="{ly + 2}"'
            ' stroke="#c00" stroke-width="2"/>'
            f'<text x="{left + plot_w + 22}" y="{ly + 1}" font-size="11">failed</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _summary_table(summaries: Sequence[TargetSummary], sla: float) -> str:
    rows = [
        "<table><tr><th>responder</th><th>kind</th><th>result</th><th>availability</th>"
        "<th>median ms</th><th>p95 ms</th><th>size</th><th>IPv6</th><th>SLA breaches</th>"
        "<th>no Host</th></tr>"
    ]
    for s in summaries:
        ok = [x for x in s.latency if x.ok]
        med = min((x.median_ms for x in ok if x.median_ms is not None), default=None)
        p95 = max((x.p95_ms for x in ok if x.p95_ms is not None), default=None)
        six = [f for f in s.families if f.family == "ipv6"]
        ipv6 = "no" if not six else ("yes" if six[0].answers else "fails")
        avail = "-" if s.availability is None else f"{s.availability:.1%}"
        nohost = (
            "-"
            if s.no_host_answers is None
            else ("answers" if s.no_host_answers else f"rejected ({s.no_host_error})")
        )
        rows.append(
            f'<tr><td><a href="#t{id(s)}">{escape(s.url)}</a></td><td>{escape(s.kind)}</td>'
            f'<td class="{escape(s.verdict)}">{escape(s.verdict)}</td><td>{avail}</td>'
            f"<td>{_ms(med)}</td><td>{_ms(p95)}</td><td>{s.size_median or '-'}</td>"
            f"<td>{ipv6}</td>"
            f'<td class="{"BREACH" if s.sla_breaches else ""}">{s.sla_breaches}</td>'
            f"<td>{escape(nohost)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _details(s: TargetSummary) -> str:
    rows: list[tuple[str, str]] = []
    if s.subject:
        rows.append(("for", s.subject))
    if s.sources:
        rows.append(("found as", "; ".join(s.sources)))
    if s.failures:
        rows.append(("failures", ", ".join(f"{k} x{v}" for k, v in s.failures.items())))
    if s.excluded:
        rows.append(("excluded", f"{s.excluded} requests (local network problem)"))
    if s.near_probe:
        rows.append(("warning", "median below 1 ms: the probe looks next to the responder"))
    if s.families:
        rows.append(
            (
                "address families",
                ", ".join(
                    f"{f.family} {f.address or ''} {'answers' if f.answers else 'FAILS'}"
                    for f in s.families
                ),
            )
        )
    if s.kind == "ocsp" and s.ocsp_status:
        rows.append(("OCSP status", s.ocsp_status))
        rows.append(("producedAt", _t(s.produced_at)))
    if s.this_update:
        rows.append(("thisUpdate / nextUpdate", f"{_t(s.this_update)} / {_t(s.next_update)}"))
    if s.validity_seconds is not None:
        rows.append(("usable for", f"{s.validity_seconds / 3600:.1f} h"))
    if s.get_post:
        rows.append(("GET vs POST", s.get_post))
    if s.kind == "crl" and s.crl_entries is not None:
        rows.append(("CRL", f"{s.crl_entries} entries, delta CRL {'yes' if s.delta_crl else 'no'}"))
    if s.subjects:
        rows.append(("certificates", "; ".join(s.subjects)))
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    lat = "".join(
        f"<tr><td>{escape(x.method)}</td><td>{escape(x.family or '-')}</td><td>{x.ok}/{x.requests}"
        f"</td><td>{_ms(x.min_ms)}</td><td>{_ms(x.median_ms)}</td><td>{_ms(x.p95_ms)}</td>"
        f"<td>{_ms(x.max_ms)}</td><td>{_ms(x.dns_ms)}</td><td>{_ms(x.connect_ms)}</td>"
        f"<td>{_ms(x.ttfb_ms)}</td></tr>"
        for x in s.latency
    )
    return (
        f"<table>{table}</table><table><tr><th>method</th><th>family</th><th>ok</th><th>min</th>"
        f"<th>median</th><th>p95</th><th>max</th><th>dns</th><th>connect</th><th>ttfb</th></tr>"
        f"{lat}</table>"
    )


def render_page(
    title: str,
    summaries: Sequence[TargetSummary],
    measurements: Sequence[Measurement],
    *,
    sla: float,
    notes: Sequence[str] = (),
) -> bytes:
    """The whole page, UTF-8."""
    by_target: dict[str, list[Measurement]] = {}
    for m in measurements:
        by_target.setdefault(m.target, []).append(m)
    body = [
        f"<h1>{escape(title)}</h1>",
        *(f'<p class="note">{escape(n)}</p>' for n in notes),
        _summary_table(summaries, sla),
    ]
    for s in summaries:
        body.append(
            f'<h2 id="t{id(s)}">{escape(s.kind)} {escape(s.url)}'
            f' — <span class="{escape(s.verdict)}">{escape(s.verdict)}</span></h2>'
        )
        body.append(_chart(sorted(by_target.get(s.target, []), key=lambda m: m.at), sla))
        body.append(_details(s))
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    return page.encode("utf-8")
