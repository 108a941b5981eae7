"""One self-contained HTML page for an audit run.

Inline CSS, inline SVG charts, a few lines of inline script; a Content-Security-Policy that
forbids every fetch (``default-src 'none'``), so opening the page loads nothing. It shows the
summary counts, a chart of the verdicts, a timeline of the renewals due (by month), and the
problems (every signature that did not pass, every file that could not be evaluated) in a table
that sorts by a click on a column header and filters by the text typed in the box. The table's
state can be given in the address (``page.html#filter=revoked&sort=2``: filter text, column,
``desc``), so a link can point at a view. Without script the page is complete, unsorted.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from html import escape
from typing import Any

__all__ = ["render_page"]

_COLORS = {
    "TOTAL-PASSED": "#2a8f3a",
    "TOTAL-FAILED": "#c62828",
    "INDETERMINATE": "#d18b00",
    "NO_SIGNATURE": "#8e44ad",
}
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff;max-width:1400px}
h1{font-size:1.4em;margin-bottom:.2em}h2{font-size:1.1em;margin:1.6em 0 .4em}
.meta{color:#555}table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
#problems th{cursor:pointer;user-select:none}#problems th[aria-sort=ascending]::after{content:" ▲"}
#problems th[aria-sort=descending]::after{content:" ▼"}
.TOTAL-PASSED{color:#2a8f3a}.TOTAL-FAILED{color:#c62828;font-weight:bold}
.INDETERMINATE{color:#b37400}.NO_SIGNATURE{color:#8e44ad}
.cards{display:flex;flex-wrap:wrap;gap:.8em}
.card{border:1px solid #ddd;padding:.5em .9em;min-width:8em}
.card b{display:block;font-size:1.5em}.chart{border:1px solid #ddd;background:#fcfcfc}
input[type=search]{font:inherit;padding:.2em .4em;width:24em}
ul.reasons{margin:0;padding-left:1.1em}
"""
_SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("problems");
  if (!table) { return; }
  var body = table.tBodies[0];
  var box = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var heads = table.tHead.rows[0].cells;
  function key(cell) {
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim().toLowerCase() : v;
  }
  function filter() {
    var q = box.value.trim().toLowerCase(), n = 0;
    for (var i = 0; i < body.rows.length; i++) {
      var row = body.rows[i];
      var hit = q === "" || row.textContent.toLowerCase().indexOf(q) >= 0;
      row.hidden = !hit;
      if (hit) { n++; }
    }
    shown.textContent = String(n);
  }
  function sort(col, descending) {
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      var c = x < y ? -1 : (x > y ? 1 : 0);
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    for (var i = 0; i < heads.length; i++) {
      var state = descending ? "descending" : "ascending";
      heads[i].setAttribute("aria-sort", i === col ? state : "none");
    }
  }
  for (var i = 0; i < heads.length; i++) {
    heads[i].addEventListener("click", (function (col) {
      return function () {
        sort(col, heads[col].getAttribute("aria-sort") === "ascending");
      };
    })(i));
  }
  box.addEventListener("input", filter);
  var params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.has("sort")) {
    var col = parseInt(params.get("sort"), 10);
    if (col >= 0 && col < heads.length) { sort(col, params.has("desc")); }
  }
  if (params.has("filter")) { box.value = params.get("filter"); }
  filter();
})();
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _cards(summary: dict[str, Any]) -> str:
    e = summary["ltv_enabled"]
    items = [
        ("files", summary["files"]),
        ("signatures", summary["signatures"]),
        ("not evaluable", summary["unreadable"]),
        ("renewal due", len(summary["renewal_due"])),
        ("LTV enabled", f"{e['yes']} / {e['yes'] + e['no'] + e['unknown']}"),
        ("parsed / re-used", f"{summary['examined']} / {summary['reused']}"),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card" data-count="{_e(label)}"><b>{_e(value)}</b>{_e(label)}</div>'
            for label, value in items
        )
        + "</div>"
    )


