"""PDF intake within a budget: hostile page trees and active content are refused at once."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from docmgmt.domain.errors import (
    ActiveContentError,
    MalformedPdfError,
    PdfTooComplexError,
    RejectedFileError,
)
from signing.pades import SigningContext
from signing.pathbudget import _lower_bound, _page_tree, _struct_tree, count_paths
from signing.pdfcheck import PyHankoPdfInspector, find_active_content
from signing.validate import validate_pdf
from tests.support.pdfs import make_pdf, page_count_pdf, pdf_from_objects, pdf_with, shared_kids_pdf

JS_OPEN = b"/OpenAction << /S /JavaScript /JS (this.submitForm('http://x.test/');) >>"


def _inspect(tmp_path: Path, content: bytes, *, structure_only: bool = False) -> object:
    path = tmp_path / "in.pdf"
    path.write_bytes(content)
    inspector = PyHankoPdfInspector()
    if structure_only:
        return inspector.check_structure(path)
    return inspector.inspect(path)


def _refused(tmp_path: Path, content: bytes, within: float = 1.0) -> RejectedFileError:
    started = time.perf_counter()
    with pytest.raises(RejectedFileError) as info:
        _inspect(tmp_path, content)
    # Most refusals are a walk of a handful of nodes: milliseconds even on 2 loaded cores.
    assert time.perf_counter() - started < within
    return info.value


@pytest.mark.parametrize("depth", [16, 40])
def test_a_page_tree_with_shared_kids_is_refused_at_once(tmp_path: Path, depth: int) -> None:
    error = _refused(tmp_path, shared_kids_pdf(depth))
    assert error.code == "pdf_page_tree_invalid"
    assert "twice" in error.detail


@pytest.mark.parametrize(("count", "code"), [
    ("100000000000000000000", "pdf_too_complex"),
    ("2", "pdf_page_tree_invalid"),
    ("0", "pdf_page_tree_invalid"),
    ("-1", "pdf_page_tree_invalid"),
    ("1.5", "pdf_page_tree_invalid"),
    ("(1)", "pdf_page_tree_invalid"),
])
def test_a_page_count_that_does_not_match_is_refused(tmp_path: Path, count: str,
                                                     code: str) -> None:
    assert _refused(tmp_path, page_count_pdf(count)).code == code


def test_a_count_that_matches_only_at_the_root_is_refused(tmp_path: Path) -> None:
    # Root says 2 and has two kids, but the intermediate node claims 5 for its one page.
    pdf = pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [5 0 R] /Count 5 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] >>",
    ])
    assert _refused(tmp_path, pdf).code == "pdf_page_tree_invalid"


def test_a_tree_over_the_visit_budget_is_too_complex(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("signing.pdfcheck.MAX_PAGES", 3)
    error = _refused(tmp_path, make_pdf(4))
    assert error.code == "pdf_too_complex"
    assert isinstance(error, MalformedPdfError)


def test_ordinary_documents_pass_with_their_page_count(tmp_path: Path) -> None:
    facts = _inspect(tmp_path, make_pdf(300))
    assert getattr(facts, "page_count", None) == 300


ACTIVE = [
    pytest.param(pdf_with(JS_OPEN), "JavaScript", id="openaction-js"),
    pytest.param(pdf_with(b"/OpenAction << /S /Launch /F (calc.exe) >>"), "Launch",
                 id="openaction-launch"),
    pytest.param(pdf_with(b"/OpenAction << /S /URI /URI (http://x.test/) >>"),
                 "/OpenAction", id="openaction-uri"),
    pytest.param(pdf_with(page=b"/AA << /O << /S /JavaScript /JS 4 0 R >> >>",
                          extra=(b"(app.alert(1))",)), "JavaScript", id="page-aa-js"),
    pytest.param(pdf_with(b"/OpenAction << /S /GoTo /D [3 0 R /Fit] "
                          b"/Next << /S /SubmitForm /F (http://x.test/) >> >>"),
                 "SubmitForm", id="goto-next-submitform"),
    pytest.param(pdf_with(b"/Names << /JavaScript 4 0 R >>",
                          extra=(b"<< /Names [(a) 5 0 R] >>",
                                 b"<< /S /JavaScript /JS (app.alert(1)) >>")),
                 "JavaScript", id="names-javascript"),
    pytest.param(pdf_with(b"/Names << /EmbeddedFiles << /Names [(x.exe) 4 0 R] >> >>",
                          extra=(b"<< /Type /Filespec /F (x.exe) /EF << /F 5 0 R >> >>",
                                 b"<< /Type /EmbeddedFile /Length 0 >>\nstream\n\nendstream")),
                 "embedded file", id="embedded-files"),
    pytest.param(pdf_with(page=b"/Annots [4 0 R]",
                          extra=(b"<< /Type /Annot /Subtype /FileAttachment "
                                 b"/Rect [0 0 10 10] /FS (x.exe) >>",)),
                 "FileAttachment", id="file-attachment"),
    pytest.param(pdf_with(b"/AcroForm << /Fields [] /XFA 4 0 R >>",
                          extra=(b"<< /Length 0 >>\nstream\n\nendstream",)), "XFA", id="xfa"),
    pytest.param(pdf_with(page=b"/Annots [<< /Subtype /Link /Rect [0 0 9 9] "
                          b"/A << /S /GoToR /F (other.pdf) /D [0 /Fit] >> >>]"), "GoToR",
                 id="link-gotor"),
]


@pytest.mark.parametrize(("content", "named"), ACTIVE)
def test_active_content_is_refused_naming_what_was_found(tmp_path: Path, content: bytes,
                                                         named: str) -> None:
    error = _refused(tmp_path, content)
    assert isinstance(error, ActiveContentError)
    assert error.code == "active_content"
    assert named in error.detail
    # The structure alone is fine: /validate reads such a file and reports what it found.
    assert getattr(_inspect(tmp_path, content, structure_only=True), "page_count", None) == 1


HARMLESS = [
    pytest.param(pdf_with(b"/OpenAction [3 0 R /Fit]"), id="openaction-destination"),
    pytest.param(pdf_with(b"/OpenAction << /S /GoTo /D [3 0 R /FitH 842] >>"),
                 id="openaction-goto"),
    pytest.param(pdf_with(page=b"/Annots [<< /Subtype /Link /Rect [0 0 9 9] "
                          b"/A << /S /URI /URI (https://vanban.chinhphu.vn/) >> >>]"),
                 id="link-uri"),
    pytest.param(pdf_with(b"/Names << /Dests << /Names [(p1) [3 0 R /Fit]] >> >>"),
                 id="named-destinations"),
]


@pytest.mark.parametrize("content", HARMLESS)
def test_links_and_destinations_are_not_active_content(tmp_path: Path, content: bytes) -> None:
    assert getattr(_inspect(tmp_path, content), "page_count", None) == 1


def test_the_detector_walks_within_a_budget(tmp_path: Path) -> None:
    # 40 levels of arrays that each name the next twice: a naive walk makes 2^40 visits.
    bodies = [b"<< /Type /Catalog /Pages 2 0 R /X 4 0 R >>",
              b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    bodies += [f"[{5 + i} 0 R {5 + i} 0 R]".encode() for i in range(40)]
    bodies.append(b"<< /S /JavaScript /JS (1) >>")
    path = tmp_path / "dag.pdf"
    path.write_bytes(pdf_from_objects(bodies))
    started = time.perf_counter()
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=True)
        found = find_active_content(reader)
        assert time.perf_counter() - started < 1.0
        assert any("JavaScript" in f for f in found)
        # Each reference is visited once: a budget of a few hundred suffices, ten does not.
        assert find_active_content(reader, budget=300) == found
        with pytest.raises(PdfTooComplexError):
            find_active_content(reader, budget=10)


def _doubled_graph(depth: int) -> bytes:
    bodies = [b"<< /Type /Catalog /Pages 2 0 R /X 4 0 R >>",
              b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    bodies += [f"[{5 + i} 0 R {5 + i} 0 R]".encode() for i in range(depth)]
    bodies.append(b"<< /Title (inert) >>")
    return pdf_from_objects(bodies)


def _with_a_later_revision(pdf: bytes) -> bytes:
    out = io.BytesIO(pdf)
    writer = IncrementalPdfFileWriter(out)
    writer.root["/Lang"] = generic.TextStringObject("vi")
    writer.update_root()
    writer.write_in_place()
    return out.getvalue()


def test_a_graph_that_would_stall_signature_validation_is_refused(tmp_path: Path) -> None:
    # Inert, but pyHanko's diff analysis (run once numbering or the seal follows a signature)
    # would map 2^40 paths. Intake counts them the same way and stops at the budget.
    error = _refused(tmp_path, _doubled_graph(40))
    assert error.code == "pdf_too_complex"
    # /Validate runs the analysis only on a file that already has later revisions.
    assert getattr(_inspect(tmp_path, _doubled_graph(40), structure_only=True),
                   "page_count", None) == 1
    with pytest.raises(PdfTooComplexError):
        _inspect(tmp_path, _with_a_later_revision(_doubled_graph(40)), structure_only=True)


@pytest.mark.parametrize("content", [_doubled_graph(8), make_pdf(30), pdf_with(JS_OPEN)],
                         ids=["graph", "pages", "action"])
def test_the_path_count_follows_pyhanko(content: bytes) -> None:
    # pyHanko's own mapping, on the version installed: our count (steps, direct values
    # included) is never below its number of paths, and of the same order.
    ours = count_paths(PdfFileReader(io.BytesIO(content), strict=True))
    theirs = PdfFileReader(io.BytesIO(content), strict=True).get_historical_resolver(0)
    theirs._load_reverse_xref_cache()
    paths = sum(len(p) for p in (theirs._indirect_object_access_cache or {}).values())
    assert paths <= ours <= 10 * paths + 50
    # The quick count that refuses crafted graphs at once never exceeds pyHanko's.
    reader = PdfFileReader(io.BytesIO(content), strict=True)
    pages_root, places = _page_tree(reader)
    assert _lower_bound(reader, pages_root, places, _struct_tree(reader, 1000), 10**6) <= paths


def _chain(length: int) -> bytes:
    bodies = [b"<< /Type /Catalog /Pages 2 0 R /X 4 0 R >>",
              b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    bodies += [f"<< /Next {5 + i} 0 R >>".encode() for i in range(length)]
    bodies.append(b"<< /Title (end) >>")
    return pdf_from_objects(bodies)


def test_a_chain_too_deep_for_validation_is_refused(tmp_path: Path) -> None:
    # pyHanko's diff analysis recurses: 400 linked objects end in RecursionError at the seal.
    theirs = PdfFileReader(io.BytesIO(_chain(400)), strict=True).get_historical_resolver(0)
    with pytest.raises(RecursionError):
        theirs._load_reverse_xref_cache()
    assert _refused(tmp_path, _chain(400)).code == "pdf_too_complex"
    assert getattr(_inspect(tmp_path, _chain(150)), "page_count", None) == 1


def test_validation_itself_refuses_a_graph_it_cannot_analyse(tmp_path: Path) -> None:
    # A file stored before intake counted paths still cannot stall the seal's validation.
    path = tmp_path / "old.pdf"
    path.write_bytes(_with_a_later_revision(_doubled_graph(40)))
    started = time.perf_counter()
    with pytest.raises(PdfTooComplexError):
        validate_pdf(path, SigningContext(trust_roots=[], fetch_revocation=False))
    assert time.perf_counter() - started < 1.0
