"""Văn bản đến in the pages: the queues, the document page and every recipient's step.

Documents are issued by Sở A through the API and delivered by the dispatch process to Sở B,
whose clerk, leader and official then work them through the pages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.web.pages import incoming as incoming_pages
from docmgmt.domain.calendar import VIETNAM_TZ
from tests.api.conftest import Api, Logins, login, new_user
from tests.support.pages import Pages, text_of
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres
__all__ = ["login"]  # the API's module-scoped logins, used as a fixture here


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def sob(shared_api: Api, shared_city: dict[str, Any]) -> dict[str, Any]:
    """Sở B's people for the incoming side: a clerk, a leader and a unit with an official."""
    admin = shared_api.client("root")
    for code, name in (("KT", "Phòng Kinh tế"), ("TH", "Phòng Tổng hợp")):
        _ok(admin.post(f"/agencies/{shared_city['SOB']}/units",
                       json={"code": code, "name": name}), 201)
    agency = next(a for a in _ok(admin.get("/agencies")) if a["code"] == "SOB")
    unit, support = (next(u["id"] for u in agency["units"] if u["code"] == code)
                     for code in ("KT", "TH"))
    clerk, _clerk_id = new_user(admin, shared_city["SOB"], ["clerk"], "clerkb")
    leader, _leader_id = new_user(admin, shared_city["SOB"], ["leader"], "leaderb")
    r = admin.post("/users", json={"username": "kt_b", "full_name": "Chuyên viên Kinh tế",
                                   "password": "correct-horse-battery", "roles": ["official"],
                                   "agency_id": shared_city["SOB"], "unit_id": unit})
    official = _ok(r, 201)["id"]
    return {"clerk": clerk, "leader": leader, "unit": unit, "support": support,
            "official": "kt_b", "official_id": official,
            "official_b": shared_city["official_b"]}


def _issue(login: Logins, summary: str) -> tuple[str, str]:
    """Sở A drafts, approves, signs, numbers, seals and dispatches to Sở B: (outgoing id,
    Sở B's incoming id once delivered)."""
    official, leader, clerk = login("official_a"), login("leader_a"), login("clerk_a")
    doc = _ok(official.post("/documents", data={"summary": summary, "doc_type": "CV"},
                            files={"file": ("cv.pdf", make_pdf(1, text="Cong van"),
                                            "application/pdf")}), 201)["id"]
    _ok(official.post(f"/documents/{doc}/submit", json={"text": "Kính trình"}))
    _ok(leader.post(f"/documents/{doc}/approve", json={"text": "Đồng ý"}))
    _ok(leader.post(f"/documents/{doc}/sign", json={"principal_title": "Giám đốc"}))
    _ok(clerk.post(f"/documents/{doc}/number", json={}))
    _ok(clerk.post(f"/documents/{doc}/seal", json={}))
    _ok(clerk.post(f"/documents/{doc}/dispatch", json={"recipients": ["SOB"]}))

    def delivered() -> str | None:
        rows = _ok(clerk.get(f"/documents/{doc}/recipients"))["recipients"]
        return next((r["incoming_id"] for r in rows if r["code"] == "SOB"), None)

    return str(doc), str(wait_until(delivered, what="delivery to Sở B"))


def _version(login: Logins, user: str, incoming: str) -> int:
    return int(_ok(login(user).get(f"/incoming/{incoming}"))["version"])


def _today() -> date:
    return datetime.now(VIETNAM_TZ).date()