def _verdict_chart(counts: dict[str, int], title: str) -> str:
    """Horizontal bars, one per indication."""
    if not counts:
        return '<p class="meta">nothing to chart</p>'
    width, bar_h, gap, left, right = 620, 22, 8, 150, 70
    order = [k for k in _COLORS if k in counts] + sorted(k for k in counts if k not in _COLORS)
    height = gap + len(order) * (bar_h + gap)
    top = max(counts.values()) or 1
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">'
    ]
    for i, name in enumerate(order):
        y = gap + i * (bar_h + gap)
        w = (width - left - right) * counts[name] / top
        color = _COLORS.get(name, "#777")
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_h * 0.7:.1f}" font-size="12" '
            f'text-anchor="end">{_e(name)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}">'
            f"<title>{_e(name)}: {counts[name]}</title></rect>"
            f'<text x="{left + w + 5:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="12" '
            f'class="count">{counts[name]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _buckets(first: str, last: str, by_year: bool) -> list[str]:
    """Labels from ``first`` to ``last`` (``YYYY`` or ``YYYY-MM``), every one in between."""
    out: list[str] = []
    year, month = int(first[:4]), int(first[5:7]) if not by_year else 1
    while len(out) < 1200:
        label = f"{year:04d}" if by_year else f"{year:04d}-{month:02d}"
        out.append(label)
        if label >= last:
            break
        if by_year:
            year += 1
        else:
            month += 1
            if month > 12:
                year, month = year + 1, 1
    return out


