"""Signature fields land on the last page, found from the back of any page tree."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from docmgmt.domain.errors import InvalidInputError
from signing.appearance import field_spec
from signing.formfill import _Writer, add_text_fields
from tests.signing_appearance.pdftools import LEADER_BOX, widget
from tests.support.pdfs import make_pdf, pdf_from_objects


def nested_tree_pdf() -> bytes:
    """Three pages in two branches, then an empty branch at the very end of the tree."""
    page = b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] >>"
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [6 0 R 7 0 R] /Count 2 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [8 0 R] /Count 1 "
        b"/Resources << /ProcSet [/PDF] >> >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [] /Count 0 >>",
        page % 3,
        page % 3,
        page % 4,
    ])


@pytest.mark.parametrize("pdf", [nested_tree_pdf(), make_pdf(5)], ids=["nested", "flat"])
@pytest.mark.parametrize("index", [-1, "count-1", 0, 1])
def test_the_same_page_as_pyhankos_own_walk(pdf: bytes, index: int | str) -> None:
    ours = _Writer(io.BytesIO(pdf))
    theirs = IncrementalPdfFileWriter(io.BytesIO(pdf))
    count = int(theirs.root["/Pages"]["/Count"])
    ix = count - 1 if index == "count-1" else int(index)
    our_page, our_resources = ours.find_page_for_modification(ix)
    their_page, their_resources = theirs.find_page_for_modification(ix)
    assert our_page.reference == their_page.reference
    if ix in (-1, count - 1):
        assert our_resources == their_resources


def test_signature_fields_go_on_the_last_page_of_a_nested_tree(tmp_path: Path) -> None:
    draft = tmp_path / "draft.pdf"
    draft.write_bytes(nested_tree_pdf())
    prepared = tmp_path / "prepared.pdf"
    add_text_fields(draft, prepared, [], signature_fields=[field_spec("lanh_dao", -1, LEADER_BOX)])
    assert widget(prepared, "lanh_dao").page_index == 2


def test_a_page_index_beyond_either_end_is_refused(tmp_path: Path) -> None:
    draft = tmp_path / "draft.pdf"
    draft.write_bytes(make_pdf(2))
    for page in (2, -3):
        with pytest.raises(InvalidInputError, match="out of range"):
            add_text_fields(draft, tmp_path / "out.pdf", [],
                            signature_fields=[field_spec("lanh_dao", page, LEADER_BOX)])