def _next_working_day(day: date, n: int = 1) -> date:
    while n:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def test_the_whole_handling_through_the_pages(
        pages: Callable[[str], Pages], login: Logins, sob: dict[str, Any]) -> None:
    _out, incoming = _issue(login, "Về việc báo cáo tình hình kinh tế quý IV")
    _out = str(_out)
    clerk, leader, official = (pages(sob[k]) for k in ("clerk", "leader", "official"))

    # The clerk finds it waiting to be registered, checked authentic on arrival.
    queue = text_of(clerk.get("/app/incoming?queue=received").text)
    assert "Về việc báo cáo tình hình kinh tế quý IV" in queue
    page = clerk.get(f"/app/incoming/{incoming}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Xác thực" in text
    assert "Kiểm tra khi đến" in text
    assert "Vào sổ" in text
    assert "Giao xử lý" not in text
    assert f"/app/incoming/{incoming}/pages/0.png" in page.text

    # The page's image of the PDF and the file itself are served to the reader.
    png = clerk.get(f"/app/incoming/{incoming}/pages/0.png?w=480")
    assert (png.status_code, png.headers["content-type"]) == (200, "image/png")
    pdf = clerk.get(f"/app/incoming/{incoming}/file")
    assert pdf.content.startswith(b"%PDF-")
    # Both reads are on the copy's access log, as the API's downloads are.
    views = [h for h in _ok(login(sob["clerk"]).get(f"/incoming/{incoming}/history"))
             if h["stream"] == "access_log"]
    assert len(views) == 2
    # Reading it again is a view again, though its image now comes from the cache.
    assert clerk.get(f"/app/incoming/{incoming}/pages/0.png?w=480").status_code == 200
    views = [h for h in _ok(login(sob["clerk"]).get(f"/incoming/{incoming}/history"))
             if h["stream"] == "access_log"]
    assert len(views) == 3

    # The clerk registers it: the arrival number comes from the register.
    version = _version(login, sob["clerk"], incoming)
    r = clerk.post(f"/app/incoming/{incoming}/register", {"expected_version": version})
    assert r.status_code == 303, text_of(r.text)
    assert r.headers["location"].endswith("notice=registered")
    copy = _ok(login(sob["clerk"]).get(f"/incoming/{incoming}"))
    assert copy["status"] == "registered"
    assert copy["arrival_number"] >= 1
    assert "Đã vào sổ." in text_of(clerk.get(r.headers["location"]).text)

    # The leader sees it to assign; giving both a date and working days is refused by the
    # step, next to nothing recorded.
    assert incoming in leader.get("/app/incoming?queue=registered").text
    version = _version(login, sob["leader"], incoming)
    r = leader.post(f"/app/incoming/{incoming}/assign", {
        "expected_version": version, "lead_user_id": sob["official_id"], "working_days": "5",
        "deadline": (_today() + timedelta(days=20)).isoformat(), "instructions": "Gấp"})
    assert r.status_code == 422
    assert "Gấp</textarea>" in r.text  # what was typed is kept
    assert _version(login, sob["leader"], incoming) == version
    r = leader.post(f"/app/incoming/{incoming}/assign", {
        "expected_version": version, "working_days": "abc"})
    assert r.status_code == 422
    assert 'id="f-working_days-error"' in r.text

    # Assigned in working days: the official leads, Tổng hợp supports.
    r = leader.post(f"/app/incoming/{incoming}/assign", {
        "expected_version": version, "lead_user_id": sob["official_id"],
        "lead_unit_id": sob["unit"], "supporting_unit_ids": [sob["support"]],
        "instructions": "Tham mưu báo cáo", "working_days": "5"})
    assert r.status_code == 303, text_of(r.text)
    copy = _ok(login(sob["leader"]).get(f"/incoming/{incoming}"))
    assert (copy["status"], copy["lead_user_id"]) == ("assigned", sob["official_id"])
    assert copy["supporting_unit_ids"] == [sob["support"]]
    assert datetime.fromisoformat(copy["deadline"]).hour == 17
    mine = text_of(official.get("/app/incoming?queue=mine").text)
    assert "Về việc báo cáo tình hình kinh tế quý IV" in mine
    assert "Trong hạn" in mine
    page = text_of(official.get(f"/app/incoming/{incoming}").text)
    assert "Tham mưu báo cáo" in page
    assert "Phòng Tổng hợp" in page

    # Reassigned to a date: due at 17:00 that day.
    day = _next_working_day(_today(), 8)
    version = _version(login, sob["leader"], incoming)
    r = leader.post(f"/app/incoming/{incoming}/assign", {
        "expected_version": version, "lead_user_id": sob["official_id"],
        "instructions": "Tham mưu báo cáo", "deadline": day.isoformat()})
    assert r.status_code == 303, text_of(r.text)
    deadline = _ok(login(sob["leader"]).get(f"/incoming/{incoming}"))["deadline"]
    assert datetime.fromisoformat(deadline) == datetime(day.year, day.month, day.day, 17,
                                                        tzinfo=VIETNAM_TZ)

    # The official records progress; an empty note is told next to the field.
    version = _version(login, sob["leader"], incoming)
    r = official.post(f"/app/incoming/{incoming}/progress",
                      {"expected_version": version, "note": "  "})
    assert r.status_code == 422
    assert 'id="f-note-error"' in r.text
    r = official.post(f"/app/incoming/{incoming}/progress",
                      {"expected_version": version, "note": "Đã thu thập số liệu"})
    assert r.status_code == 303, text_of(r.text)
    assert "Đã thu thập số liệu" in text_of(official.get(f"/app/incoming/{incoming}").text)

    # A stale page: the version the official saw has moved on.
    r = official.post(f"/app/incoming/{incoming}/progress",
                      {"expected_version": version, "note": "Lần nữa"})
    assert r.status_code == 409
    assert "Văn bản đã được người khác thay đổi" in text_of(r.text)

    # The official asks for more time; the leader grants it.
    later = _next_working_day(day, 3)
    version = _version(login, sob["leader"], incoming)
    r = official.post(f"/app/incoming/{incoming}/extension", {
        "expected_version": version, "proposed_deadline": later.isoformat(),
        "reason": "Chờ số liệu của phòng Tổng hợp"})
    assert r.status_code == 303, text_of(r.text)
    page = text_of(leader.get(f"/app/incoming/{incoming}").text)
    assert "Quyết định gia hạn" in page
    assert "Chờ số liệu của phòng Tổng hợp" in page
    version = _version(login, sob["leader"], incoming)
    r = leader.post(f"/app/incoming/{incoming}/extension/decision", {
        "expected_version": version, "granted": "yes", "comment": "Đồng ý"})
    assert r.status_code == 303, text_of(r.text)
    copy = _ok(login(sob["leader"]).get(f"/incoming/{incoming}"))
    assert datetime.fromisoformat(copy["deadline"]).date() == later
    assert copy["pending_extension"] is None
    assert "Đồng ý gia hạn" in text_of(official.get(f"/app/incoming/{incoming}").text)

    # The official completes it with a result; naming another agency's document as the
    # reply is told next to that field, and nothing is recorded.
    version = _version(login, sob["leader"], incoming)
    r = official.post(f"/app/incoming/{incoming}/complete", {
        "expected_version": version, "result": "Đã gửi báo cáo", "reply_other": _out})
    assert r.status_code == 404
    assert 'id="f-reply_other-error"' in r.text
    assert "Đã gửi báo cáo</textarea>" in r.text
    assert _version(login, sob["leader"], incoming) == version
    r = official.post(f"/app/incoming/{incoming}/complete", {
        "expected_version": version, "result": "Đã gửi báo cáo"})
    assert r.status_code == 303, text_of(r.text)
    assert _ok(login(sob["leader"]).get(f"/incoming/{incoming}"))["status"] == "completed"
    page = text_of(official.get(f"/app/incoming/{incoming}").text)
    assert "Đã gửi báo cáo" in page
    assert "Hoàn thành đúng hạn" in page
    # The history shows every step, oldest first.
    kinds = [h["type"].rsplit(".", 1)[-1] for h in
             _ok(login(sob["leader"]).get(f"/incoming/{incoming}/history"))
             if h["stream"] == "document"]
    assert kinds == ["Arrived", "Registered", "Assigned", "Assigned", "ProgressRecorded",
                     "ExtensionRequested", "ExtensionDecided", "Completed"]


def test_return_needs_a_reason(pages: Callable[[str], Pages], login: Logins,
                               sob: dict[str, Any]) -> None:
    _out, incoming = _issue(login, "Văn bản gửi nhầm")
    clerk = pages(sob["clerk"])
    version = _version(login, sob["clerk"], incoming)
    r = clerk.post(f"/app/incoming/{incoming}/return", {"expected_version": version,
                                                         "reason": ""})
    assert r.status_code == 422
    assert 'id="f-reason-error"' in r.text
    assert _version(login, sob["clerk"], incoming) == version
    r = clerk.post(f"/app/incoming/{incoming}/return", {
        "expected_version": version, "reason": "Không thuộc thẩm quyền"})
    assert r.status_code == 303, text_of(r.text)
    copy = _ok(login(sob["clerk"]).get(f"/incoming/{incoming}"))
    assert (copy["status"], copy["return_reason"]) == ("returned", "Không thuộc thẩm quyền")


def test_an_auditor_replays_a_copy_step_by_step(
        pages: Callable[[str], Pages], login: Logins, sob: dict[str, Any],
        shared_api: Api, shared_city: dict[str, Any]) -> None:
    _out, incoming = _issue(login, "Kế hoạch kiểm tra công vụ")
    clerk, leader = pages(sob["clerk"]), pages(sob["leader"])
    assert clerk.post(f"/app/incoming/{incoming}/register", {}).status_code == 303
    r = leader.post(f"/app/incoming/{incoming}/assign", {
        "lead_user_id": sob["official_id"], "working_days": "3",
        "instructions": "Chủ trì tham mưu"})
    assert r.status_code == 303, text_of(r.text)
    # An inspector with a mandate for Sở B opens the copy's history.
    root = shared_api.client("root")
    username, user_id = new_user(root, shared_city["SOB"], ["auditor"], "inspector_b")
    _ok(root.post(f"/users/{user_id}/audit-mandates", json={
        "agency_id": shared_city["SOB"], "legal_basis": "Quyết định thanh tra số 7/QĐ-TTr"}),
        201)
    root.close()
    auditor = pages(username)
    trail = auditor.get(f"/app/audit/documents/{incoming}").text
    assert f"/app/audit/documents/{incoming}/replay" in trail
    assert f"/app/audit/documents/{incoming}/evidence" not in trail  # bundles: outgoing
    # As it arrived: waiting for the clerk, one step, nothing said yet.
    r = auditor.get(f"/app/audit/documents/{incoming}/replay?version=1")
    assert r.status_code == 200, text_of(r.text)
    assert 'class="replay-status">Chờ vào sổ<' in r.text
    assert "Số đến" not in text_of(r.text)
    steps = r.text.split('class="replay-steps"')[1].split("</table>")[0]
    assert steps.count("<tr>") == 2
    assert "Đã đến" in text_of(steps)
    # Once registered: the arrival number and the clerk who registered it.
    r = auditor.get(f"/app/audit/documents/{incoming}/replay?version=2")
    assert 'class="replay-status">Đã vào sổ, chờ giao xử lý<' in r.text
    assert "Số đến" in text_of(r.text)
    steps = text_of(r.text.split('class="replay-steps"')[1].split("</table>")[0])
    assert "Vào sổ văn bản đến" in steps
    assert sob["clerk"] in steps
    # Assigned: the leader who assigned it and the instructions given.
    r = auditor.get(f"/app/audit/documents/{incoming}/replay?version=3")
    assert 'class="replay-status">Đã giao xử lý<' in r.text
    assert "Hạn xử lý" in text_of(r.text)
    assert not re.search(r"\dT\d\d:\d\d", text_of(r.text))  # a local time, not ISO 8601
    steps = text_of(r.text.split('class="replay-steps"')[1].split("</table>")[0])
    assert "Giao xử lý" in steps
    assert sob["leader"] in steps
    assert "Chủ trì tham mưu" in steps
    # A version that never was: the message is next to the version field.
    r = auditor.get(f"/app/audit/documents/{incoming}/replay?version=9")
    assert r.status_code == 404
    assert 'id="f-version-error"' in r.text
    # An official of Sở B is no auditor: the audit pages are refused.
    assert pages("official_b").get(
        f"/app/audit/documents/{incoming}/replay?version=1").status_code == 403


def test_a_recalled_copy_is_confirmed_from_the_page(
        pages: Callable[[str], Pages], login: Logins, sob: dict[str, Any]) -> None:
    out, incoming = _issue(login, "Kế hoạch sẽ bị thu hồi")
    _ok(login("clerk_a").post(f"/documents/{out}/recall", json={"reason": "Sai số liệu"}))
    wait_until(lambda: _ok(login(sob["clerk"]).get(f"/incoming/{incoming}"))["withdrawn"])
    clerk = pages(sob["clerk"])
    # The views follow the dispatch process a moment later.
    wait_until(lambda: incoming in clerk.get("/app/incoming?queue=withdrawn").text,
               what="the withdrawal in the clerk's queue")
    page = clerk.get(f"/app/incoming/{incoming}")
    assert "Xác nhận thu hồi" in text_of(page.text)
    assert "/pages/0.png" not in page.text  # the content is no longer shown
    assert clerk.get(f"/app/incoming/{incoming}/pages/0.png").status_code == 410
    r = clerk.post(f"/app/incoming/{incoming}/confirm-withdrawal",
                   {"expected_version": _version(login, sob["clerk"], incoming)})
    assert r.status_code == 303, text_of(r.text)
    assert _ok(login(sob["clerk"]).get(f"/incoming/{incoming}"))["withdrawal_confirmed"]
    assert incoming not in clerk.get("/app/incoming?queue=withdrawn").text


def test_role_rules_and_another_agencys_copy(
        pages: Callable[[str], Pages], login: Logins, sob: dict[str, Any]) -> None:
    _out, incoming = _issue(login, "Thông báo lịch họp")
    # An official of the agency does not see an unassigned copy at all.
    official = pages(sob["official"])
    assert official.get(f"/app/incoming/{incoming}").status_code == 404
    assert official.get("/app/incoming?queue=received").status_code == 403
    # Once assigned to them, they see it, without the clerk's or leader's buttons.
    clerk, leader = pages(sob["clerk"]), pages(sob["leader"])
    assert clerk.post(f"/app/incoming/{incoming}/register", {}).status_code == 303
    r = leader.post(f"/app/incoming/{incoming}/assign", {
        "lead_user_id": sob["official_id"], "working_days": "3"})
    assert r.status_code == 303, text_of(r.text)
    html = official.get(f"/app/incoming/{incoming}").text
    assert f"/app/incoming/{incoming}/progress" in html
    for step in ("register", "assign", "return", "confirm-withdrawal", "extension/decision"):
        assert f"/app/incoming/{incoming}/{step}" not in html, step
    # Their POSTs to the clerk's and leader's steps are refused, nothing recorded.
    version = _version(login, sob["leader"], incoming)
    r = official.post(f"/app/incoming/{incoming}/assign", {
        "expected_version": version, "lead_user_id": sob["official_id"], "working_days": "9"})
    assert r.status_code == 403
    assert "Vai trò của bạn không được phép" in text_of(r.text)
    assert official.post(f"/app/incoming/{incoming}/confirm-withdrawal",
                         {"expected_version": version}).status_code == 403
    assert _version(login, sob["leader"], incoming) == version
    # A form without the session's token is refused before any step runs.
    r = leader.post(f"/app/incoming/{incoming}/progress",
                    {"expected_version": version, "note": "x"}, token="forged")
    assert r.status_code == 403
    assert _version(login, sob["leader"], incoming) == version
    # Another agency's people get the same 404 page, images and file included.
    other = pages("clerk_a")
    for path in ("", "/pages/0.png", "/file"):
        r = other.get(f"/app/incoming/{incoming}{path}")
        assert r.status_code == 404, path
        assert "Không tìm thấy" in text_of(r.text) or "không tồn tại" in text_of(r.text)
    assert other.post(f"/app/incoming/{incoming}/register", {}).status_code == 404


def test_queues_and_deadline_badges(
        pages: Callable[[str], Pages], login: Logins, sob: dict[str, Any]) -> None:
    _soon_out, soon = _issue(login, "Hạn gần: báo cáo nhanh")
    _late_out, late = _issue(login, "Đã quá hạn: báo cáo cũ")
    _waiting_out, waiting = _issue(login, "Chưa vào sổ")
    clerk, leader = pages(sob["clerk"]), pages(sob["leader"])
    for incoming in (soon, late):
        assert clerk.post(f"/app/incoming/{incoming}/register", {}).status_code == 303
    # Due soon: 17:00 today, or tomorrow late in the day (within the two days' window).
    now = datetime.now(VIETNAM_TZ)
    day = now.date() if now.hour < 16 else now.date() + timedelta(days=1)
    r = leader.post(f"/app/incoming/{soon}/assign", {
        "lead_user_id": sob["official_id"], "deadline": day.isoformat()})
    assert r.status_code == 303, text_of(r.text)
    # Overdue: a deadline a moment ahead, through the API (the page takes whole days);
    # nothing is written when it passes, the state is derived.
    late_deadline = datetime.now(VIETNAM_TZ) + timedelta(seconds=2)
    _ok(login(sob["leader"]).post(f"/incoming/{late}/assign", json={
        "lead_user_id": sob["official_id"], "deadline": late_deadline.isoformat()}))
    time.sleep(2.5)

    official = pages(sob["official"])
    overdue = official.get("/app/incoming?queue=mine&deadline=overdue").text
    due_soon = official.get("/app/incoming?queue=mine&deadline=due_soon").text
    assert late in overdue
    assert soon not in overdue
    assert "Quá hạn" in text_of(overdue)
    assert soon in due_soon
    assert late not in due_soon
    assert "Sắp đến hạn" in text_of(due_soon)
    assert "Quá hạn" in text_of(official.get(f"/app/incoming/{late}").text)
    # Lists show a deadline's hour as well as its day: one may fall due within the day.
    assert late_deadline.strftime("%H:%M %d/%m/%Y") in text_of(overdue)
    assert f"17:00 {day:%d/%m/%Y}" in text_of(due_soon)
    # The home page's links lead to these same lists, and it lists the same deadlines.
    home = official.get("/app/").text
    assert "/app/incoming?queue=mine&amp;deadline=overdue" in home
    assert late_deadline.strftime("%H:%M %d/%m/%Y") in text_of(home)
    # Each queue holds what it says.
    received = clerk.get("/app/incoming?queue=received").text
    assert waiting in received
    assert soon not in received
    assert waiting not in clerk.get("/app/incoming?queue=registered").text
    assert late in leader.get("/app/incoming?queue=all").text
    assert waiting not in official.get("/app/incoming?queue=mine").text
    unit_member = pages(sob["official"])
    assert unit_member.get("/app/incoming?queue=unit").status_code == 200
    # Every queue opens for the roles that work it, and for no other (a clerk works all
    # four; a leader neither registers nor confirms withdrawals).
    for link, leader_status in (("received", 403), ("registered", 200), ("withdrawn", 403),
                                ("mine", 200)):
        assert clerk.get(f"/app/incoming?queue={link}").status_code == 200
        assert leader.get(f"/app/incoming?queue={link}").status_code == leader_status
    assert clerk.get("/app/incoming?queue=withdrawn").status_code == 200
    assert leader.get("/app/incoming?queue=mine&deadline=due_soon").status_code == 200


def test_a_queue_is_paged(pages: Callable[[str], Pages], login: Logins,
                          sob: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _issue(login, "Trang một")
    _issue(login, "Trang hai")
    monkeypatch.setattr(incoming_pages, "PAGE_SIZE", 1)  # the server runs in this process
    clerk = pages(sob["clerk"])
    first = clerk.get("/app/incoming?queue=received").text
    assert "Trang hai" in text_of(first)
    assert "Trang một" not in text_of(first)
    found = re.search(r'href="(/app/incoming\?queue=received&amp;cursor=[^"]+)" rel="next"',
                      first)
    assert found, "no link to the next page"
    second = text_of(clerk.get(found.group(1).replace("&amp;", "&")).text)
    assert "Trang một" in second
    assert "Trang hai" not in second


def test_english_labels(pages: Callable[[str], Pages], sob: dict[str, Any]) -> None:
    clerk = pages(sob["clerk"])
    r = clerk.post("/app/language", {"language": "en", "next": "/app/incoming"})
    assert r.status_code == 303
    text = text_of(clerk.get("/app/incoming?queue=received").text)
    assert "Incoming documents" in text
    assert "To register" in text
    clerk.post("/app/language", {"language": "vi", "next": "/app/incoming"})


def test_complete_with_the_reply_document(
        pages: Callable[[str], Pages], login: Logins, sob: dict[str, Any]) -> None:
    _out, incoming = _issue(login, "Đề nghị phối hợp khảo sát")
    clerk, leader, official = (pages(sob[k]) for k in ("clerk", "leader", "official"))
    assert clerk.post(f"/app/incoming/{incoming}/register", {}).status_code == 303
    assert leader.post(f"/app/incoming/{incoming}/assign", {
        "lead_unit_id": sob["unit"], "working_days": "4"}).status_code == 303
    # The official asks for more time; the leader refuses: the deadline stays.
    deadline = _ok(login(sob["leader"]).get(f"/incoming/{incoming}"))["deadline"]
    assert official.post(f"/app/incoming/{incoming}/extension", {
        "proposed_deadline": "2099-01-05", "reason": "Thiếu người"}).status_code == 303
    r = leader.post(f"/app/incoming/{incoming}/extension/decision",
                    {"granted": "no", "comment": "Cần hoàn thành đúng hạn"})
    assert r.status_code == 303, text_of(r.text)
    copy = _ok(login(sob["leader"]).get(f"/incoming/{incoming}"))
    assert (copy["deadline"], copy["pending_extension"]) == (deadline, None)
    assert "Không đồng ý gia hạn" in text_of(official.get(f"/app/incoming/{incoming}").text)

    # Sở B answers with a document of its own, dispatched to Sở A.
    drafter, boss, keeper = (login(sob[k]) for k in ("official", "leader", "clerk"))
    reply = _ok(drafter.post("/documents", data={"summary": "Trả lời về việc khảo sát",
                                                 "doc_type": "CV"},
                             files={"file": ("tl.pdf", make_pdf(1), "application/pdf")}),
                201)["id"]
    _ok(drafter.post(f"/documents/{reply}/submit", json={"text": "Kính trình"}))
    _ok(boss.post(f"/documents/{reply}/approve", json={"text": "Đồng ý"}))
    _ok(boss.post(f"/documents/{reply}/sign", json={"principal_title": "Giám đốc"}))
    _ok(keeper.post(f"/documents/{reply}/number", json={}))
    _ok(keeper.post(f"/documents/{reply}/seal", json={}))
    _ok(keeper.post(f"/documents/{reply}/dispatch", json={"recipients": ["SOA"]}))
    # The lead unit's official picks it from the recent dispatched documents.
    page = wait_until(lambda: (lambda html: html if reply in html else None)(
        official.get(f"/app/incoming/{incoming}").text), what="the reply in the picker")
    assert "Trả lời về việc khảo sát" in text_of(page)
    r = official.post(f"/app/incoming/{incoming}/complete", {
        "result": "Đã trả lời bằng văn bản", "reply_document_id": reply})
    assert r.status_code == 303, text_of(r.text)
    done = [h for h in _ok(login(sob["leader"]).get(f"/incoming/{incoming}/history"))
            if h["type"].endswith("Completed")]
    assert done[0]["payload"]["reply_document_id"] == reply
    assert f"/app/documents/{reply}" in official.get(f"/app/incoming/{incoming}").text
