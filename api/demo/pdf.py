"""Sample PDFs for the demo city: one A4 page laid out as Decree 30 (Annex I) lays out an
administrative document, in Vietnamese, leaving the number, date and signature places
empty for the system's own fields."""

# pyHanko's writer is unannotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import io
from dataclasses import dataclass, field

from pyhanko.pdf_utils.writer import PdfFileWriter

from docmgmt.incoming.registers import FONT, PdfText

WIDTH, HEIGHT = 595.28, 841.89  # A4 portrait, points
LEFT, RIGHT = 70.0, 560.0  # 2.5 cm for binding on the left, as printed documents have
HEADER_LEFT_CENTRE, HEADER_RIGHT_CENTRE = 165.0, 420.0
BODY_SIZE, HEADER_SIZE, NOTE_SIZE = 13.0, 10.5, 8.0
LEADING = 1.35
# The signing service puts the number and date fields at y 742-762 of page 1 and the
# leader's signature (with the seal over its left third) at x 330-560, y 90-230 of the
# last page: the page leaves them blank.
TITLE_TOP = 725.0
SIGNATURE_TOP = 235.0


@dataclass(frozen=True)
class SampleDocument:
    """What the page says: who issues it, what it is, its text and its recipients."""

    parent: str  # the governing body's name, printed above the agency's ("" for the root)
    agency: str
    kind: str  # "QUYẾT ĐỊNH", "KẾ HOẠCH", ... ; "" for an official letter (công văn)
    summary: str
    paragraphs: list[str]
    recipients: list[str] = field(default_factory=list)
    revision_note: str = ""


def sample_pdf(doc: SampleDocument) -> bytes:
    """The document as a one-page PDF with an embedded Vietnamese font."""
    writer = PdfFileWriter()
    text = PdfText(writer, FONT)
    ops: list[bytes] = [b"0 0 0 RG 0.6 w\n"]
    y = HEIGHT - 55
    left_lines = [doc.parent.upper(), doc.agency.upper()] if doc.parent else [doc.agency.upper()]
    for line in left_lines:
        for part in text.wrap(line, 260, HEADER_SIZE)[:1]:
            ops.append(text.centred(part, HEADER_LEFT_CENTRE, y, HEADER_SIZE))
            y -= HEADER_SIZE * LEADING
    ops.append(b"%.2f %.2f m %.2f %.2f l S\n" % (HEADER_LEFT_CENTRE - 40, y + 7,
                                                 HEADER_LEFT_CENTRE + 40, y + 7))
    right_y = HEIGHT - 55
    for line in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"):
        ops.append(text.centred(line, HEADER_RIGHT_CENTRE, right_y, HEADER_SIZE))
        right_y -= HEADER_SIZE * LEADING
    ops.append(b"%.2f %.2f m %.2f %.2f l S\n" % (HEADER_RIGHT_CENTRE - 75, right_y + 9,
                                                 HEADER_RIGHT_CENTRE + 75, right_y + 9))
    y = TITLE_TOP
    if doc.kind:
        ops.append(text.centred(doc.kind, WIDTH / 2, y, BODY_SIZE + 2))
        y -= (BODY_SIZE + 2) * LEADING
        for line in text.wrap(doc.summary, RIGHT - LEFT - 60, BODY_SIZE):
            ops.append(text.centred(line, WIDTH / 2, y, BODY_SIZE))
            y -= BODY_SIZE * LEADING
    else:  # an official letter: its subject under the number, then whom it is for
        for line in text.wrap(f"V/v {doc.summary.removeprefix('Về việc ')}", 220, HEADER_SIZE):
            ops.append(text.centred(line, HEADER_LEFT_CENTRE, y, HEADER_SIZE))
            y -= HEADER_SIZE * LEADING
        y -= BODY_SIZE * 0.5
        for line in text.wrap(f"Kính gửi: {'; '.join(doc.recipients) or '...'}.",
                              RIGHT - LEFT - 80, BODY_SIZE):
            ops.append(text.centred(line, WIDTH / 2, y, BODY_SIZE))
            y -= BODY_SIZE * LEADING
    y -= BODY_SIZE
    for paragraph in doc.paragraphs:
        for line in text.wrap(paragraph, RIGHT - LEFT - 20, BODY_SIZE):
            if y < SIGNATURE_TOP + 20:
                break
            ops.append(text.draw(line, LEFT + 20, y, BODY_SIZE))
            y -= BODY_SIZE * LEADING
        y -= BODY_SIZE * 0.4
    y = SIGNATURE_TOP - 5
    # A letter's recipients are those it is addressed to ("Như trên": as above).
    recipients = doc.recipients if doc.kind else ["Như trên"]
    if recipients:
        ops.append(text.draw("Nơi nhận:", LEFT, y, NOTE_SIZE + 2))
        for recipient in recipients[:8]:
            y -= NOTE_SIZE * LEADING
            ops.append(text.draw(f"- {recipient};", LEFT, y, NOTE_SIZE + 1))
        y -= NOTE_SIZE * LEADING
        ops.append(text.draw("- Lưu: VT.", LEFT, y, NOTE_SIZE + 1))
    footer = "Văn bản mẫu của dữ liệu trình diễn (demo) — không có giá trị pháp lý."
    if doc.revision_note:
        footer = f"{doc.revision_note} · {footer}"
    ops.append(text.centred(footer, WIDTH / 2, 40, NOTE_SIZE))
    text.add_page(ops, WIDTH, HEIGHT)
    writer.document_meta.title = doc.summary
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
