"""Văn bản đi in the pages: the list, the document page (PDF pages, signatures' verdicts,
timeline, recipients), the downloads, and the 404 for another agency's document."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from api.web.pages import documents
from docmgmt.outgoing.queries import ReadModelQueries
from tests.api.conftest import PASSWORD, Api, new_user
from tests.api.support import drafted
from tests.support.pages import Pages, text_of
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def api_as(shared_api: Api, shared_city: dict[str, Any]) -> Callable[[str], httpx.Client]:
    """``api_as("clerk_a")``: an API client for that user (one per user)."""
    made: dict[str, httpx.Client] = {}

    def client(username: str) -> httpx.Client:
        if username not in made:
            made[username] = shared_api.client(username)
        return made[username]

    return client


def send_through_the_chain(shared_api: Api, shared_city: dict[str, Any],
                           api_as: Callable[[str], httpx.Client]) -> dict[str, Any]:
    """A document of SOA taken through the whole chain and sent to SOB (registered there)
    and to an external recipient; returns its id and B's copy."""
    official, leader, clerk = api_as("official_a"), api_as("leader_a"), api_as("clerk_a")
    r = official.post("/documents", data={"summary": "Quyết định ban hành quy chế làm việc",
                                          "doc_type": "QĐ", "urgency": "urgent"},
                      files={"file": ("qd.pdf", make_pdf(2, text="qd"), "application/pdf")})
    assert r.status_code == 201, r.text
    doc = str(r.json()["id"])
    r = official.post(f"/documents/{doc}/appendices", data={"title": "Phụ lục I: Quy chế"},
                      files={"file": ("pl1.pdf", make_pdf(1, text="pl1"), "application/pdf")})
    assert r.status_code == 201, r.text
    for client, path, body in [
            (leader, "comments", {"text": "Sửa lại Điều 2 cho rõ"}),
            (official, "submit", {"text": "Kính trình"}),
            (leader, "approve", {"text": "Đồng ý"}),
            (leader, "sign", {"capacity": "KT", "principal_title": "Giám đốc"}),
            (clerk, "number", {}), (clerk, "seal", {}),
            (clerk, "dispatch", {"recipients": ["SOB"], "external": ["Báo Nhân Dân"]})]:
        r = client.post(f"/documents/{doc}/{path}", json=body)
        assert r.is_success, (path, r.text)

    def copy() -> Any:
        body = clerk.get(f"/documents/{doc}/recipients").json()
        return body["recipients"][0]["incoming_id"]

    incoming = wait_until(copy, what="the delivery to SOB")
    clerk_b, _ = new_user(api_as("root"), shared_city["SOB"], ["clerk"], prefix="clerk_b")
    r = shared_api.client(clerk_b).post(f"/incoming/{incoming}/register", json={})
    assert r.is_success, r.text
    wait_until(lambda: clerk.get(f"/documents/{doc}/recipients").json()["recipients"][0]
               ["state"] == "registered", what="the acknowledgement")
    return {"id": doc, "incoming": incoming}


@pytest.fixture(scope="module")
def sent(shared_api: Api, shared_city: dict[str, Any],
         api_as: Callable[[str], httpx.Client]) -> dict[str, Any]:
    """The module's sent document, for the tests that only read it."""
    return send_through_the_chain(shared_api, shared_city, api_as)


