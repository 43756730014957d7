"""Sample PDFs made on the fly (valid, encrypted, empty, broken, large)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from pypdf import PdfWriter


def make_pdf(pages: int = 1, *, text: str = "", password: str | None = None) -> bytes:
    """A PDF with blank A4 pages (optionally encrypted); ``text`` varies the bytes."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    if text:
        writer.add_metadata({"/Title": text})
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_from_objects(objects: list[bytes], *, info: bool = False) -> bytes:
    """A PDF of the given object bodies, numbered from 1 (object 1 is the catalog), with a
    classic xref table; ``info``: the last object is the document information dictionary.
    """
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    extra = f" /Info {len(objects)} 0 R" if info else ""
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{extra} >>\n"
              f"startxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def write_large_pdf(path: Path, size: int) -> Path:
    """A one-page PDF padded to about ``size`` bytes with an incompressible stream.

    Written in chunks, so making a 200 MB file never holds it in memory.
    """
    content = b"BT /F1 12 Tf 72 720 Td (docmgmt) Tj ET"
    payload = max(size - 2048, 0)
    offsets: list[int] = []
    with path.open("wb") as fh:
        fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

        def obj(body: bytes) -> None:
            offsets.append(fh.tell())
            fh.write(f"{len(offsets)} 0 obj\n".encode() + body + b"\nendobj\n")

        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
        obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /XObject << /Pad 5 0 R >> >> >>")
        obj(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
        offsets.append(fh.tell())
        fh.write(f"5 0 obj\n<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] "
                 f"/Length {payload} >>\nstream\n".encode())
        remaining = payload
        while remaining:
            chunk = os.urandom(min(remaining, 1 << 20))
            fh.write(chunk)
            remaining -= len(chunk)
        fh.write(b"\nendstream\nendobj\n")
        xref = fh.tell()
        fh.write(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
        for off in offsets:
            fh.write(f"{off:010d} 00000 n \n".encode())
        fh.write(f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\n"
                 f"startxref\n{xref}\n%%EOF\n".encode())
    return path


def shared_kids_pdf(depth: int) -> bytes:
    """A page tree whose every /Pages node lists the next node twice: 2^depth page visits for
    a naive walk, from a file of a few KB (no cycle, so a depth limit does not stop it)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        kid = 3 + level
        objects.append(f"<< /Type /Pages /Kids [{kid} 0 R {kid} 0 R] "
                       f"/Count {2 ** (depth - level)} >>".encode())
    objects.append(f"<< /Type /Page /Parent {1 + depth} 0 R /MediaBox [0 0 595 842] >>".encode())
    return pdf_from_objects(objects)


def page_count_pdf(count: str) -> bytes:
    """A one-page PDF whose root /Pages node declares ``count`` pages (e.g. 10^20)."""
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [3 0 R] /Count {count} >>".encode(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ])


def pdf_with(catalog: bytes = b"", page: bytes = b"", extra: tuple[bytes, ...] = ()) -> bytes:
    """A one-page PDF with entries added to its catalog and page dictionaries; ``extra``
    objects are numbered from 4."""
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] " + page + b" >>",
        *extra,
    ])


def official_pdf(agency: str, kind: str, summary: str, paragraphs: list[str],
                 recipients: list[str], revision_note: str = "") -> bytes:
    """A one-page document in Vietnamese, laid out as an administrative document is (the
    demo city's layout, font embedded), for pages and screenshots that show its text."""
    from api.demo.pdf import SampleDocument, sample_pdf

    return sample_pdf(SampleDocument(parent="Ủy ban nhân dân thành phố", agency=agency,
                                     kind=kind, summary=summary, paragraphs=paragraphs,
                                     recipients=recipients, revision_note=revision_note))
