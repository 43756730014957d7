"""The outgoing steps through the pages: each done by the right role and seen in the read
side; the role rules (offered and enforced); refusals shown next to their field."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from api.web.forms import FormErrors
from api.web.i18n import speaking
from api.web.pages.outgoing_steps import actions_for
from api.web.pages.signing import METHOD_LABELS
from api.web.render import environment
from docmgmt.domain.common import Role
from docmgmt.domain.outgoing import Status
from docmgmt.kernel.principal import Principal
from tests.api.conftest import Logins, login  # noqa: F401 - the API-side fixture
from tests.support.pages import Pages, text_of
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until

PDF = "application/pdf"


def _pdf(label: str) -> tuple[str, bytes, str]:
    return (f"{label}.pdf", make_pdf(1, text=f"{label}-{uuid.uuid4()}"), PDF)


def _moved_to(r: httpx.Response, notice: str) -> str:
    """The document id a step's redirect names (303 to its page with the notice)."""
    assert r.status_code == 303, text_of(r.text)
    found = re.fullmatch(r"/app/documents/([0-9a-f-]{36})\?notice=" + notice,
                         r.headers["location"])
    assert found, r.headers["location"]
    return found.group(1)


def _read(api: httpx.Client, document_id: str) -> dict[str, Any]:
    r = api.get(f"/documents/{document_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _draft(official: Pages, summary: str = "Về việc tổ chức hội nghị") -> str:
    r = official.post("/app/documents/new", {"summary": summary, "doc_type": "CV"},
                      files={"file": _pdf("draft")})
    return _moved_to(r, "created")


def _step(browser: Pages, document_id: str, step: str, version: int,
          **fields: Any) -> httpx.Response:
    return browser.post(f"/app/documents/{document_id}/{step}",
                        {"expected_version": str(version)} | fields)


def test_the_new_draft_form_uploads_with_progress(pages: Callable[[str], Pages]) -> None:
    page = pages("official_a").get("/app/documents/new")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'<form[^>]*enctype="multipart/form-data"[^>]*data-progress', html)
    assert re.search(r"<progress[^>]*hidden", html)
    assert re.search(r'<input id="f-file" name="file" type="file" accept="application/pdf', html)
    assert 'name="csrf_token"' in html
    text = text_of(html)
    for label in ("Trích yếu", "Quyết định (QĐ)", "Hỏa tốc", "Tuyệt mật",
                  "Văn bản quy phạm pháp luật"):
        assert label in text
    # A clerk does not draft: the refusal page, not the form.
    r = pages("clerk_a").get("/app/documents/new")
    assert r.status_code == 403
    assert "Vai trò của bạn không được phép" in text_of(r.text)