def test_the_list_pages_and_filters_by_status(
        pages: Callable[[str], Pages], api_as: Callable[[str], httpx.Client],
        monkeypatch: pytest.MonkeyPatch) -> None:
    official = api_as("official_a")
    made = [drafted(official, summary=f"Công văn số {n} về lịch họp") for n in range(3)]
    submitted = drafted(official, summary="Tờ trình xin ý kiến")
    r = official.post(f"/documents/{submitted}/submit", json={"text": "Kính trình"})
    assert r.is_success, r.text
    monkeypatch.setattr(documents, "PAGE_SIZE", 2)
    browser = pages("official_a")

    # Newest change first, two to a page, the next page by its cursor.
    first = browser.get("/app/documents")
    assert first.status_code == 200
    text = text_of(first.text)
    assert "Văn bản đi" in text
    assert text.index("Tờ trình xin ý kiến") < text.index("Công văn số 2 về lịch họp")
    assert "Công văn số 1 về lịch họp" not in text
    assert 'href="/app/documents/new"' in first.text  # officials may draft
    next_url = re.search(r'href="(/app/documents\?cursor=[^"]+)" rel="next"', first.text)
    assert next_url, first.text
    second = text_of(browser.get(next_url.group(1).replace("&amp;", "&")).text)
    assert "Công văn số 1 về lịch họp" in second
    assert "Tờ trình xin ý kiến" not in second

    # Filtered by status, with the status's name in Vietnamese.
    only = browser.get("/app/documents?status=submitted")
    text = text_of(only.text)
    assert "Tờ trình xin ý kiến" in text
    assert "Chờ duyệt" in text
    assert not any(f"Công văn số {n} về lịch họp" in text for n in range(3))
    drafts = text_of(browser.get("/app/documents?status=draft").text)
    assert "Công văn số 2 về lịch họp" in drafts
    assert browser.get("/app/documents?status=nonsense").status_code == 422
    assert all(m in [*made, submitted] for m in made)

    # A clerk reads the list but is not offered to draft.
    assert 'href="/app/documents/new"' not in pages("clerk_a").get("/app/documents").text


def test_the_document_page_shows_its_particulars_history_and_recipients(
        pages: Callable[[str], Pages], sent: dict[str, Any]) -> None:
    browser = pages("official_a")
    r = browser.get(f"/app/documents/{sent['id']}")
    assert r.status_code == 200, r.text
    text = text_of(r.text)
    # The particulars.
    for shown in ("Quyết định ban hành quy chế làm việc", "Quyết định (QĐ)", "Khẩn",
                  "Official A", "Leader A", "KT. GIÁM ĐỐC",
                  "01/QĐ-SOA", "Đã phát hành", "Phụ lục I: Quy chế"):
        assert shown in text, shown
    assert f'href="/app/documents/{sent["id"]}/appendices/1/file"' in r.text
    assert f'href="/app/documents/{sent["id"]}/revisions/1/file"' in r.text
    # The PDF read in the page: one image per page, and the original to download.
    assert r.text.count(f'src="/app/documents/{sent["id"]}/pages/') == 2
    assert f'href="/app/documents/{sent["id"]}/file"' in r.text
    # The step forms are included in the Actions section.
    # The timeline, oldest first, with the comment's words and who did what.
    history = _section(r.text, "tl-h")
    order = ["Soạn thảo", "Góp ý", "Trình duyệt", "Phê duyệt", "Ký số", "Cấp số",
             "Đóng dấu", "Phát hành", "Đã đến nơi nhận", "Nơi nhận đã vào sổ"]
    places = [history.index(step) for step in order]
    assert places == sorted(places), list(zip(order, places, strict=True))
    assert "Sửa lại Điều 2 cho rõ" in history
    assert "Leader A" in history
    # Each recipient's state, with its moments; the external recipient by name.
    recipients = _section(r.text, "rcp-h")
    assert "Sở B" in recipients
    assert "Nơi nhận đã vào sổ" in recipients
    assert "Báo Nhân Dân" in recipients
    assert "Gửi ngoài hệ thống" in recipients


