"""The printable oversight report (PDF, A4 landscape, Vietnamese with English): the
totals, the lines of the roll-up, the ranking and the late documents with their holders.

Drawn with the registers' table machinery (docmgmt.incoming.registers: the embedded Noto
Serif, wrapping, headers repeated on every page, numbered pages).
"""

from __future__ import annotations

from typing import BinaryIO

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.incoming.registers import Table, render_tables_pdf
from docmgmt.oversight.export import (
    FIGURE_COLUMNS,
    LEVEL_LABELS,
    document_cells,
    document_columns,
    hours,
    line_name,
    percent,
)
from docmgmt.oversight.model import Figures, Level, OpenDocument, RankedAgency, Rollup

# The lines' table keeps the figures a leader reads first; the CSV has them all.
LINE_FIGURES = (
    ("Đến / Arrived", lambda f: f.arrived),
    ("Hoàn thành đúng hạn / On time", lambda f: f.completed_on_time),
    ("Hoàn thành trễ / Late", lambda f: f.completed_late),
    ("Giờ xử lý TB / Avg. hours", lambda f: hours(f.average_handling_hours)),
    ("Đang xử lý / Open", lambda f: f.handling_open),
    ("Sắp đến hạn / Due soon", lambda f: f.handling_due_soon),
    ("Quá hạn / Overdue", lambda f: f.handling_overdue + f.registration_overdue),
    ("Đã phát hành / Dispatched", lambda f: f.dispatched),
    ("Phát hành trễ / Dispatched late", lambda f: f.dispatched_late + f.dispatch_overdue),
    ("Chưa vào sổ / Not registered", lambda f: f.unacknowledged),
    ("Tỷ lệ trễ / Late rate", lambda f: percent(f.late_rate)),
)
DOCUMENT_WIDTHS = (1.6, 0.8, 1.1, 2.6, 1.5, 1.5, 1.0, 1.0, 0.8)


def _figures(f: Figures) -> list[str]:
    return [str(get(f)) for _, get in LINE_FIGURES]


def _totals(total: Figures) -> Table:
    """Every figure of the total, two columns of (name, value) pairs side by side."""
    pairs = [(title, str(get(total))) for title, get in FIGURE_COLUMNS]
    half = (len(pairs) + 1) // 2
    left, right = pairs[:half], pairs[half:] + [("", "")] * (2 * half - len(pairs))
    return Table("Tổng hợp / Totals",
                 [("Chỉ tiêu / Figure", 3.0), ("Số / Value", 1.0),
                  ("Chỉ tiêu / Figure", 3.0), ("Số / Value", 1.0)],
                 [[a, b, c, d] for (a, b), (c, d) in zip(left, right, strict=True)])


def report_tables(r: Rollup, ranked: list[RankedAgency],
                  late: list[OpenDocument]) -> list[Table]:
    """The report's tables: totals, lines, ranking (when given), late documents."""
    tables = [_totals(r.total), Table(
        "Theo cá nhân / By person" if r.level is Level.PERSON
        else "Theo cơ quan cấp dưới và đơn vị / By sub-agency and unit",
        [("Cấp / Level", 1.0), ("Tên / Name", 2.0), *((t, 1.0) for t, _ in LINE_FIGURES)],
        [[LEVEL_LABELS[ln.level], f"{ln.code} {line_name(ln)}".strip(), *_figures(ln.figures)]
         for ln in r.lines] or [["", "(Không có / None)", *[""] * len(LINE_FIGURES)]])]
    if ranked:
        tables.append(Table(
            "Xếp hạng theo tỷ lệ trễ hạn / Ranking by late rate",
            [("Hạng / Rank", 0.6), ("Mã / Code", 0.8), ("Cơ quan / Agency", 3.0),
             ("Trễ hạn / Late", 1.0), ("Hoàn thành / Completed", 1.0),
             ("Đã phát hành / Dispatched", 1.0), ("Tỷ lệ trễ / Late rate", 1.0)],
            [[str(i), a.code, a.name, str(a.figures.late), str(a.figures.completed),
              str(a.figures.dispatched), percent(a.figures.late_rate)]
             for i, a in enumerate(ranked, start=1)]))
    columns = [(t, w) for (t, _), w in zip(document_columns(r.now), DOCUMENT_WIDTHS,
                                           strict=True)]
    cells = document_cells(late, r.now)
    tables.append(Table(f"Văn bản trễ hạn / Late documents ({len(late)})", columns,
                        cells or [["", "", "", "(Không có / None)", *[""] * 5]]))
    return tables


def render_report(r: Rollup, ranked: list[RankedAgency], late: list[OpenDocument],
                  out: BinaryIO) -> None:
    """Write the printable report of a roll-up to ``out``."""
    now = r.now.astimezone(VIETNAM_TZ)
    where = " › ".join(name for _, _, name in r.breadcrumbs)
    subtitle = (f"{where} — Kỳ / Period {r.period.start:%d/%m/%Y} – {r.period.end:%d/%m/%Y}"
                f" — Lập lúc / As of {now:%d/%m/%Y %H:%M}")
    render_tables_pdf("BÁO CÁO GIÁM SÁT XỬ LÝ VĂN BẢN / DOCUMENT HANDLING OVERSIGHT REPORT",
                      subtitle, report_tables(r, ranked, late), out)