def test_the_whole_chain_by_the_right_roles(pages: Callable[[str], Pages],
                                            login: Logins) -> None:  # noqa: F811
    official, leader, clerk = pages("official_a"), pages("leader_a"), pages("clerk_a")
    api = login("official_a")
    # The official drafts a decision with a PDF and an appendix.
    r = official.post("/app/documents/new", {
        "summary": "Quyết định ban hành quy chế làm việc", "doc_type": "QĐ",
        "urgency": "urgent", "confidentiality": "normal", "legal_normative": "true",
        "appendix_1_title": "Phụ lục I: Quy chế"},
        # The browser sends the slots left empty as empty file parts.
        files={"file": _pdf("qd"), "appendix_1_file": _pdf("pl1"),
               "appendix_2_file": ("", b"", "application/octet-stream")})
    doc = _moved_to(r, "created")
    document = _read(api, doc)
    assert (document["status"], document["doc_type"], document["urgency"]) == (
        "draft", "QĐ", "urgent")
    assert document["legal_normative"] is True
    assert [a["title"] for a in document["appendices"]] == ["Phụ lục I: Quy chế"]
    # The official comments, then uploads a revision.
    _moved_to(_step(official, doc, "comment", document["version"], text="Xin góp ý"),
              "commented")
    document = _read(api, doc)
    assert document["comment_count"] == 1
    r = official.post(f"/app/documents/{doc}/revise",
                      {"expected_version": str(document["version"]), "note": "Sửa căn cứ"},
                      files={"file": _pdf("v2")})
    _moved_to(r, "revised")
    document = _read(api, doc)
    assert document["revision_count"] == 2
    assert document["revisions"][-1]["note"] == "Sửa căn cứ"
    # The official submits; the leader returns it with a comment.
    _moved_to(_step(official, doc, "submit", document["version"], submit_note="Kính trình"),
              "submitted")
    document = _read(api, doc)
    assert document["status"] == "submitted"
    _moved_to(_step(leader, doc, "return", document["version"], comment="Bổ sung căn cứ"),
              "returned")
    document = _read(api, doc)
    assert document["status"] == "returned"
    # Resubmitted, the leader approves and signs KT. on behalf of the director.
    _moved_to(_step(official, doc, "submit", document["version"]), "submitted")
    document = _read(api, doc)
    _moved_to(_step(leader, doc, "approve", document["version"], approve_comment="Đồng ý"),
              "approved")
    document = _read(api, doc)
    assert document["status"] == "approved"
    _moved_to(_step(leader, doc, "signature-requests", document["version"], capacity="KT",
                    principal_title="Giám đốc", method="provider"), "signed")
    document = _read(api, doc)
    assert (document["status"], document["signing_capacity"]) == ("signed", "KT")
    # The clerk numbers it (the legal series: number/year/code) and seals it.
    _moved_to(_step(clerk, doc, "number", document["version"]), "numbered")
    document = _read(api, doc)
    assert document["status"] == "numbered"
    assert re.fullmatch(r"\d{2}/\d{4}/QĐ-SOA", document["number_label"])
    _moved_to(_step(clerk, doc, "seal", document["version"]), "sealed")
    document = _read(api, doc)
    assert document["status"] == "sealed"
    assert document["appendices"][0]["sealed_sha256"]
    # The clerk finds Sở B in the picker without diacritics, and dispatches to it.
    picker = clerk.get(f"/app/documents/{doc}/dispatch", params={"q": "so b"})
    assert picker.status_code == 200
    assert 'value="SOB"' in picker.text
    assert 'value="SOA"' not in picker.text  # an agency does not send to itself
    assert "data-confirm" in picker.text
    _moved_to(clerk.post(f"/app/documents/{doc}/dispatch", {
        "expected_version": str(document["version"]), "recipients": ["SOB"],
        "external": "UBND tỉnh\n\nBáo Nhân dân\n"}), "dispatched")
    sent = api.get(f"/documents/{doc}/recipients").json()
    assert sent["status"] == "dispatched"
    assert [r["code"] for r in sent["recipients"]] == ["SOB"]
    assert sent["external"] == ["UBND tỉnh", "Báo Nhân dân"]
    # A new draft corrects it, named by its number label.
    correction = _draft(official, "Đính chính quyết định")
    version = _read(api, correction)["version"]
    _moved_to(_step(official, correction, "link", version, relation="corrects",
                    target=document["number_label"]), "linked")
    links = api.get(f"/documents/{correction}/recipients").json()["links"]
    assert links == [{"relation": "corrects", "target_id": doc,
                      "target_label": document["number_label"]}]
    # The clerk recalls the decision, with a reason, once the dispatch process has
    # delivered SOB's copy (its delivery is an event of the document: a version).
    wait_until(lambda: api.get(f"/documents/{doc}/recipients").json()["recipients"][0]
               ["state"] != "pending")
    version = api.get(f"/documents/{doc}/recipients").json()["version"]
    _moved_to(_step(clerk, doc, "recall", version, reason="Sai thẩm quyền"), "recalled")
    assert api.get(f"/documents/{doc}/recipients").json()["recall_reason"] == "Sai thẩm quyền"


def _principal(*roles: Role) -> Principal:
    return Principal(uuid.uuid4(), "someone", uuid.uuid4(), None, frozenset(roles))


@pytest.mark.parametrize("status", list(Status))
def test_the_offered_steps_follow_role_and_status(status: Status) -> None:
    document = {"status": status.value}
    official = actions_for(_principal(Role.OFFICIAL), document)
    leader = actions_for(_principal(Role.LEADER), document)
    clerk = actions_for(_principal(Role.CLERK), document)
    # An official never seals, signs, numbers, dispatches or recalls.
    assert not {"seal", "sign", "number", "dispatch", "recall", "approve"} & set(official)
    assert not {"seal", "number", "dispatch", "recall"} & set(leader)
    assert not {"revise", "submit", "sign", "approve"} & set(clerk)
    assert "comment" in official
    assert "comment" in clerk
    assert ("seal" in clerk) == (status is Status.NUMBERED)
    assert ("sign" in leader) == (status is Status.APPROVED)
    assert ("submit" in official) == (status in (Status.DRAFT, Status.RETURNED))
    assert ("return" in leader) == (status in (Status.SUBMITTED, Status.APPROVED))
    assert actions_for(_principal(Role.AUDITOR), document) == []