def test_the_page_images_decode_at_the_width_asked(
        pages: Callable[[str], Pages], sent: dict[str, Any],
        api_as: Callable[[str], httpx.Client]) -> None:
    browser = pages("leader_a")
    base = f"/app/documents/{sent['id']}/pages"
    views_before = _views(api_as("clerk_a"), sent["id"])
    for index, asked, width in [(0, 480, 480), (1, 960, 960), (1, 700, 960)]:
        r = browser.get(f"{base}/{index}.png", params={"w": asked})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        assert r.headers["cache-control"].startswith("private")
        image = Image.open(io.BytesIO(r.content))
        assert image.format == "PNG"
        assert image.size[0] == width
    # Reading the document records one view (its first page), as a download does.
    assert _views(api_as("clerk_a"), sent["id"]) == views_before + 1
    # The blank test pages show what the chain wrote into their fields: the number on the
    # first, the signature and the seal on the last.
    for index in (0, 1):
        image = Image.open(io.BytesIO(browser.get(f"{base}/{index}.png").content))
        assert image.convert("L").getextrema()[0] < 128, f"page {index} is blank"
    # Unchanged: the browser's copy is confirmed without sending the image again.
    again = browser.get(f"{base}/1.png", params={"w": 960},
                        headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    # A page past the end is not found.
    assert browser.get(f"{base}/2.png").status_code == 404


def _section(html: str, heading: str) -> str:
    """The text of the page's section headed by the element with id ``heading``."""
    start = html.index(f'aria-labelledby="{heading}"')
    end = html.find("<section", start)
    return text_of(html[start:end if end > 0 else None])


def _views(client: httpx.Client, doc: str) -> int:
    history = client.get(f"/documents/{doc}/history").json()
    return sum(1 for h in history if h["stream"] == "access_log")


def test_the_downloads_are_the_apis_files_and_are_recorded(
        pages: Callable[[str], Pages], sent: dict[str, Any],
        api_as: Callable[[str], httpx.Client]) -> None:
    browser = pages("official_a")
    api = api_as("official_a")
    document = api.get(f"/documents/{sent['id']}").json()
    before = _views(api, sent["id"])
    r = browser.get(f"/app/documents/{sent['id']}/file")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["x-content-sha256"] == document["latest_sha256"]
    revision = browser.get(f"/app/documents/{sent['id']}/revisions/1/file")
    assert revision.headers["x-content-sha256"] == document["revisions"][0]["sha256"]
    appendix = browser.get(f"/app/documents/{sent['id']}/appendices/1/file")
    assert appendix.headers["x-content-sha256"] == document["appendices"][0]["sealed_sha256"]
    assert _views(api, sent["id"]) == before + 3


def test_the_signatures_panel_gives_the_servers_verdicts(
        pages: Callable[[str], Pages], sent: dict[str, Any]) -> None:
    browser = pages("clerk_a")
    page = browser.get(f"/app/documents/{sent['id']}")
    assert f'hx-get="/app/documents/{sent["id"]}/signatures"' in page.text
    assert "không kiểm tra chữ ký" in text_of(page.text)
    r = browser.get(f"/app/documents/{sent['id']}/signatures", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "<html" not in r.text  # a fragment for the page
    text = text_of(r.text)
    assert text.count("Hợp lệ") == 3  # the file, the leader's signature, the seal
    assert "Không hợp lệ" not in text
    assert "Chữ ký của người có thẩm quyền" in text
    assert "Chữ ký số của cơ quan (con dấu)" in text
    assert "Leader A" in text
    assert "Clerk A" in text
    assert "DEVELOPMENT" in text  # the development PKI's certificate subject and issuer
    assert "B-LT" in text
    # Opened without a script, it is a page of its own, in English on request.
    whole = browser.get(f"/app/documents/{sent['id']}/signatures")
    assert "<html" in whole.text


def test_an_unsigned_draft_has_no_signature_to_check(
        pages: Callable[[str], Pages], api_as: Callable[[str], httpx.Client]) -> None:
    doc = drafted(api_as("official_a"), summary="Dự thảo chưa ký")
    text = text_of(pages("official_a").get(f"/app/documents/{doc}").text)
    assert "Chưa ký." in text
    assert "Chưa cấp số" in text


def test_the_drafters_unit_is_named_without_reading_every_agency(
        pages: Callable[[str], Pages], shared_api: Api, shared_city: dict[str, Any],
        api_as: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch) -> None:
    root = api_as("root")
    unit = next(u["id"] for a in root.get("/agencies").json() if a["code"] == "SOA"
                for u in a["units"] if u["code"] == "VP")
    r = root.post("/users", json={"username": "official_vp", "full_name": "Official Vp",
                                  "password": PASSWORD, "roles": ["official"],
                                  "agency_id": shared_city["SOA"], "unit_id": unit})
    assert r.status_code == 201, r.text
    doc = drafted(shared_api.client("official_vp"), summary="Dự thảo của Văn phòng")

    async def every_agency(*args: object) -> None:
        raise AssertionError("the page read every agency of the city")

    monkeypatch.setattr(ReadModelQueries, "list_agencies", every_agency)
    page = pages("official_a").get(f"/app/documents/{doc}")
    assert page.status_code == 200, page.text
    assert "Đơn vị Văn phòng" in text_of(page.text)


def test_another_agencys_document_is_not_found(
        pages: Callable[[str], Pages], sent: dict[str, Any]) -> None:
    stranger = pages("official_b")
    for path in ("", "/pages/0.png", "/pages/1.png", "/file", "/revisions/1/file",
                 "/appendices/1/file", "/signatures"):
        r = stranger.get(f"/app/documents/{sent['id']}{path}")
        assert r.status_code == 404, (path, r.status_code)
        assert "Traceback" not in r.text
        assert "Văn bản không tồn tại hoặc bạn không có quyền xem." in text_of(r.text)
    assert sent["id"] not in stranger.get("/app/documents").text


def test_auditor_and_admin_get_what_the_api_gives(
        shared_api: Api, shared_city: dict[str, Any], sent: dict[str, Any],
        api_as: Callable[[str], httpx.Client]) -> None:
    admin = Pages(shared_api.base)
    assert admin.sign_in("root", "correct-horse-battery").status_code == 303
    # The admin holds no reader's role: refused, as the API refuses it.
    for path in ("/app/documents", f"/app/documents/{sent['id']}",
                 f"/app/documents/{sent['id']}/pages/0.png"):
        r = admin.get(path)
        assert r.status_code == api_as("root").get("/documents").status_code == 403, path
        assert "Vai trò của bạn không được phép" in text_of(r.text)
        assert "Traceback" not in r.text
    admin.close()
    # An auditor of another agency: the document is not found (it is not theirs).
    auditor, _ = new_user(api_as("root"), shared_city["SOB"], ["auditor"], prefix="aud")
    browser = Pages(shared_api.base)
    assert browser.sign_in(auditor, "correct-horse-battery").status_code == 303
    api_status = shared_api.client(auditor).get(f"/documents/{sent['id']}").status_code
    r = browser.get(f"/app/documents/{sent['id']}")
    assert r.status_code == api_status == 404
    browser.close()


def test_the_page_in_english(pages: Callable[[str], Pages], sent: dict[str, Any]) -> None:
    browser = pages("leader_a")
    browser.http.cookies.set("docmgmt_lang", "en")
    try:
        text = text_of(browser.get(f"/app/documents/{sent['id']}").text)
        assert "Decision (QĐ)" in text
        assert "Registered by the recipient" in text
        assert "Sent outside the system" in text
        sigs = text_of(browser.get(f"/app/documents/{sent['id']}/signatures").text)
        assert "Valid" in sigs
    finally:
        browser.http.cookies.delete("docmgmt_lang")


def test_a_recall_shows_on_each_recipient(
        shared_api: Api, shared_city: dict[str, Any], pages: Callable[[str], Pages],
        api_as: Callable[[str], httpx.Client]) -> None:
    # A document of its own: the module's other tests read the shared one as sent.
    sent = send_through_the_chain(shared_api, shared_city, api_as)
    r = api_as("clerk_a").post(f"/documents/{sent['id']}/recall",
                               json={"reason": "Sai thẩm quyền ban hành"})
    assert r.is_success, r.text
    page = pages("official_a").get(f"/app/documents/{sent['id']}")
    recipients = _section(page.text, "rcp-h")
    assert "Đã thu hồi: Sai thẩm quyền ban hành" in recipients
    assert "Đã thu hồi:" in recipients.replace("Đã thu hồi: Sai", "", 1)  # the moment
    assert "Thu hồi" in _section(page.text, "tl-h")
    assert "Đã thu hồi" in text_of(page.text[:page.text.index('class="columns')])
