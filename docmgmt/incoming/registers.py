"""The registers (sổ đăng ký văn bản đến/đi) as CSV for Excel and as PDF for printing.

The PDF is an A4 landscape table drawn with pyHanko's PDF writer and its OpenType engine
(HarfBuzz shaping, embedded subset of the bundled Noto Serif, so every Vietnamese letter
prints and extracts as text). The column header row repeats on every page; each page is
numbered "Trang i/n"; cell text wraps within its column, and a row too tall for one page
continues on the next.
"""

# pyHanko's writer and PDF object constructors are unannotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

from docmgmt.domain.calendar import VIETNAM_TZ

FONT = Path(__file__).resolve().parents[2] / "signing" / "fonts" / "NotoSerif-Regular.ttf"
"""Noto Serif (SIL OFL 1.1): full Vietnamese coverage, 1000 units per em."""

PAGE_WIDTH, PAGE_HEIGHT = 841.89, 595.28  # A4 landscape, in points
MARGIN_LEFT = 56.7  # 2 cm: room for binding
MARGIN_RIGHT = MARGIN_TOP = 28.35  # 1 cm
MARGIN_BOTTOM = 36.0
TITLE_SIZE, SUBTITLE_SIZE, HEADER_SIZE, BODY_SIZE, FOOTER_SIZE = 14.0, 10.5, 9.0, 9.0, 8.5
LEADING = 1.25  # line height as a multiple of the font size
PAD = 3.0  # cell padding, points
HEADER_FILL = (0.88, 0.88, 0.88)
GAP = 12.0  # between two tables, points


@lru_cache(maxsize=2)
def _font_bytes(font_path: str) -> bytes:
    # Without the OpenType layout tables: pyHanko drops them from the subset anyway, and
    # fontTools would decode them on every subsetting. Vietnamese letters are precomposed
    # in the cmap, so nothing but kerning is lost.
    from fontTools.ttLib import TTFont

    with TTFont(font_path) as font:
        for tag in ("GSUB", "GPOS", "GDEF"):
            if tag in font:
                del font[tag]
        out = io.BytesIO()
        font.save(out)
    return out.getvalue()


class PdfText:
    """Measures, wraps and draws text with one embedded font."""

    def __init__(self, writer: PdfFileWriter, font_path: Path) -> None:
        self.writer = writer
        self.engine = GlyphAccumulator(writer=writer,
                                       font_handle=io.BytesIO(_font_bytes(str(font_path))),
                                       font_size=1, bcp47_lang_code="vi")
        if self.engine.units_per_em != 1000:
            # pyHanko writes widths in font units, which PDF reads as 1/1000 em.
            raise ValueError(f"{font_path}: a font with 1000 units per em is needed")
        self._widths: dict[str, float] = {}

    def add_page(self, ops: list[bytes], width: float, height: float) -> None:
        """A page of ``width`` x ``height`` points drawn by ``ops`` (this font as /F1)."""
        stream = generic.StreamObject(stream_data=b"".join(ops))
        stream.compress()
        resources = generic.DictionaryObject({
            generic.pdf_name("/Font"): generic.DictionaryObject({
                generic.pdf_name("/F1"): self.engine.as_resource()}),
        })
        self.writer.insert_page(PageObject(contents=self.writer.add_object(stream),
                                           media_box=(0, 0, width, height),
                                           resources=resources))

    def width(self, text: str, size: float) -> float:
        """Advance width of ``text`` at ``size`` points."""
        if not text:
            return 0.0
        unit = self._widths.get(text)
        if unit is None:
            unit = self._widths[text] = float(self.engine.shape(text).x_advance)
        return unit * size

    def wrap(self, text: str, width: float, size: float) -> list[str]:
        """Greedy word wrap into lines no wider than ``width`` (long words are cut)."""
        lines: list[str] = []
        for paragraph in text.splitlines() or [""]:
            line = ""
            for word in paragraph.split():
                candidate = f"{line} {word}" if line else word
                if self.width(candidate, size) <= width:
                    line = candidate
                    continue
                if line:
                    lines.append(line)
                line = ""
                while self.width(word, size) > width and len(word) > 1:
                    cut = len(word) - 1
                    while cut > 1 and self.width(word[:cut], size) > width:
                        cut -= 1
                    lines.append(word[:cut])
                    word = word[cut:]
                line = word
            lines.append(line)
        return lines

    def draw(self, text: str, x: float, y: float, size: float) -> bytes:
        """Operators drawing ``text`` with its baseline starting at ``(x, y)``."""
        if not text:
            return b""
        ops = self.engine.shape(text).graphics_ops
        return b"BT /F1 %g Tf 1 0 0 1 %.2f %.2f Tm %s ET\n" % (size, x, y, ops)

    def centred(self, text: str, centre: float, y: float, size: float) -> bytes:
        """Operators drawing ``text`` centred on ``centre``."""
        return self.draw(text, centre - self.width(text, size) / 2, y, size)


