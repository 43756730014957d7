"""The oversight pages' charts, drawn on the server as inline SVG: a stacked bar per line of a
roll-up (late, due soon, on time) and the late and completed documents per week or month.

Presentation attributes only (the pages' CSP refuses style attributes). Every bar carries its
number as text and a key in words, and <desc> says it all again, so no chart needs colour to
be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from api.web.i18n import N_, _, format_day
from docmgmt.oversight.model import Figures

WIDTH = 360
NAME_ROW, BAR, KEY_ROW, GAP, LEGEND_ROW = 18, 20, 18, 10, 22
NAME_CHARS = 44  # a line's name in the chart (the table beside it has it whole)
INK, MUTED, WHITE = "#1b1f24", "#57606a", "#ffffff"

# The roll-up bar's segments, left to right: (label, fill, text fill).
STATES = (
    (N_("Late"), "#b42318", WHITE),
    (N_("Due soon"), "#f2cc60", INK),
    (N_("On time"), "#1a7f37", WHITE),
)
# The trend chart's two series: (label, fill).
SERIES = ((N_("Late"), "#b42318"), (N_("Completed"), "#0969da"))


def states(f: Figures) -> tuple[int, int, int]:
    """A line's documents by state: late (late now or in the period), due soon (open), on
    time (completed or dispatched on time, and open documents not yet near their due)."""
    open_on_time = max(f.handling_open - f.handling_overdue - f.handling_due_soon, 0)
    on_time = f.completed_on_time + max(f.dispatched - f.dispatched_late, 0) + open_on_time
    return f.late, f.handling_due_soon, on_time


@dataclass(frozen=True)
class Bar:
    """One line of a roll-up as the chart draws it: its name and its three counts."""

    name: str
    counts: tuple[int, int, int]


def _text(x: float, y: float, text: str, *, fill: str = INK, anchor: str = "start",
          bold: bool = False, size: int = 13) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}"'
            f' text-anchor="{anchor}"{weight}>{escape(text)}</text>')


def _open(ident: str, title: str, desc: str, height: float) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}"'
            f' width="{WIDTH}" height="{height:.0f}" role="img"'
            f' aria-labelledby="{ident}-title {ident}-desc" font-family="sans-serif">',
            f'<title id="{ident}-title">{escape(title)}</title>',
            f'<desc id="{ident}-desc">{escape(desc)}</desc>']


def _legend(entries: Sequence[tuple[str, str]], columns: int) -> list[str]:
    parts = []
    for i, (label, fill) in enumerate(entries):
        x, y = (i % columns) * WIDTH / columns, (i // columns) * LEGEND_ROW
        parts.append(f'<rect x="{x:.1f}" y="{y + 4:.1f}" width="14" height="14" fill="{fill}"'
                     f' stroke="{INK}" stroke-width="0.5"/>')
        parts.append(_text(x + 20, y + 15, f"{i + 1}. {_(label)}"))
    return parts


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "…"


def rollup_svg(bars: Sequence[Bar]) -> Markup:
    """One horizontal stacked bar per line (late, due soon, on time), numbers on the bars
    and under them as "1: n · 2: n · 3: n" keyed to the legend."""
    title = _("Documents per line by deadline")
    desc = " ".join(
        f"{b.name}: " + ", ".join(f"{_(label)} {n}" for (label, _f, _t), n
                                   in zip(STATES, b.counts, strict=True)) + "."
        for b in bars)
    scale = max((sum(b.counts) for b in bars), default=0) or 1
    top = LEGEND_ROW + 8
    height = top + len(bars) * (NAME_ROW + BAR + KEY_ROW + GAP)
    parts = _open("rollup-chart", title, desc, height)
    parts += _legend([(label, fill) for label, fill, _t in STATES], columns=3)
    y = float(top)
    for b in bars:
        total = sum(b.counts)
        parts.append(_text(0, y + 13, f"{_short(b.name)} ({total})", bold=True))
        y += NAME_ROW
        x = 0.0
        for (label, fill, ink), n in zip(STATES, b.counts, strict=True):
            if not n:
                continue
            w = WIDTH * n / scale
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{BAR}"'
                         f' fill="{fill}" stroke="{WHITE}" stroke-width="1">'
                         f'<title>{escape(_(label))}: {n}</title></rect>')
            if w >= 16:
                parts.append(_text(x + w / 2, y + 14.5, str(n), fill=ink, anchor="middle",
                                   bold=True))
            x += w
        if total:
            key = " · ".join(f"{i}: {n}" for i, n in enumerate(b.counts, start=1))
            parts.append(_text(0, y + BAR + 14, key, fill=MUTED))
        else:
            parts.append(_text(0, y + 14.5, _("no document with a deadline"), fill=MUTED))
        y += BAR + KEY_ROW + GAP
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


TREND_TOP, TREND_PLOT, TREND_AXIS = LEGEND_ROW + 22, 150, 34


def trend_svg(points: Sequence[tuple[date, int, int]], *, monthly: bool) -> Markup:
    """Late and completed documents per week or month: two bars per period side by side,
    each with its number above it, the period's first day under it."""
    title = _("Late and completed documents per month") if monthly \
        else _("Late and completed documents per week")
    desc = " ".join(
        f"{_period_name(start, monthly)}: {_('Late')} {late}, {_('Completed')} {done}."
        for start, late, done in points)
    height = TREND_TOP + TREND_PLOT + TREND_AXIS
    parts = _open("trend-chart", title, desc, height)
    parts += _legend(SERIES, columns=2)
    scale = max((max(late, done) for _s, late, done in points), default=0) or 1
    base = TREND_TOP + TREND_PLOT
    parts.append(f'<line x1="0" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="{MUTED}"'
                 ' stroke-width="1"/>')
    slot = WIDTH / max(len(points), 1)
    bar = min(slot * 0.4, 28)
    # Label every period when they fit, else every second or third one.
    step = 1 if slot >= 44 else (2 if slot >= 22 else 3)
    for i, (start, late, done) in enumerate(points):
        left = i * slot + (slot - 2 * bar) / 2
        for j, (n, (_label, fill)) in enumerate(zip((late, done), SERIES, strict=True)):
            h = (TREND_PLOT - 16) * n / scale
            x = left + j * bar
            parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}"'
                         f' height="{h:.1f}" fill="{fill}"/>')
            parts.append(_text(x + bar / 2, base - h - 3, str(n), anchor="middle", size=11))
        if i % step == 0:
            parts.append(_text(i * slot + slot / 2, base + 16, _axis_name(start, monthly),
                               anchor="middle", fill=MUTED, size=11))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def _axis_name(start: date, monthly: bool) -> str:
    return f"{start.month:02d}/{start.year}" if monthly else f"{start.day:02d}/{start.month:02d}"


def _period_name(start: date, monthly: bool) -> str:
    if monthly:
        return _("Month %(month)s") % {"month": f"{start.month:02d}/{start.year}"}
    return _("Week of %(day)s") % {"day": format_day(start)}
