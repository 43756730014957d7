"""The oversight pages' charts (inline SVG, see api.web.charts): a stacked bar per line of a
roll-up (late, due soon, on time) and the late and completed documents per week or month."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

from api.web.charts import (
    INK,
    LEGEND_ROW,
    MUTED,
    WHITE,
    WIDTH,
    legend,
    stacked_bars,
    svg_open,
    text,
)
from api.web.i18n import N_, _, format_day
from docmgmt.oversight.model import Figures

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


def rollup_svg(bars: Sequence[Bar]) -> Markup:
    """One horizontal stacked bar per line: late, due soon, on time."""
    return stacked_bars("rollup-chart", _("Documents per line by deadline"), STATES,
                        [(b.name, b.counts) for b in bars], legend_columns=3,
                        empty=_("no document with a deadline"))


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
    parts = svg_open("trend-chart", title, desc, height)
    parts += legend(SERIES, columns=2)
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
            parts.append(text(x + bar / 2, base - h - 3, str(n), anchor="middle", size=11))
        if i % step == 0:
            parts.append(text(i * slot + slot / 2, base + 16, _axis_name(start, monthly),
                               anchor="middle", fill=MUTED, size=11))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def _axis_name(start: date, monthly: bool) -> str:
    return f"{start.month:02d}/{start.year}" if monthly else f"{start.day:02d}/{start.month:02d}"


def _period_name(start: date, monthly: bool) -> str:
    if monthly:
        return _("Month %(month)s") % {"month": f"{start.month:02d}/{start.year}"}
    return _("Week of %(day)s") % {"day": format_day(start)}