@dataclass
class _Row:
    """One table row (or the part of it that fits a page): lines per cell, and height."""

    cells: list[list[str]]

    @property
    def height(self) -> float:
        return max(len(c) for c in self.cells) * BODY_SIZE * LEADING + 2 * PAD


def _split(row: _Row, max_height: float) -> tuple[_Row, _Row]:
    """The lines of ``row`` that fit ``max_height``, and the rest."""
    fit = max(1, int((max_height - 2 * PAD) // (BODY_SIZE * LEADING)))
    return (_Row([c[:fit] for c in row.cells]),
            _Row([c[fit:] or [""] for c in row.cells]))


def _column_widths(text: PdfText, relative: list[float], rows: list[list[str]],
                   printable: float) -> list[float]:
    """Column widths: relative shares, but never narrower than the column's longest word.

    Numbers, codes and dates have no spaces, so a column narrower than its longest one would
    cut it across lines. Columns that need more than their share get what they need; the
    rest share what is left. Only when the needs exceed the page are words still cut.
    """
    need = [2 * PAD + max((text.width(word, BODY_SIZE) for row in rows
                           for word in row[i].split()), default=0.0)
            for i in range(len(relative))]
    if sum(need) > printable:
        return [printable * w / sum(relative) for w in relative]
    fixed: dict[int, float] = {}
    while True:
        free = printable - sum(fixed.values())
        share = sum(w for i, w in enumerate(relative) if i not in fixed)
        short = [i for i, w in enumerate(relative)
                 if i not in fixed and free * w / share < need[i]]
        if not short:
            return [fixed.get(i, free * w / share) for i, w in enumerate(relative)]
        fixed.update((i, need[i]) for i in short)


@dataclass(frozen=True)
class Table:
    """A table of a printed document: an optional heading, (header, relative width)
    columns, and one string per column in each row."""

    heading: str
    columns: list[tuple[str, float]]
    rows: list[list[str]]


def render_register_pdf(
    title: str,
    subtitle: str,
    columns: list[tuple[str, float]],
    rows: list[list[str]],
    out: BinaryIO,
    *,
    font_path: Path = FONT,
) -> None:
    """Write a register as an A4 landscape PDF table to ``out``.

    ``columns`` are (header, relative width) pairs, scaled to the printable width; each
    row gives one string per column. The title and subtitle head page one; the column
    headers repeat on every page, and every page is numbered "Trang i/n".
    """
    render_tables_pdf(title, subtitle, [Table("", columns, rows)], out, font_path=font_path)


@dataclass
class _Layout:
    """One table laid out for the page width: column positions and the header's lines."""

    lefts: list[float]
    widths: list[float]
    header: list[list[str]]
    header_height: float


def _layout(text: PdfText, table: Table, printable: float) -> _Layout:
    columns, rows = table.columns, table.rows
    if not columns:
        raise ValueError("a table needs at least one column")
    if any(len(r) != len(columns) for r in rows):
        raise ValueError("every row needs one cell per column")
    if sum(w for _, w in columns) <= 0 or any(w <= 0 for _, w in columns):
        raise ValueError("column widths must be positive")
    widths = _column_widths(text, [w for _, w in columns], rows, printable)
    header = [text.wrap(h, w - 2 * PAD, HEADER_SIZE) for (h, _), w in zip(columns, widths,
                                                                           strict=True)]
    return _Layout([MARGIN_LEFT + sum(widths[:i]) for i in range(len(widths))], widths,
                   header, max(len(c) for c in header) * HEADER_SIZE * LEADING + 2 * PAD)


# What a page shows, in order: ("heading", lines) | ("header", layout) | ("row", layout,
# row) | ("gap", None) after a table.
_Block = tuple[Any, ...]


def render_tables_pdf(title: str, subtitle: str, tables: list[Table], out: BinaryIO, *,
                      font_path: Path = FONT) -> None:
    """Write tables one after the other as an A4 landscape PDF to ``out``.

    The title and subtitle head page one; each table's heading stands above it (never
    alone at the foot of a page), its column headers repeat on every page it spans, cell
    text wraps within its column, a row too tall for a page continues on the next, and
    every page is numbered "Trang i/n".
    """
    printable = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    writer = PdfFileWriter()
    text = PdfText(writer, font_path)
    title_lines = text.wrap(title, printable, TITLE_SIZE)
    subtitle_lines = text.wrap(subtitle, printable, SUBTITLE_SIZE) if subtitle else []
    title_height = (len(title_lines) * TITLE_SIZE * LEADING
                    + len(subtitle_lines) * SUBTITLE_SIZE * LEADING + 8)

    # Lay the blocks out on pages first: the page count goes in every footer.
    full_page = PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    pages: list[list[_Block]] = [[]]
    room = full_page - title_height
    for table in tables:
        layout = _layout(text, table, printable)
        heading = text.wrap(table.heading, printable, SUBTITLE_SIZE) if table.heading else []
        heading_height = len(heading) * SUBTITLE_SIZE * LEADING + (6 if heading else 0)
        rows = [_Row([text.wrap(c, w - 2 * PAD, BODY_SIZE)
                      for c, w in zip(cells, layout.widths, strict=True)])
                for cells in table.rows]
        first = rows[0].height if rows else 0.0
        if pages[-1] and heading_height + layout.header_height + first > room:
            pages.append([])
            room = full_page
        if heading:
            pages[-1].append(("heading", heading))
        pages[-1].append(("header", layout))
        room -= heading_height + layout.header_height
        for row in rows:
            while row.height > room:
                if pages[-1][-1][0] != "header" and row.height <= full_page - layout.header_height:
                    pages.append([("header", layout)])
                    room = full_page - layout.header_height
                    continue
                part, row = _split(row, room)
                pages[-1].append(("row", layout, part))
                pages.append([("header", layout)])
                room = full_page - layout.header_height
            pages[-1].append(("row", layout, row))
            room -= row.height
        pages[-1].append(("gap", None))
        room -= GAP

    for number, blocks in enumerate(pages, start=1):
        ops: list[bytes] = [b"0 0 0 RG 0.5 w\n"]
        y = PAGE_HEIGHT - MARGIN_TOP
        if number == 1:
            for line in title_lines:
                y -= TITLE_SIZE * LEADING
                ops.append(text.centred(line, PAGE_WIDTH / 2, y + TITLE_SIZE * 0.25,
                                        TITLE_SIZE))
            for line in subtitle_lines:
                y -= SUBTITLE_SIZE * LEADING
                ops.append(text.centred(line, PAGE_WIDTH / 2, y + SUBTITLE_SIZE * 0.25,
                                        SUBTITLE_SIZE))
            y -= 8
        for block in blocks:
            y = _draw_block(text, block, y, printable, ops)
        ops.append(text.centred(f"Trang {number}/{len(pages)}", PAGE_WIDTH / 2,
                                MARGIN_BOTTOM / 2, FOOTER_SIZE))
        text.add_page(ops, PAGE_WIDTH, PAGE_HEIGHT)
    writer.document_meta.title = title
    writer.write(out)


def _draw_block(text: PdfText, block: _Block, y: float, printable: float,
                ops: list[bytes]) -> float:
    """Append the operators of one block whose top is ``y``; return its bottom."""
    kind, layout = block[0], block[1]
    if kind == "gap":
        return y - GAP
    if kind == "heading":
        for line in layout:
            y -= SUBTITLE_SIZE * LEADING
            ops.append(text.draw(line, MARGIN_LEFT, y + SUBTITLE_SIZE * 0.25, SUBTITLE_SIZE))
        return y - 6
    if kind == "header":
        ops.append(b"%g %g %g rg %.2f %.2f %.2f %.2f re f 0 g\n" % (
            *HEADER_FILL, MARGIN_LEFT, y - layout.header_height, printable,
            layout.header_height))
        ops.append(_cells(text, layout.header, layout.lefts, layout.widths, y,
                          layout.header_height, HEADER_SIZE, centred=True))
        return float(y - layout.header_height)
    row = block[2]
    ops.append(_cells(text, row.cells, layout.lefts, layout.widths, y, row.height, BODY_SIZE))
    return float(y - row.height)


def _cells(text: PdfText, cells: Sequence[list[str]], lefts: list[float], widths: list[float],
           top: float, height: float, size: float, *, centred: bool = False) -> bytes:
    """Operators for one bordered row: cell frames, then the lines of each cell."""
    ops = [b"%.2f %.2f %.2f %.2f re S\n" % (x, top - height, w, height)
           for x, w in zip(lefts, widths, strict=True)]
    for lines, x, w in zip(cells, lefts, widths, strict=True):
        y = top - PAD
        for line in lines:
            y -= size * LEADING
            baseline = y + size * 0.3
            if centred:
                ops.append(text.centred(line, x + w / 2, baseline, size))
            else:
                ops.append(text.draw(line, x + PAD, baseline, size))
    return b"".join(ops)


# --- CSV ----------------------------------------------------------------------------------

STATUS_VI = {
    "received": "Đã nhận", "registered": "Đã vào sổ", "returned": "Đã trả lại",
    "assigned": "Đã giao xử lý", "in_progress": "Đang xử lý", "completed": "Đã hoàn thành",
    "withdrawn": "Đã thu hồi", "numbered": "Đã cấp số", "sealed": "Đã ký số cơ quan",
    "dispatched": "Đã phát hành", "recalled": "Đã thu hồi",
}
URGENCY_VI = {"normal": "", "urgent": "Khẩn", "very_urgent": "Thượng khẩn",
              "flash": "Hỏa tốc"}
CONFIDENTIALITY_VI = {"normal": "", "confidential": "Mật", "secret": "Tối mật",
                      "top_secret": "Tuyệt mật"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(VIETNAM_TZ).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return "Có / Yes" if value else "Không / No"
    text = str(value)
    # A cell starting like a formula would run in a spreadsheet: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _incoming_notes(r: dict[str, Any]) -> str:
    notes = []
    if r["withdrawn"]:
        notes.append(f"Thu hồi / Recalled: {r['withdrawal_reason']}")
    if r["pending_extension_deadline"] is not None:
        notes.append("Xin gia hạn / Extension requested: "
                     + _cell(r["pending_extension_deadline"]))
    return "; ".join(notes)


INCOMING_CSV: list[tuple[str, Any]] = [
    ("Số đến / Arrival no.", lambda r: f"{r['arrival_number']:02d}"),
    ("Ngày đến / Arrival date", lambda r: r["arrived_at"]),
    ("Ngày vào sổ / Registered on", lambda r: r["registered_on"]),
    ("Tác giả / Sender", lambda r: r["sender_name"]),
    ("Số, ký hiệu / Number and code", lambda r: r["number_label"]),
    ("Ngày văn bản / Document date", lambda r: r["issued_date"]),
    ("Loại văn bản / Type", lambda r: r["doc_type"]),
    ("Trích yếu nội dung / Summary", lambda r: r["summary"]),
    ("Độ khẩn / Urgency", lambda r: URGENCY_VI.get(r["urgency"], r["urgency"])),
    ("Độ mật / Confidentiality",
     lambda r: CONFIDENTIALITY_VI.get(r["confidentiality"], r["confidentiality"])),
    ("Đơn vị chủ trì / Lead unit", lambda r: r["lead_unit_name"]),
    ("Người xử lý / Lead person", lambda r: r["lead_user_name"]),
    ("Đơn vị phối hợp / Supporting units", lambda r: r["supporting_unit_names"]),
    ("Hạn giải quyết / Deadline", lambda r: r["deadline"]),
    ("Trạng thái / Status", lambda r: STATUS_VI.get(r["status"], r["status"])),
    ("Ngày hoàn thành / Completed", lambda r: r["completed_at"]),
    ("Ghi chú / Notes", _incoming_notes),
]

OUTGOING_CSV: list[tuple[str, Any]] = [
    ("Số, ký hiệu / Number and code", lambda r: r["number_label"]),
    ("Ngày văn bản / Document date", lambda r: r["issued_date"]),
    ("Loại văn bản / Type", lambda r: r["doc_type"]),
    ("Trích yếu nội dung / Summary", lambda r: r["summary"]),
    ("Người ký / Signer", lambda r: r["signer_name"]),
    ("Chức vụ / Title", lambda r: r["signer_title"]),
    ("Thẩm quyền ký / Signing capacity", lambda r: r["signing_capacity"]),
    ("Nơi nhận / Recipients", lambda r: r["recipient_names"]),
    ("Đơn vị soạn thảo / Drafting unit", lambda r: r["unit_name"]),
    ("Độ khẩn / Urgency", lambda r: URGENCY_VI.get(r["urgency"], r["urgency"])),
    ("Độ mật / Confidentiality",
     lambda r: CONFIDENTIALITY_VI.get(r["confidentiality"], r["confidentiality"])),
    ("Trạng thái / Status", lambda r: STATUS_VI.get(r["status"], r["status"])),
    ("Ngày phát hành / Dispatched", lambda r: r["dispatched_at"]),
    ("Thu hồi / Recalled", lambda r: r["recalled_at"]),
    ("Lý do thu hồi / Recall reason", lambda r: r["recall_reason"]),
]


def registers_csv(columns: list[tuple[str, Any]], rows: Sequence[Any]) -> str:
    """CSV text with a BOM (so Excel reads UTF-8), a bilingual header and one line a row."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for title, _ in columns])
    for r in rows:
        writer.writerow([_cell(get(r)) for _, get in columns])
    return out.getvalue()


def register_cells(columns: list[tuple[str, Any]], rows: Sequence[Any]) -> list[list[str]]:
    """The register's rows as printable cells, formatted exactly as in the CSV."""
    return [[_cell(get(r)) for _, get in columns] for r in rows]
