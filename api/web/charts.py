"""Charts drawn on the server as inline SVG (the pages load no chart code): the parts every
chart shares, and one horizontal stacked bar per row (the desk's dashboard, the oversight
roll-up).

Presentation attributes only (the pages' CSP refuses style attributes). Each bar carries its
numbers as text and a key "1: n · 2: n" tied to the numbered legend, and <desc> says every
figure in words, so that no chart needs colour to be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil

from markupsafe import Markup, escape

from api.web.i18n import _

WIDTH = 360
NAME_ROW, BAR, KEY_ROW, GAP, LEGEND_ROW = 18, 20, 18, 10, 22
NAME_CHARS = 44  # a row's name in the chart (the table beside it has it whole)
INK, MUTED, WHITE = "#1b1f24", "#57606a", "#ffffff"

# A segment of a stacked bar: (label msgid, fill, text fill); a row: (name, counts).
Segment = tuple[str, str, str]
Row = tuple[str, Sequence[int]]


def text(x: float, y: float, words: str, *, fill: str = INK, anchor: str = "start",
         bold: bool = False, size: int = 13) -> str:
    """An SVG <text> (escaped)."""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}"'
            f' text-anchor="{anchor}" font-weight="{"bold" if bold else "normal"}">'
            f'{escape(words)}</text>')


def svg_open(ident: str, title: str, desc: str, height: float) -> list[str]:
    """The <svg> element's start with its title and description (ids from ``ident``)."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}"'
            f' width="{WIDTH}" height="{height:.0f}" role="img"'
            f' aria-labelledby="{ident}-title {ident}-desc" font-family="sans-serif">',
            f'<title id="{ident}-title">{escape(title)}</title>',
            f'<desc id="{ident}-desc">{escape(desc)}</desc>']


def legend(entries: Sequence[tuple[str, str]], columns: int) -> list[str]:
    """Numbered swatches with their (translated) labels, ``columns`` a row."""
    parts = []
    for i, (label, fill) in enumerate(entries):
        x, y = (i % columns) * WIDTH / columns, (i // columns) * LEGEND_ROW
        parts.append(f'<rect x="{x:.1f}" y="{y + 4:.1f}" width="14" height="14" fill="{fill}"'
                     f' stroke="{INK}" stroke-width="0.5"/>')
        parts.append(text(x + 20, y + 15, f"{i + 1}. {_(label)}"))
    return parts


def stacked_bars(ident: str, title: str, segments: Sequence[Segment], rows: Sequence[Row], *,
                 legend_columns: int, empty: str) -> Markup:
    """One horizontal stacked bar per row, scaled to the longest; each segment with its
    number on it when it fits, and under the bar every count keyed to the legend."""
    desc = " ".join(
        f"{name}: " + ", ".join(f"{_(label)} {n}" for (label, _f, _t), n
                                in zip(segments, counts, strict=True)) + "."
        for name, counts in rows)
    scale = max((sum(counts) for _name, counts in rows), default=0) or 1
    top = ceil(len(segments) / legend_columns) * LEGEND_ROW + 8
    height = top + len(rows) * (NAME_ROW + BAR + KEY_ROW + GAP)
    parts = svg_open(ident, title, desc, height)
    parts += legend([(label, fill) for label, fill, _t in segments], legend_columns)
    y = float(top)
    for name, counts in rows:
        total = sum(counts)
        short = name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "…"
        parts.append(text(0, y + 13, f"{short} ({total})", bold=True))
        y += NAME_ROW
        x = 0.0
        for (label, fill, ink), n in zip(segments, counts, strict=True):
            if not n:
                continue
            w = WIDTH * n / scale
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{BAR}"'
                         f' fill="{fill}" stroke="{WHITE}" stroke-width="1">'
                         f'<title>{escape(_(label))}: {n}</title></rect>')
            if w >= 16:
                parts.append(text(x + w / 2, y + 14.5, str(n), fill=ink, anchor="middle",
                                  bold=True))
            x += w
        if total:  # every count in words' stead, keyed to the legend: narrow segments too
            key = " · ".join(f"{i}: {n}" for i, n in enumerate(counts, start=1))
            parts.append(text(0, y + BAR + 14, key, fill=MUTED))
        else:
            parts.append(text(0, y + 14.5, empty, fill=MUTED))
        y += BAR + KEY_ROW + GAP
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()