def test_an_official_posting_seal_gets_the_refusal_page(
        pages: Callable[[str], Pages], login: Logins) -> None:  # noqa: F811
    official = pages("official_a")
    doc = _draft(official)
    version = _read(login("official_a"), doc)["version"]
    r = _step(official, doc, "seal", version)
    assert r.status_code == 403
    assert "Vai trò của bạn không được phép" in text_of(r.text)
    assert _read(login("official_a"), doc)["version"] == version


def test_another_agencys_document_is_a_404_page(
        pages: Callable[[str], Pages], login: Logins) -> None:  # noqa: F811
    doc = _draft(pages("official_a"))
    version = _read(login("official_a"), doc)["version"]
    stranger = pages("official_b")
    r = _step(stranger, doc, "comment", version, text="Tôi thấy văn bản này")
    assert r.status_code == 404
    assert "Văn bản không tồn tại hoặc bạn không có quyền xem." in text_of(r.text)
    assert stranger.get(f"/app/documents/{doc}/dispatch").status_code == 404
    assert _read(login("official_a"), doc)["comment_count"] == 0


def _document_count(api: httpx.Client) -> int:
    total = api.get("/documents", params={"limit": 1}).json()["total"]
    assert isinstance(total, int)
    return total


@pytest.mark.parametrize(("upload", "status", "message"), [
    (("note.pdf", b"hello, not a pdf", PDF), 415, "Tệp không phải là PDF."),
    (("locked.pdf", make_pdf(1, password="secret"), PDF), 422, "bị mã hoá"),
])
def test_a_refused_file_is_shown_next_to_the_file_field(
        pages: Callable[[str], Pages], login: Logins,  # noqa: F811
        upload: tuple[str, bytes, str], status: int, message: str) -> None:
    official = pages("official_a")
    before = _document_count(login("official_a"))
    r = official.post("/app/documents/new", {"summary": "Giữ nguyên trích yếu",
                                              "doc_type": "TB", "urgency": "flash"},
                      files={"file": upload})
    assert r.status_code == status  # the step's own status, as the API answers
    error = re.search(r'id="f-file-error">([^<]*)<', r.text)
    assert error, r.text
    assert message in error.group(1)
    assert 'aria-invalid="true" aria-describedby="f-file-error"' in r.text
    # What was typed is kept; nothing was recorded.
    assert "Giữ nguyên trích yếu</textarea>" in r.text
    assert re.search(r'<option value="TB" selected>', r.text)
    assert re.search(r'<option value="flash" selected>', r.text)
    assert _document_count(login("official_a")) == before


def test_an_empty_or_broken_summary_is_shown_next_to_the_summary(
        pages: Callable[[str], Pages], login: Logins) -> None:  # noqa: F811
    official = pages("official_a")
    before = _document_count(login("official_a"))
    r = official.post("/app/documents/new", {"summary": "   "}, files={"file": _pdf("x")})
    assert r.status_code == 422
    assert 'id="f-summary-error"' in r.text
    assert 'id="f-file-error"' not in r.text
    r = official.post("/app/documents/new", {"summary": "Có ký tự\x07điều khiển"},
                      files={"file": _pdf("y")})
    assert r.status_code == 422
    assert re.search(r'id="f-summary-error">[^<]*ký tự điều khiển', r.text), r.text
    # An appendix file without its title: refused before anything is stored.
    r = official.post("/app/documents/new", {"summary": "Có phụ lục"},
                      files={"file": _pdf("z"), "appendix_2_file": _pdf("pl")})
    assert r.status_code == 422
    assert 'id="f-appendix_2_title-error"' in r.text
    # An appendix title without its file, likewise.
    r = official.post("/app/documents/new", {"summary": "Có phụ lục",
                                              "appendix_3_title": "Phụ lục III"},
                      files={"file": _pdf("z")})
    assert r.status_code == 422
    assert 'id="f-appendix_3_file-error"' in r.text
    assert 'value="Phụ lục III"' in r.text
    assert _document_count(login("official_a")) == before