def _timeline(renewals: list[dict[str, Any]], as_of: str) -> str:
    """Files whose protection lapses, per month (per year over more than three years), from
    the run's as-of time on; red: due in the as-of month (or year) or before."""
    if not renewals:
        return '<p class="meta">no file passes with a date to renew by</p>'
    months = sorted({r["due"][:7] for r in renewals} | {as_of[:7]})
    by_year = (int(months[-1][:4]) * 12 + int(months[-1][5:7])) - (
        int(months[0][:4]) * 12 + int(months[0][5:7])
    ) > 36
    cut = 4 if by_year else 7
    per_bucket = Counter(r["due"][:cut] for r in renewals)
    now_bucket = as_of[:cut]
    labels = _buckets(min(months)[:cut] if by_year else min(months), max(per_bucket), by_year)
    width, height, left, bottom, top_pad = 900, 200, 40, 40, 12
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    peak = max(per_bucket.values())
    step = plot_w / len(labels)
    unit = "year" if by_year else "month"
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="renewals due per {unit}">',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" '
        f'y2="{top_pad + plot_h}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top_pad + 10}" font-size="10" text-anchor="end">{peak}</text>',
    ]
    label_every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        x = left + i * step
        n = per_bucket.get(label, 0)
        if n:
            h = plot_h * n / peak
            color = "#c62828" if label <= now_bucket else "#1f77b4"
            parts.append(
                f'<rect class="due" x="{x + 1:.1f}" y="{top_pad + plot_h - h:.1f}" '
                f'width="{max(step - 2, 1):.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{label}: {n} file(s)</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - bottom + 14}" font-size="10" '
                f'text-anchor="middle">{label}</text>'
            )
    parts.append(
        f'<text x="{left}" y="{height - 6}" font-size="10">files per {unit}; as of '
        f"{_e(as_of)}; red: due by then</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _count_table(title: str, rows: dict[str, dict[str, int]]) -> str:
    if not rows:
        return ""
    cols = sorted({k for counts in rows.values() for k in counts if k != "signatures"})
    head = "".join(f"<th>{_e(c)}</th>" for c in ["", "signatures", *cols])
    body = "".join(
        f"<tr><td>{_e(name)}</td><td class=n>{counts['signatures']}</td>"
        + "".join(f"<td class=n>{counts.get(c, 0)}</td>" for c in cols)
        + "</tr>"
        for name, counts in rows.items()
    )
    return f"<h2>{_e(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _simple_table(title: str, counts: dict[str, int]) -> str:
    if not counts:
        return ""
    body = "".join(f"<tr><td>{_e(k)}</td><td class=n>{v}</td></tr>" for k, v in counts.items())
    return f"<h2>{_e(title)}</h2><table><tbody>{body}</tbody></table>"


def _problems(problems: list[dict[str, Any]], truncated: bool) -> str:
    if not problems:
        return '<h2>Problems</h2><p class="meta">none: every signature passed.</p>'
    rows = []
    for p in problems:
        reasons = "".join(f"<li>{_e(r)}</li>" for r in p["reasons"])
        indication = p["indication"]
        rows.append(
            "<tr>"
            f"<td>{_e(p['file'])}</td>"
            f"<td>{_e(p['field'] or '')}</td>"
            f'<td class="{_e(indication)}">{_e(indication)}</td>'
            f"<td>{_e(p['subindication'] or '')}</td>"
            f"<td>{_e(p['level'] or '')}</td>"
            f'<td><ul class="reasons">{reasons}</ul></td>'
            "</tr>"
        )
    note = " (the first ones; the store holds them all)" if truncated else ""
    return (
        "<h2>Problems</h2>"
        f'<p><input type="search" id="filter" placeholder="filter: file, verdict, reason..." '
        f'aria-label="filter the problems"> <span id="shown">{len(problems)}</span> of '
        f"{len(problems)} shown{note}; click a column to sort.</p>"
        '<table id="problems"><thead><tr>'
        "<th>file</th><th>signature</th><th>indication</th><th>subindication</th>"
        "<th>level</th><th>reasons</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def render_page(summary: dict[str, Any], *, problems_shown: int = 20_000) -> str:
    """The page for a summary (``ltv.audit.summary.summarize``)."""
    problems = summary["problems"][:problems_shown]
    truncated = summary.get("problems_truncated", False) or len(summary["problems"]) > len(problems)
    renewals = summary["renewal_due"]
    soonest = "".join(
        f"<tr><td>{_e(r['due'])}</td><td>{_e(r['file'])}</td></tr>" for r in renewals[:50]
    )
    generated = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    policy = summary["policy"]
    title = f"ltv audit, run {summary['run']}"
    return "".join(
        [
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{_e(title)}</h1>",
            f'<p class="meta">{_e(summary["status"])}; judged as of <b>{_e(summary["as_of"])}</b>'
            f" under policy {_e(policy['name'])} (online: {_e(policy['online'])}); started "
            f"{_e(summary['started_at'])}, finished {_e(summary['finished_at'] or '-')}; "
            f"ltv {_e(summary['ltv_version'])}; page made {_e(generated)}</p>",
            _cards(summary),
            "<h2>Verdicts (signatures and document timestamps)</h2>",
            _verdict_chart(summary["by_indication"], "verdicts of the signatures"),
            _simple_table("Files by verdict", summary["by_file_indication"]),
            _simple_table("Subindications", summary["by_subindication"]),
            _simple_table("PAdES levels (signatures)", summary["by_level"]),
            "<h2>Renewals due</h2>",
            '<p class="meta">The date after which the newest timestamp\'s TSA chain (or, '
            "without a timestamp, the signer's chain and its evidence) no longer carries the "
            "file: renew it with <code>ltv extend</code> before then.</p>",
            _timeline(renewals, summary["as_of"]),
            (
                "<table id=renewals><thead><tr><th>due</th><th>file</th></tr></thead><tbody>"
                + soonest
                + "</tbody></table>"
                if soonest
                else ""
            ),
            _count_table("By signer CA", summary["by_signer_ca"]),
            _count_table("By TSA", summary["by_tsa"]),
            _problems(problems, truncated),
            f"<script>{_SCRIPT}</script></body></html>\n",
        ]
    )
