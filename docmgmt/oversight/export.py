"""Oversight figures as CSV for Excel (UTF-8 with a BOM, bilingual headers), and the
labels the CSV and the printable report share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from docmgmt.incoming.registers import register_cells, registers_csv
from docmgmt.oversight.model import (
    Direction,
    Figures,
    HolderKind,
    Level,
    Line,
    OpenDocument,
    Rollup,
    Step,
)

STEP_LABELS = {
    Step.REGISTRATION: "Chờ vào sổ / Registration",
    Step.ASSIGNMENT: "Chờ giao xử lý / Assignment",
    Step.HANDLING: "Đang xử lý / Handling",
    Step.EXTENSION: "Chờ quyết định gia hạn / Extension decision",
    Step.DRAFTING: "Đang soạn thảo / Drafting",
    Step.APPROVAL: "Chờ duyệt / Approval",
    Step.SIGNATURE: "Chờ ký / Signature",
    Step.NUMBER: "Chờ cấp số / Numbering",
    Step.SEAL: "Chờ ký số cơ quan / Agency seal",
    Step.DISPATCH: "Chờ phát hành / Dispatch",
    Step.ACKNOWLEDGEMENT: "Nơi nhận chưa tiếp nhận / Not yet registered by recipient",
}
LEVEL_LABELS = {Level.AGENCY: "Cơ quan / Agency", Level.UNIT: "Đơn vị / Unit",
                Level.PERSON: "Cá nhân / Person"}
NONE_LABELS = {Level.AGENCY: "", Level.UNIT: "(Không thuộc đơn vị / No unit)",
               Level.PERSON: "(Không giao cá nhân / No person)"}
DIRECTION_LABELS = {Direction.INCOMING: "Đến / Incoming", Direction.OUTGOING: "Đi / Outgoing"}
ROLE_HOLDERS = {HolderKind.CLERKS: "Văn thư / Clerks", HolderKind.LEADERS: "Lãnh đạo / Leaders"}
TOTAL = "Tổng / Total"


def percent(value: float | None) -> str:
    """A share as "12,5 %" (Vietnamese decimal comma); "" when there is nothing to rate."""
    return "" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def hours(value: float | None) -> str:
    """Hours with one decimal (Vietnamese decimal comma); "" for none."""
    return "" if value is None else f"{value:.1f}".replace(".", ",")


def figure(get: Callable[[Figures], Any]) -> Callable[[tuple[str, str, str, Figures]], Any]:
    """A column getter reading the figures of a (level, code, name, figures) row."""
    return lambda row: get(row[3])


FIGURE_COLUMNS: list[tuple[str, Callable[[Figures], Any]]] = [
    ("Đến trong kỳ / Arrived", lambda f: f.arrived),
    ("Hoàn thành đúng hạn / Completed on time", lambda f: f.completed_on_time),
    ("Hoàn thành trễ hạn / Completed late", lambda f: f.completed_late),
    ("Giờ xử lý trung bình / Average handling hours",
     lambda f: hours(f.average_handling_hours)),
    ("Xin gia hạn / Extensions requested", lambda f: f.extensions_requested),
    ("Được gia hạn / Extensions granted", lambda f: f.extensions_granted),
    ("Quá hạn vào sổ / Registration overdue", lambda f: f.registration_overdue),
    ("Đang xử lý / Handling open", lambda f: f.handling_open),
    ("Sắp đến hạn / Due soon", lambda f: f.handling_due_soon),
    ("Quá hạn xử lý / Handling overdue", lambda f: f.handling_overdue),
    ("Đã phát hành / Dispatched", lambda f: f.dispatched),
    ("Phát hành trễ / Dispatched late", lambda f: f.dispatched_late),
    ("Chờ duyệt / Awaiting approval", lambda f: f.awaiting_approval),
    ("Chờ ký / Awaiting signature", lambda f: f.awaiting_signature),
    ("Chờ cấp số / Awaiting number", lambda f: f.awaiting_number),
    ("Chờ ký số cơ quan / Awaiting seal", lambda f: f.awaiting_seal),
    ("Chờ phát hành / Awaiting dispatch", lambda f: f.awaiting_dispatch),
    ("Quá hạn phát hành / Dispatch overdue", lambda f: f.dispatch_overdue),
    ("Nơi nhận chưa tiếp nhận / Unacknowledged", lambda f: f.unacknowledged),
    ("Đang mở / Open", lambda f: f.open_total),
    ("Trễ hạn / Late", lambda f: f.late),
    ("Tỷ lệ trễ hạn / Late rate", lambda f: percent(f.late_rate)),
]
ROLLUP_CSV: list[tuple[str, Any]] = [
    ("Cấp / Level", lambda row: row[0]),
    ("Mã / Code", lambda row: row[1]),
    ("Tên / Name", lambda row: row[2]),
    *((title, figure(get)) for title, get in FIGURE_COLUMNS),
]


def line_name(line: Line) -> str:
    """A line's name, or what "none" means at its level."""
    return line.name if line.id is not None else NONE_LABELS[line.level]


def rollup_rows(r: Rollup) -> list[tuple[str, str, str, Figures]]:
    """(level, code, name, figures) of each line, then the total."""
    rows = [(LEVEL_LABELS[ln.level], ln.code, line_name(ln), ln.figures) for ln in r.lines]
    return [*rows, (TOTAL, "", r.agency_name, r.total)]


def rollup_csv(r: Rollup) -> str:
    """The roll-up's lines and total as CSV."""
    return registers_csv(ROLLUP_CSV, rollup_rows(r))


def holder(d: OpenDocument) -> str:
    """Who holds the document: the named person, unit or agency, or the role."""
    return ROLE_HOLDERS.get(d.holder_kind, d.holder_name or "")


def days_late(d: OpenDocument, now: datetime) -> str:
    """Whole days past the due ("0" for less than a day late); "" when not late."""
    return str((now - d.due).days) if d.due is not None and d.due < now else ""


def document_columns(now: datetime) -> list[tuple[str, Any]]:
    """The columns of an open documents list as of ``now``."""
    return [
        ("Cơ quan / Agency", lambda d: d.agency_name),
        ("Loại / Direction", lambda d: DIRECTION_LABELS[d.direction]),
        ("Số, ký hiệu / Number and code", lambda d: d.label),
        ("Trích yếu / Summary", lambda d: d.summary),
        ("Bước / Step", lambda d: STEP_LABELS[d.step]),
        ("Người giữ / Holder", holder),
        ("Từ / Since", lambda d: d.since),
        ("Hạn / Due", lambda d: d.due),
        ("Số ngày quá hạn / Days late", lambda d: days_late(d, now)),
    ]


def documents_csv(documents: list[OpenDocument], now: datetime) -> str:
    """Open (typically late) documents as CSV, with their holders."""
    return registers_csv(document_columns(now), documents)


def document_cells(documents: list[OpenDocument], now: datetime) -> list[list[str]]:
    """Open documents as printable cells, formatted as in the CSV."""
    return register_cells(document_columns(now), documents)
