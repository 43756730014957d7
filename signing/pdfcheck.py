"""PDF intake: is this upload a PDF that pyHanko can later sign, read within a budget?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.reader import PdfFileReader

from docmgmt.domain.errors import (
    ActiveContentError,
    EmptyPdfError,
    EncryptedPdfError,
    MalformedPdfError,
    NotAPdfError,
    PdfPageTreeInvalidError,
    PdfTooComplexError,
)
from signing.activecontent import find_active_content
from signing.pathbudget import count_paths

__all__ = ["MAX_PAGES", "PdfFacts", "PyHankoPdfInspector", "count_pages", "find_active_content"]

# The thickest official documents (a provincial budget with its annexes) run to a few
# thousand pages; 20,000 leaves room for any scanned dossier while keeping the walk of the
# page tree (at most 2 x MAX_PAGES + MAX_PAGE_TREE_DEPTH node visits) well under a second.
MAX_PAGES = 20_000
MAX_PAGE_TREE_DEPTH = 64


@dataclass(frozen=True)
class PdfFacts:
    """What intake learned about an acceptable PDF."""

    page_count: int
    pdf_version: str


def _dict(value: Any, what: str) -> generic.DictionaryObject:
    value = value.get_object()
    if not isinstance(value, generic.DictionaryObject):
        raise PdfPageTreeInvalidError(f"the PDF page tree has {what} that is not a dictionary")
    return value


def _type(node: generic.DictionaryObject) -> str:
    raw = dict.get(node, "/Type")
    kind = None if raw is None else raw.get_object()
    if kind not in ("/Page", "/Pages"):
        raise PdfPageTreeInvalidError("the PDF page tree has a node that is neither /Page nor "
                                      "/Pages")
    return str(kind)


def _declared(node: generic.DictionaryObject) -> int:
    raw = dict.get(node, "/Count")
    count = None if raw is None else raw.get_object()
    if not isinstance(count, generic.NumberObject) or count < 0:
        raise PdfPageTreeInvalidError("a /Pages node of the PDF has no valid /Count")
    if count > MAX_PAGES:
        raise PdfTooComplexError(f"the PDF declares {count} pages; at most {MAX_PAGES} "
                                 "are accepted")
    return int(count)


def count_pages(reader: PdfFileReader) -> int:
    """The number of pages, from one visit of each page tree node within a fixed budget.

    Refuses (PdfPageTreeInvalidError) a node reached twice (shared kids or a cycle), kids
    that are not indirect references and a /Count that is not the sum of its kids' counts,
    at every level; refuses (PdfTooComplexError) a tree over the budget or too deep.
    """
    root = reader.root.raw_get("/Pages")
    if not isinstance(root, generic.IndirectObject):
        raise PdfPageTreeInvalidError("the PDF catalog's /Pages is not an indirect reference")
    if _type(_dict(root, "a root")) != "/Pages":
        raise PdfPageTreeInvalidError("the PDF page tree's root is not a /Pages node")
    budget = 2 * MAX_PAGES + MAX_PAGE_TREE_DEPTH
    seen = {root.reference}
    stack: list[tuple[generic.IndirectObject, int]] = [(root, 0)]
    visits, pages = 1, 0
    while stack:
        ref, depth = stack.pop()
        node = _dict(ref, "a node")
        if _type(node) == "/Page":
            pages += 1
            continue
        if depth >= MAX_PAGE_TREE_DEPTH:
            raise PdfTooComplexError(f"the PDF page tree is deeper than {MAX_PAGE_TREE_DEPTH}")
        kids = node.raw_get("/Kids").get_object() if "/Kids" in node else None
        if not isinstance(kids, generic.ArrayObject):
            raise PdfPageTreeInvalidError("the PDF page tree has a /Pages node without /Kids")
        visits += len(kids)
        if visits > budget:
            raise PdfTooComplexError(f"the PDF page tree has more than {budget} nodes")
        refs = [kids.raw_get(index) for index in range(len(kids))]
        # Sharing first: a shared tree's honest counts are astronomic, and "shared" is the
        # more useful answer than "too many pages".
        for kid in refs:
            if not isinstance(kid, generic.IndirectObject):
                raise PdfPageTreeInvalidError("the PDF page tree has a kid that is not an "
                                              "indirect reference")
            if kid.reference in seen:
                raise PdfPageTreeInvalidError(
                    f"the PDF page tree reaches object {kid.reference.idnum} twice "
                    "(shared or cyclic kids)"
                )
            seen.add(kid.reference)
        held = 0
        for kid in refs:
            kid_node = _dict(kid, "a kid")
            held += 1 if _type(kid_node) == "/Page" else _declared(kid_node)
            stack.append((kid, depth + 1))
        declared = _declared(node)
        if held != declared:
            raise PdfPageTreeInvalidError(
                f"a /Pages node of the PDF declares {declared} pages but its kids hold {held}"
            )
    return pages


class PyHankoPdfInspector:
    """Checks uploads with the same PDF parser that signs them (strict mode)."""

    def inspect(self, path: Path) -> PdfFacts:
        """Facts of a PDF fit to become an official document, or the precise refusal."""
        return self._read(path, allow_active_content=False)

    def check_structure(self, path: Path) -> PdfFacts:
        """Facts of a PDF that can be read safely (for validation: active content allowed)."""
        return self._read(path, allow_active_content=True)

    def _read(self, path: Path, *, allow_active_content: bool) -> PdfFacts:
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
                count = count_pages(reader)
                # pyHanko maps every path of the object graph when a signed PDF has later
                # revisions: ours always get them (numbering, seal); in /validate, only those
                # that already have more than one.
                if not allow_active_content or reader.xrefs.total_revisions > 1:
                    count_paths(reader)
                found = [] if allow_active_content else find_active_content(reader)
            except (EncryptedPdfError, MalformedPdfError):
                raise
            except (misc.PdfError, KeyError, TypeError, ValueError, AttributeError,
                    IndexError, RecursionError) as exc:
                raise MalformedPdfError("the PDF cannot be parsed") from exc
        if count == 0:
            raise EmptyPdfError("the PDF has no pages")
        if found:
            raise ActiveContentError("the PDF carries active content: " + "; ".join(found),
                                     found=found)
        return PdfFacts(page_count=count, pdf_version=version.decode("ascii", "replace"))
