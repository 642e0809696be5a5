"""The weekly report as one self-contained HTML page and as CSV files.

The page has inline CSS and inline SVG bar charts and nothing else: no script, no font, no image
and no link that would reach the network (reports are opened from the archive bucket and mailed
around; they must look the same offline and leak nothing when opened). Every text is escaped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from html import escape
from typing import Any

from dunning.domain.models import iso_z
from dunning.domain.reporting.rates import Comparison, CurePoint, FunnelStage, Rate
from dunning.domain.reporting.report import Report, Table

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
_SERIES = ("#3e7bfa", "#f0b429", "#2f8132")  # reply, payment, cure
_INK = 'stroke="#1f2933"'
_CURVE_TABLE_DAYS = (0, 7, 14, 21, 30, 45, 60)  # the HTML shows these rows; the CSV has every day


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


def count_chart(labels: list[str], counts: list[int], captions: list[str], title: str = "") -> str:
    """Horizontal bars scaled to the largest count (a funnel), each with its caption."""
    row, left, width = 24, 170, 420
    top = max(counts, default=0) or 1
    height = row * len(labels) + 10
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{left + width + 190}" height="{height}" '
             f'viewBox="0 0 {left + width + 190} {height}">']
    for i, (label, count, caption) in enumerate(zip(labels, counts, captions, strict=True)):
        y = 5 + i * row
        w = width * count / top
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{_BAR}"/>'
                     f'<text x="{left + w + 6:.1f}" y="{y + 14}">{escape(caption)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def curve_chart(days: list[int], values: list[float | None], title: str = "") -> str:
    """A step line of a share (0-100%) over days; days without a value break the line."""
    left, top, width, height = 50, 10, 560, 220
    last = max(days, default=1) or 1

    def xy(day: int, value: float) -> str:
        return f"{left + width * day / last:.1f},{top + height * (1 - max(0.0, min(1.0, value))):.1f}"

    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{left + width + 20}" '
             f'height="{top + height + 40}" viewBox="0 0 {left + width + 20} {top + height + 40}">']
    for tick in (0, 25, 50, 75, 100):
        y = top + height * (1 - tick / 100)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" stroke="#e4e7eb"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}%</text>')
    for tick in range(0, last + 1, 10 if last >= 20 else 1):
        x = left + width * tick / last
        parts.append(f'<text x="{x:.1f}" y="{top + height + 16}" text-anchor="middle">{tick}</text>')
    parts.append(f'<text x="{left + width / 2:.1f}" y="{top + height + 34}" text-anchor="middle">'
                 f"days past due</text>")
    segment: list[str] = []
    segments: list[list[str]] = [segment]
    previous: float | None = None
    for day, value in zip(days, values, strict=True):
        if value is None:
            segment, previous = [], None
            segments.append(segment)
            continue
        if previous is not None:
            segment.append(xy(day, previous))  # hold the level until the day it changes
        segment.append(xy(day, value))
        previous = value
    for points in segments:
        if points:
            parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{_BAR}" '
                         f'stroke-width="2"/>')
    parts.append(f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" '
                 f'stroke="#9aa5b1"/><line x1="{left}" y1="{top}" x2="{left}" y2="{top + height}" '
                 f'stroke="#9aa5b1"/></svg>')
    return "".join(parts)


def grouped_chart(labels: list[str], series: list[tuple[str, list[float | None]]], title: str = "") -> str:
    """Several shares (0-100%) per label as adjacent bars, with a legend."""
    bar, gap, left, width = 14, 12, 170, 420
    group = bar * len(series) + gap
    height = 28 + group * len(labels) + 20
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{left + width + 80}" height="{height}" '
             f'viewBox="0 0 {left + width + 80} {height}">']
    for k, (name, _) in enumerate(series):
        x = left + k * 140
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{_SERIES[k % len(_SERIES)]}"/>'
                     f'<text x="{x + 16}" y="14">{escape(name)}</text>')
    for i, label in enumerate(labels):
        y = 28 + i * group
        parts.append(f'<text x="{left - 8}" y="{y + group / 2:.1f}" text-anchor="end">{escape(label)}</text>')
        for k, (_, values) in enumerate(series):
            value = values[i]
            by = y + k * bar
            w = 0.0 if value is None else max(0.0, min(1.0, value)) * width
            parts.append(f'<rect x="{left}" y="{by}" width="{w:.1f}" height="{bar - 2}" '
                         f'fill="{_SERIES[k % len(_SERIES)]}"/>'
                         f'<text x="{left + w + 4:.1f}" y="{by + bar - 3}">{_pct(value)}</text>')
    axis_y = 28 + group * len(labels)
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + width}" y2="{axis_y}" stroke="#9aa5b1"/>')
    for tick in (0, 50, 100):
        parts.append(f'<text x="{left + width * tick / 100:.1f}" y="{axis_y + 14}" '
                     f'text-anchor="middle">{tick}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def uplift_chart(comparisons: Sequence[Comparison], title: str = "") -> str:
    """Each comparison's difference in cure rate (points) with its 95% interval, around zero."""
    shown = [c for c in comparisons if c.difference is not None and c.low is not None and c.high is not None]
    if not shown:
        return ""
    row, left, width = 26, 220, 400
    reach = max(0.05, *(max(abs(c.low or 0.0), abs(c.high or 0.0)) for c in shown))
    zero = left + width / 2
    height = row * len(shown) + 30

    def x(value: float) -> float:
        return zero + width / 2 * value / reach

    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{left + width + 90}" height="{height}" '
             f'viewBox="0 0 {left + width + 90} {height}">']
    for i, c in enumerate(shown):
        y = 10 + i * row + row / 2
        d, lo, hi = c.difference or 0.0, c.low or 0.0, c.high or 0.0
        colour = "#2f8132" if c.significant else "#cb6e17"
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{escape(c.group)} vs {escape(c.baseline)}</text>"
                     f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" y2="{y:.1f}" {_INK}/>'
                     f'<circle cx="{x(d):.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>'
                     f'<text x="{left + width + 8}" y="{y + 4:.1f}">{d * 100:+.1f} pts</text>')
    axis_y = 10 + row * len(shown)
    parts.append(f'<line x1="{zero:.1f}" y1="6" x2="{zero:.1f}" y2="{axis_y}" stroke="#9aa5b1" '
                 f'stroke-dasharray="4 3"/>')
    for tick in (-reach, 0.0, reach):
        parts.append(f'<text x="{x(tick):.1f}" y="{axis_y + 14}" text-anchor="middle">'
                     f"{tick * 100:+.0f} pts</text>")
    parts.append("</svg>")
    return "".join(parts)


