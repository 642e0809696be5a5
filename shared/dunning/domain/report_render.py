"""The weekly report as one self-contained HTML page and as CSV files.

The page has inline CSS and inline SVG bar charts and nothing else: no script, no font, no image
and no link that would reach the network (reports are opened from the archive bucket and mailed
around; they must look the same offline and leak nothing when opened). Every text is escaped.
"""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Any

from dunning.domain.models import iso_z
from dunning.domain.reporting import Comparison, Rate, Report, Table

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#1f2933}
body{max-width:1100px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d9e2ec}
.muted{color:#616e7c;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #d9e2ec;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #d9e2ec;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f0f4f8}
.verdict{margin:6px 0;padding:8px 12px;border-left:4px solid #9aa5b1;background:#f8fafc}
.verdict.sig{border-color:#2f8132}.verdict.ns{border-color:#cb6e17}.verdict.small{border-color:#9aa5b1}
svg text{font-size:12px;fill:#1f2933}
"""

_BAR = "#3e7bfa"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def bar_chart(labels: list[str], values: list[float | None],
              intervals: list[tuple[float, float] | None] | None = None, title: str = "") -> str:
    """Horizontal bars (0-100%) with optional interval whiskers, as inline SVG."""
    row, left, width = 24, 170, 420
    height = row * len(labels) + 30
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{left + width + 80}" height="{height}" '
             f'viewBox="0 0 {left + width + 80} {height}">']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 10 + i * row
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        if value is not None:
            w = max(0.0, min(1.0, value)) * width
            parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{_BAR}"/>')
        interval = intervals[i] if intervals else None
        if interval is not None:
            lo, hi = (left + max(0.0, min(1.0, v)) * width for v in interval)
            mid = y + row / 2 - 1
            ink = 'stroke="#1f2933"'
            parts.append(f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" {ink}/>'
                         f'<line x1="{lo:.1f}" y1="{mid - 5}" x2="{lo:.1f}" y2="{mid + 5}" {ink}/>'
                         f'<line x1="{hi:.1f}" y1="{mid - 5}" x2="{hi:.1f}" y2="{mid + 5}" {ink}/>')
        parts.append(f'<text x="{left + width + 8}" y="{y + 14}">{_pct(value)}</text>')
    axis_y = 10 + len(labels) * row
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + width}" y2="{axis_y}" stroke="#9aa5b1"/>')
    for tick in (0, 25, 50, 75, 100):
        x = left + width * tick / 100
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle">{tick}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _table_chart(table: Table) -> str:
    if table.chart is None or not table.rows:
        return ""
    label_col, value_col = (table.columns.index(c) for c in table.chart)
    intervals = None
    if "low_95" in table.columns:
        lo, hi = table.columns.index("low_95"), table.columns.index("high_95")
        intervals = [None if r[lo] is None else (float(r[lo]), float(r[hi])) for r in table.rows]
    return bar_chart([str(r[label_col]) for r in table.rows],
                     [None if r[value_col] is None else float(r[value_col]) for r in table.rows],
                     intervals, table.title)


def _roll_chart(report: Report) -> str:
    rows = [r for r in report.roll.rows if r.roll_rate is not None]
    return bar_chart([f"{r.bucket} -> next" for r in rows], [r.roll_rate.value for r in rows if r.roll_rate],
                     [r.roll_rate.interval if r.start else None for r in rows if r.roll_rate],
                     "Roll rates, pooled periods")


def _verdict_html(c: Comparison) -> str:
    css = "small" if c.significant is None else ("sig" if c.significant else "ns")
    who = f"{escape(c.group)} vs {escape(c.baseline)}"
    return f'<p class="verdict {css}"><b>{who}:</b> {escape(c.verdict)}</p>'


def _card(label: str, value: str) -> str:
    return f'<div class="card"><span class="muted">{escape(label)}</span><b>{escape(value)}</b></div>'


def _rate_text(rate: Rate) -> str:
    return str(rate)


def render_html(report: Report) -> str:
    title = f"Collections report, week to {report.as_of:%Y-%m-%d}"
    cards = "".join(_card(k.replace("_", " "), _rate_text(r)) for k, r in report.summary.items())
    counts = "".join(_card(k.replace("_", " "), str(v)) for k, v in report.counts.items())
    sections = [f"<h1>{escape(title)}</h1>",
                f'<p class="muted">Generated for {escape(iso_z(report.as_of))}. '
                + " ".join(escape(n) for n in report.notes) + "</p>",
                f'<div class="cards">{cards}</div>', f'<div class="cards">{counts}</div>',
                "<h2>Champion / challenger</h2>"]
    verdicts = [_verdict_html(c) for c in report.comparisons]
    sections += verdicts or ['<p class="muted">No variants to compare.</p>']
    for table in report.tables:
        if table.name == "summary":
            continue
        sections.append(f"<h2>{escape(table.title)}</h2>")
        sections.append(_roll_chart(report) if table.name == "roll_rates" else _table_chart(table))
        sections.append(_table_html(table))
    body = "\n".join(s for s in sections if s)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")


def render_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def render_files(report: Report) -> dict[str, str]:
    """File name -> content: ``report.html`` and one ``<table>.csv`` per table."""
    files = {"report.html": render_html(report)}
    files |= {f"{t.name}.csv": render_csv(t) for t in report.tables}
    return files
