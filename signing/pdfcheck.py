"""PDF intake: is this upload a PDF that pyHanko can later sign?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.reader import PdfFileReader

from docmgmt.domain.errors import EmptyPdfError, EncryptedPdfError, MalformedPdfError, NotAPdfError

MAX_PAGE_TREE_DEPTH = 64


@dataclass(frozen=True)
class PdfFacts:
    """What intake learned about an acceptable PDF."""

    page_count: int
    pdf_version: str


def _count_pages(node: Any, depth: int = 0) -> int:
    if depth > MAX_PAGE_TREE_DEPTH:
        raise MalformedPdfError("the PDF page tree is too deep or cyclic")
    node_type = node.get("/Type")
    if node_type == "/Page":
        return 1
    kids = node.get("/Kids")
    if not isinstance(kids, generic.ArrayObject):
        raise MalformedPdfError("the PDF page tree has a node without /Kids")
    return sum(_count_pages(kid.get_object(), depth + 1) for kid in kids)


class PyHankoPdfInspector:
    """Checks uploads with the same PDF parser that signs them (strict mode)."""

    def inspect(self, path: Path) -> PdfFacts:
        """Return the page count, or raise the precise reason the file is refused."""
        with path.open("rb") as fh:
            head = fh.read(1024)
            if b"%PDF-" not in head:
                raise NotAPdfError("the file is not a PDF (no %PDF- header)")
            version = head[head.index(b"%PDF-") + 5 : head.index(b"%PDF-") + 8]
            fh.seek(0)
            try:
                reader = PdfFileReader(fh, strict=True)
                if reader.encrypted:
                    raise EncryptedPdfError(
                        "the PDF is encrypted; upload an unprotected PDF so it can be signed"
                    )
                pages = reader.root["/Pages"]
                count = _count_pages(pages)
            except (EncryptedPdfError, MalformedPdfError):
                raise
            except (misc.PdfError, KeyError, TypeError, ValueError, AttributeError,
                    IndexError, RecursionError) as exc:
                raise MalformedPdfError("the PDF cannot be parsed") from exc
        if count == 0:
            raise EmptyPdfError("the PDF has no pages")
        return PdfFacts(page_count=count, pdf_version=version.decode("ascii", "replace"))