def _funnel_chart(stages: Sequence[FunnelStage]) -> str:
    cases = next((s.count for s in stages if s.stage == "cases_opened"), 0)
    captions = [str(s.count) if s.stage == "accounts" or not cases else f"{s.count} ({s.count / cases:.0%})"
                for s in stages]
    return count_chart([s.stage.replace("_", " ") for s in stages], [s.count for s in stages], captions,
                       "Case funnel")


def _cure_chart(points: Sequence[CurePoint]) -> str:
    return curve_chart([p.day for p in points], [p.share for p in points],
                       "Share of cases cured by day N past due")


def _channel_chart(table: Table) -> str:
    if not table.rows:
        return ""
    col = table.columns.index
    rows = table.rows
    return grouped_chart([str(r[0]) for r in rows],
                         [(name, [None if r[col(c)] is None else float(r[col(c)]) for r in rows])
                          for name, c in (("reply within 7 days", "response_rate"),
                                          ("payment within 7 days", "payment_rate"),
                                          ("cure within 7 days", "cure_rate"))],
                         table.title)


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


def _section(name: str, *parts: str) -> str:
    return f'<section id="{escape(name)}">' + "".join(parts) + "</section>"


def _sampled(table: Table, days: tuple[int, ...]) -> Table:
    return Table(table.name, table.title, table.columns, tuple(r for r in table.rows if r[0] in days))


def render_html(report: Report, title: str | None = None, extra: Sequence[Table] = ()) -> str:
    """The whole page; ``extra`` tables (e.g. a sandbox run's own figures) go at the end."""
    title = title or f"Collections report, week to {report.as_of:%Y-%m-%d}"
    cards = "".join(_card(k.replace("_", " "), _rate_text(r)) for k, r in report.summary.items())
    counts = "".join(_card(k.replace("_", " "), str(v)) for k, v in report.counts.items())
    tables = {t.name: t for t in report.tables}
    sections = [f"<h1>{escape(title)}</h1>",
                f'<p class="muted">Generated for {escape(iso_z(report.as_of))}. '
                + " ".join(escape(n) for n in report.notes) + "</p>",
                f'<div class="cards">{cards}</div>', f'<div class="cards">{counts}</div>']
    if "funnel" in tables and report.funnel:
        sections.append(_section("funnel", f"<h2>{escape(tables['funnel'].title)}</h2>",
                                 _funnel_chart(report.funnel), _table_html(tables["funnel"])))
    if "cure_curve" in tables and report.cure_curve:
        curve = tables["cure_curve"]
        sections.append(_section("cure_curve", f"<h2>{escape(curve.title)}</h2>",
                                 _cure_chart(report.cure_curve),
                                 '<p class="muted">A case counts on a day only if it was still open and '
                                 "that many days past due by the report instant; a case closed without a "
                                 "cure stops counting.</p>",
                                 _table_html(_sampled(curve, _CURVE_TABLE_DAYS))))
    verdicts = "".join(_verdict_html(c) for c in report.comparisons)
    sections.append(_section("champion_challenger", "<h2>Champion / challenger</h2>",
                             verdicts or '<p class="muted">No variants to compare.</p>',
                             uplift_chart(report.comparisons, "Difference in cure rate, 95% interval")))
    for table in (*report.tables, *extra):
        if table.name in ("summary", "funnel", "cure_curve"):
            continue
        chart = (_roll_chart(report) if table.name == "roll_rates"
                 else _channel_chart(table) if table.name == "by_channel" else _table_chart(table))
        sections.append(_section(table.name, f"<h2>{escape(table.title)}</h2>", chart, _table_html(table)))
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
