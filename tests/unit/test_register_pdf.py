"""The printable register: A4 landscape, repeated headers, page numbers, Vietnamese text."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from docmgmt.incoming.registers import Table, render_register_pdf, render_tables_pdf

COLUMNS = [("Số, ký hiệu", 1.2), ("Ngày tháng", 1.0), ("Tên loại và trích yếu nội dung", 4.0),
           ("Người ký", 1.4), ("Nơi nhận", 2.0), ("Ghi chú", 1.0)]
SUMMARY = ("Quyết định về việc phê duyệt kế hoạch cải cách hành chính, chuyển đổi số và "
           "nâng cao chất lượng phục vụ người dân, doanh nghiệp năm {n}")


def _rows(n: int) -> list[list[str]]:
    return [[f"{i:02d}/QĐ-UBND", f"{1 + i % 28:02d}/03/2026", SUMMARY.format(n=i),
             "Nguyễn Thị Hồng Nhung", "Sở Tài chính; Sở Nội vụ; Văn phòng UBND tỉnh",
             "Hỏa tốc" if i % 9 == 0 else ""]
            for i in range(1, n + 1)]


def _render(rows: list[list[str]]) -> PdfReader:
    out = io.BytesIO()
    render_register_pdf("SỔ ĐĂNG KÝ VĂN BẢN ĐI", "Năm 2026 — Ủy ban nhân dân tỉnh Thừa Thiên",
                        COLUMNS, rows, out)
    return PdfReader(io.BytesIO(out.getvalue()))


def _text(page: object) -> str:
    # Extraction may break lines anywhere: compare with whitespace collapsed.
    return re.sub(r"\s+", " ", page.extract_text())  # type: ignore[attr-defined]


def test_a_long_register_spans_pages_with_headers_and_page_numbers() -> None:
    reader = _render(_rows(120))
    pages = len(reader.pages)
    assert pages > 1
    for number, page in enumerate(reader.pages, start=1):
        box = page.mediabox
        assert (round(float(box.width)), round(float(box.height))) == (842, 595)  # landscape
        text = _text(page)
        # The column headers repeat on every page, and every page is numbered.
        assert "Số, ký hiệu" in text
        assert "Tên loại và trích yếu nội dung" in text
        assert f"Trang {number}/{pages}" in text
    first = _text(reader.pages[0])
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐI" in first
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐI" not in _text(reader.pages[1])
    whole = " ".join(_text(p) for p in reader.pages)
    # Diacritics survive (embedded font, ToUnicode map), and every row is printed once.
    assert "Quyết định về việc phê duyệt kế hoạch cải cách hành chính" in whole
    assert "Nguyễn Thị Hồng Nhung" in whole
    assert "Hỏa tốc" in whole
    for i in (1, 60, 120):
        assert len(re.findall(rf"(?<!\d){i:02d}/QĐ-UBND", whole)) == 1


def test_the_font_is_embedded() -> None:
    page = _render(_rows(3)).pages[0]
    fonts = page["/Resources"]["/Font"]
    font = fonts["/F1"].get_object()
    descendant = font["/DescendantFonts"][0].get_object()
    assert "NotoSerif" in str(font["/BaseFont"])
    assert "/FontFile2" in descendant["/FontDescriptor"].get_object()


def test_a_row_taller_than_a_page_continues_on_the_next() -> None:
    huge = "Nội dung rất dài " * 900
    reader = _render([["01/QĐ", "01/01/2026", huge, "Người ký", "Nơi nhận", ""]])
    assert len(reader.pages) > 1
    assert "Trang 2/" in _text(reader.pages[1])


def test_rows_must_match_the_columns() -> None:
    with pytest.raises(ValueError, match="one cell per column"):
        render_register_pdf("Sổ", "", COLUMNS, [["only one"]], io.BytesIO())


def test_long_codes_numbers_and_dates_are_never_cut_across_lines() -> None:
    codes = ["1234/QĐ-UBND-STTTT-VPĐT", "2026-12-03T09:15", "HCM-2026-00012345-PHUONG-HAICHAU"]
    rows = [[codes[0], codes[1], SUMMARY.format(n=1), "Nguyễn Thị Hồng Nhung", codes[2], ""]]
    page = _render(rows).pages[0]
    # Each token stands whole on one extracted line; a cut would split it across two.
    lines = page.extract_text().splitlines()
    for code in codes:
        assert any(code in line for line in lines), (code, lines)


def test_several_tables_follow_each_other_each_with_its_heading_and_headers() -> None:
    # A short table, then one long enough to span pages, then a short one.
    tables = [Table("Tổng hợp / Totals", [("Chỉ tiêu", 3.0), ("Số", 1.0)],
                    [["Đến trong kỳ", "9"], ["Trễ hạn", "2"]]),
              Table("Văn bản trễ hạn / Late documents", COLUMNS, _rows(80)),
              Table("Xếp hạng / Ranking", [("Mã", 1.0), ("Cơ quan", 3.0)], [["P1", "Phường Một"]])]
    out = io.BytesIO()
    render_tables_pdf("BÁO CÁO", "Kỳ 01/12/2026 – 04/12/2026", tables, out)
    reader = PdfReader(io.BytesIO(out.getvalue()))
    pages = [_text(p) for p in reader.pages]
    assert len(pages) > 2
    # Every heading appears once, in order; the long table's headers repeat on each page
    # it spans; the last table's heading never stands alone without its header row.
    whole = " ".join(pages)
    spots = [whole.index(h) for h in ("Tổng hợp / Totals", "Văn bản trễ hạn", "Xếp hạng")]
    assert spots == sorted(spots)
    assert all(whole.count(h) == 1 for h in ("Tổng hợp / Totals", "Xếp hạng / Ranking"))
    for text in pages[1:-1]:
        assert "Tên loại và trích yếu nội dung" in text
    last = next(t for t in pages if "Xếp hạng" in t)
    assert last.index("Xếp hạng") < last.index("Cơ quan") < last.index("Phường Một")
    assert all(f"Trang {i}/{len(pages)}" in t for i, t in enumerate(pages, start=1))