def test_a_stale_version_shows_the_stale_message(
        pages: Callable[[str], Pages], login: Logins) -> None:  # noqa: F811
    official, clerk = pages("official_a"), pages("clerk_a")
    doc = _draft(official)
    seen = _read(login("official_a"), doc)["version"]
    # Someone comments meanwhile; the clerk's dispatch form is now out of date.
    _moved_to(_step(official, doc, "comment", seen, text="Góp ý thêm"), "commented")
    r = clerk.post(f"/app/documents/{doc}/dispatch", {
        "expected_version": str(seen), "recipients": ["SOB"], "external": "UBND tỉnh",
        "note": "Gửi gấp"})
    assert r.status_code == 409
    assert "Văn bản đã được người khác thay đổi từ lúc bạn mở" in text_of(r.text)
    # The typed values stay: the ticked agency and the external recipient.
    assert re.search(r'value="SOB" form="dispatch-form" checked', r.text)
    assert "UBND tỉnh</textarea>" in r.text
    assert _read(login("official_a"), doc)["status"] == "draft"


def test_the_picker_filter_updates_only_the_list_for_htmx(
        pages: Callable[[str], Pages]) -> None:
    clerk = pages("clerk_a")
    doc = _draft(pages("official_a"))
    r = clerk.get(f"/app/documents/{doc}/dispatch", params={"q": "zzz-no-such"},
                  headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="recipient-list"')
    assert "<html" not in r.text
    # Without script the whole page comes back, a ticked agency kept while filtering.
    r = clerk.get(f"/app/documents/{doc}/dispatch",
                  params={"q": "zzz-no-such", "recipients": "SOB"})
    assert "<html" in r.text
    assert re.search(r'value="SOB" form="dispatch-form" checked', r.text)


def _actions_html(who: Principal, status: Status, **context: Any) -> str:
    """outgoing/_actions.html as the document page includes it."""
    document = {"id": uuid.uuid4(), "version": 7, "status": status.value,
                "legal_normative": False, "summary": "Công văn"}
    # The sign step is the signing panel (api/web/pages/signing.py), with a provider.
    panel = {"signable": True, "pending": None, "ended_errors": FormErrors(),
             "provider": True, "provider_name": "development", "development": True,
             "certificates": [], "capacities": []}
    with speaking("vi"):
        return environment().get_template("outgoing/_actions.html").render(
            {"document": document, "actions": actions_for(who, document),
             "csrf_token": "token", "signing": panel, "agent_url": "http://127.0.0.1:47300",
             "method_labels": METHOD_LABELS, "request_labels": {}, "signing_messages": {}}
            | context)


@pytest.mark.parametrize("status", list(Status))
def test_the_actions_show_a_form_per_offered_step(status: Status) -> None:
    for role in (Role.OFFICIAL, Role.LEADER, Role.CLERK):
        who = _principal(role)
        html = _actions_html(who, status)
        offered = actions_for(who, {"status": status.value})
        # The sign step opens a signature request.
        html = html.replace('/signature-requests" method="post"', '/sign" method="post"')
        posted = set(re.findall(r'action="/app/documents/[0-9a-f-]+/(\w+)" method="post"',
                                html))
        linked = set(re.findall(r'href="/app/documents/[0-9a-f-]+/(dispatch)"', html))
        assert posted | linked == set(offered), (role, status)
        # Every form carries the version the page showed and the CSRF token.
        assert html.count('name="expected_version" value="7"') == len(posted)
        assert html.count('name="csrf_token" value="token"') == len(posted)
        for irreversible in {"sign", "number", "seal", "recall"} & posted:
            form = html.split(f'/{irreversible}" method="post"', 1)[1].split("</form>", 1)[0]
            assert "data-confirm=" in form, irreversible
            assert 'class="steps-effect"' in form, irreversible
    assert "/seal" not in _actions_html(_principal(Role.OFFICIAL), status)


def test_a_refused_step_is_shown_open_with_its_error_and_values() -> None:
    errors = FormErrors({"file": "Tệp không phải là PDF."}, status=415)
    html = _actions_html(_principal(Role.OFFICIAL), Status.DRAFT, errors=errors,
                         form={"note": "Sửa căn cứ"}, open_action="revise")
    revise = html.split('id="step-revise" open>', 1)[1].split("</details>", 1)[0]
    assert '<p class="field-error" id="f-file-error">Tệp không phải là PDF.</p>' in revise
    assert 'value="Sửa căn cứ"' in revise
    # Only the refused step is open, and only it shows the error.
    assert html.count(" open>") == 1
    assert html.count('id="f-file-error"') == 1
