"""The oversight pages: a city leader holding a mandate over the city drills down from the
city to a department, to a unit, to a person's late documents; a department leader sees only
the department; a user without a mandate sees nothing (404); a bad period is refused next to
its field."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.api.conftest import PASSWORD, Api
from tests.support.pages import Pages, text_of
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

VN = timezone(timedelta(hours=7))
LATE = "Báo cáo tình hình giải ngân vốn đầu tư công"
SOON = "Kế hoạch tổ chức hội nghị tổng kết năm"
CALM = "Đề xuất biên chế năm 2027"


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _issue(c: dict[str, httpx.Client], summary: str, to: str) -> str:
    """The ward drafts, approves, signs, numbers, seals and dispatches a document to ``to``;
    the recipient's incoming id."""
    doc = str(_ok(c["official_pha"].post(
        "/documents", data={"summary": summary, "doc_type": "BC"},
        files={"file": ("d.pdf", make_pdf(1, text=summary), "application/pdf")}), 201)["id"])
    _ok(c["official_pha"].post(f"/documents/{doc}/submit", json={"text": "Kính trình"}))
    _ok(c["leader_pha"].post(f"/documents/{doc}/approve", json={"text": "Đồng ý"}))
    _ok(c["leader_pha"].post(f"/documents/{doc}/sign", json={"principal_title": "Chủ tịch"}))
    _ok(c["clerk_pha"].post(f"/documents/{doc}/number", json={}))
    _ok(c["clerk_pha"].post(f"/documents/{doc}/seal", json={}))
    _ok(c["clerk_pha"].post(f"/documents/{doc}/dispatch", json={"recipients": [to]}))

    def delivered() -> str | None:
        body = _ok(c["clerk_pha"].get(f"/documents/{doc}/recipients"))
        return next((r["incoming_id"] for r in body["recipients"] if r["code"] == to), None)
    return str(wait_until(delivered, what=f"delivery of {summary!r}"))


@pytest.fixture(scope="module")
def city(shared_api: Api) -> Iterator[dict[str, Any]]:
    """The city TP with its department SNV (units VP, TCCB) and its ward PHA; the ward sends
    the department three documents, which it registers and assigns: one overdue within the
    hour (to a person of VP), one due tomorrow (the same person), one due in ten days (to
    the unit TCCB)."""
    admin = shared_api.client("root")
    ids: dict[str, Any] = {}
    ids["TP"] = _ok(admin.post("/agencies", json={"code": "TP", "name": "UBND Thành phố"}),
                    201)["id"]
    for code, name in [("SNV", "Sở Nội vụ"), ("PHA", "UBND Phường An")]:
        ids[code] = _ok(admin.post("/agencies", json={"code": code, "name": name,
                                                      "parent_id": ids["TP"]}), 201)["id"]
    for code, name in [("VP", "Văn phòng Sở"), ("TCCB", "Phòng Tổ chức cán bộ")]:
        _ok(admin.post(f"/agencies/{ids['SNV']}/units", json={"code": code, "name": name}),
            201)
    ids |= {u["code"]: u["id"] for a in _ok(admin.get("/agencies")) if a["code"] == "SNV"
            for u in a["units"]}
    people = {
        "chu_tich": ("TP", ["leader"], None, "Trần Chủ Tịch"),
        "pho_phong": ("TP", ["official"], None, "Lê Không Quyền"),
        "giam_doc": ("SNV", ["leader"], None, "Phạm Giám Đốc"),
        "van_thu_snv": ("SNV", ["clerk"], None, "Vũ Văn Thư"),
        "chuyen_vien": ("SNV", ["official"], "VP", "Nguyễn Chuyên Viên"),
        "official_pha": ("PHA", ["official"], None, "Official Pha"),
        "leader_pha": ("PHA", ["leader"], None, "Leader Pha"),
        "clerk_pha": ("PHA", ["clerk"], None, "Clerk Pha"),
    }
    for username, (agency, roles, unit, name) in people.items():
        ids[username] = _ok(admin.post("/users", json={
            "username": username, "full_name": name, "password": PASSWORD, "roles": roles,
            "agency_id": ids[agency], "unit_id": ids[unit] if unit else None}), 201)["id"]
    c = {u: shared_api.client(u) for u in ("official_pha", "leader_pha", "clerk_pha",
                                            "giam_doc", "van_thu_snv")}
    # The first is due in three seconds: issuing the other two takes longer than that.
    for key, summary, lead, due in [
            ("late", LATE, {"lead_user_id": ids["chuyen_vien"]}, timedelta(seconds=3)),
            ("soon", SOON, {"lead_user_id": ids["chuyen_vien"]}, timedelta(days=1)),
            ("calm", CALM, {"lead_unit_id": ids["TCCB"]}, timedelta(days=10))]:
        ids[key] = _issue(c, summary, "SNV")
        _ok(c["van_thu_snv"].post(f"/incoming/{ids[key]}/register", json={}))
        ids[f"{key}_due"] = datetime.now(VN) + due
        _ok(c["giam_doc"].post(f"/incoming/{ids[key]}/assign",
                               json=lead | {"deadline": ids[f"{key}_due"].isoformat()}))
    wait_until(lambda: datetime.now(VN) > ids["late_due"], what="the first deadline")
    yield ids
    for client in [admin, *c.values()]:
        client.close()


@pytest.fixture(scope="module")
def browsers(shared_api: Api, city: dict[str, Any]) -> Iterator[Callable[[str], Pages]]:
    """Signed-in page clients by user name (one sign-in each)."""
    made: dict[str, Pages] = {}

    def browser(username: str) -> Pages:
        if username not in made:
            made[username] = Pages(shared_api.base)
            assert made[username].sign_in(username, PASSWORD).status_code == 303
        return made[username]

    yield browser
    for b in made.values():
        b.close()


@pytest.fixture(scope="module")
def mandates(browsers: Callable[[str], Pages], city: dict[str, Any]) -> dict[str, Any]:
    """The admin, on the user's admin page, gives the city's chairman oversight of the city
    and the department's director oversight of the department."""
    admin = browsers("root")
    for user, agency in [("chu_tich", "TP"), ("giam_doc", "SNV")]:
        r = admin.post(f"/app/admin/users/{city[user]}/oversight-mandates", {
            "oversight_agency_id": city[agency],
            "oversight_legal_basis": "Quyết định số 15/QĐ-UBND"})
        assert r.status_code == 303, r.text
        page = text_of(admin.get(r.headers["location"]).text)
        assert "Quyết định số 15/QĐ-UBND" in page
    return city


def _row(html: str, name: str) -> str:
    """The text of the table row whose heading is ``name``."""
    for row in re.findall(r"<tr>.*?</tr>", html, flags=re.S):
        if name in row:
            return text_of(row)
    raise AssertionError(f"no row {name!r}")


def test_the_city_leader_drills_down_to_a_persons_late_documents(
        browsers: Callable[[str], Pages], mandates: dict[str, Any]) -> None:
    ids = mandates
    chairman = browsers("chu_tich")
    # One mandate: the oversight page goes straight to the city.
    r = chairman.get("/app/oversight")
    assert r.status_code == 303
    assert r.headers["location"] == f"/app/oversight/agencies/{ids['TP']}"
    r = chairman.get(r.headers["location"])
    assert r.status_code == 200, r.text
    page = text_of(r.text)
    assert "Giám sát" in page  # the menu offers it to a mandate holder
    # The department: 1 late (overdue, by under an hour), 1 due soon, 1 on time; the ward: its 3
    # dispatches, all on time. Columns: late, due soon, on time, arrived, completed,
    # overdue now, dispatched, late rate (1 late / (1 overdue) = 100,0 %).
    assert _row(r.text, "Sở Nội vụ") == ("SNV — Sở Nội vụ cơ quan 1 Quá hạn 1 Sắp đến hạn 1"
                                         " 3 0 1 0 100,0%")
    assert _row(r.text, "UBND Phường An") == "PHA — UBND Phường An cơ quan 0 0 3 0 0 0 3 0,0%"
    assert "SNV — Sở Nội vụ: Quá hạn 1, Sắp đến hạn 1, Trong hạn 1." in r.text  # the chart
    # The late document, who holds it and how late, under the figures.
    late = _row(r.text, LATE)
    assert "Nguyễn Chuyên Viên" in late
    assert "quá hạn 1 giờ" in late
    assert "Xử lý" in late  # the step it waits at
    # The late documents for Excel, and the printable report.
    csv_link = re.search(r'href="(/app/oversight/agencies/[^"]*part=late)"', r.text)
    assert csv_link
    download = chairman.get(csv_link.group(1).replace("&amp;", "&"))
    assert download.status_code == 200
    assert LATE in download.content.decode("utf-8-sig")
    pdf = chairman.get(f"/app/oversight/agencies/{ids['TP']}/report.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    # Clicking the department: its units.
    link = re.search(r'href="(/app/oversight/agencies/' + ids["SNV"] + r'\?[^"]*)"', r.text)
    assert link
    r = chairman.get(link.group(1).replace("&amp;", "&"))
    assert r.status_code == 200, r.text
    assert "UBND Thành phố" in text_of(r.text)  # the way back up
    # The office holds the late and the due-soon one; the unit TCCB the calm one (nothing
    # with a deadline met or missed yet: no late rate). The arrivals are the agency's.
    assert _row(r.text, "Văn phòng Sở") == ("VP — Văn phòng Sở đơn vị 1 Quá hạn 1 Sắp đến hạn"
                                            " 0 0 0 1 0 100,0%")
    assert _row(r.text, "Phòng Tổ chức cán bộ") == ("TCCB — Phòng Tổ chức cán bộ đơn vị"
                                                    " 0 0 1 0 0 0 0 —")
    # Clicking the office: its people.
    link = re.search(r'href="([^"]*unit_id=' + ids["VP"] + r'[^"]*)"', r.text)
    assert link
    r = chairman.get(link.group(1).replace("&amp;", "&"))
    assert r.status_code == 200, r.text
    assert _row(r.text, "Nguyễn Chuyên Viên") == ("Nguyễn Chuyên Viên cá nhân 1 Quá hạn"
                                                  " 1 Sắp đến hạn 0 0 0 1 0 100,0%")
    # Clicking the person: the documents they hold, the most overdue first.
    link = re.search(r'href="([^"]*person_id=' + ids["chuyen_vien"] + r'[^"]*)"', r.text)
    assert link
    r = chairman.get(link.group(1).replace("&amp;", "&"))
    assert r.status_code == 200, r.text
    text = text_of(r.text)
    assert text.index(LATE) < text.index(SOON)
    assert CALM not in text
    assert "quá hạn 1 giờ" in _row(r.text, LATE)
    assert "quá hạn" not in _row(r.text, SOON)


def test_a_department_leader_sees_the_department_only_and_others_nothing(
        browsers: Callable[[str], Pages], mandates: dict[str, Any]) -> None:
    ids = mandates
    director = browsers("giam_doc")
    assert director.get(f"/app/oversight/agencies/{ids['SNV']}").status_code == 200
    for agency in ("TP", "PHA"):
        assert director.get(f"/app/oversight/agencies/{ids[agency]}"
                            ).status_code == 404
        assert director.get(f"/app/oversight/agencies/{ids[agency]}/documents"
                            ).status_code == 404
    # A colleague of the chairman without a mandate: no menu item, and nothing to open.
    colleague = browsers("pho_phong")
    assert "Giám sát" not in text_of(colleague.get("/app/").text)
    assert colleague.get(f"/app/oversight/agencies/{ids['TP']}").status_code == 404
    assert "không có quyền giám sát" in text_of(colleague.get("/app/oversight").text)
    assert colleague.get(f"/app/oversight/agencies/{ids['TP']}/report.csv").status_code == 404


def test_the_admin_refuses_a_grant_without_agency_and_revokes_a_mandate(
        browsers: Callable[[str], Pages], mandates: dict[str, Any]) -> None:
    ids = mandates
    admin = browsers("root")
    # No agency chosen: the message stands next to the agency field.
    r = admin.post(f"/app/admin/users/{ids['pho_phong']}/oversight-mandates", {
        "oversight_agency_id": "", "oversight_legal_basis": "Quyết định số 16/QĐ-UBND"})
    assert r.status_code == 404
    assert re.search(r'id="f-oversight_agency_id-error">', r.text)
    assert 'value="Quyết định số 16/QĐ-UBND"' in r.text  # what was typed is kept
    # The director's mandate ends: the department answers 404 to them from now on.
    r = admin.post(f"/app/admin/users/{ids['giam_doc']}/oversight-mandates/{ids['SNV']}/revoke",
                   {f"oversight-reason-{ids['SNV']}": "Điều động công tác khác"})
    assert r.status_code == 303, r.text
    assert "Đã thu hồi" in text_of(admin.get(r.headers["location"]).text)
    assert browsers("giam_doc").get(f"/app/oversight/agencies/{ids['SNV']}").status_code == 404


def test_a_bad_period_is_refused_next_to_its_field(
        browsers: Callable[[str], Pages], mandates: dict[str, Any]) -> None:
    chairman = browsers("chu_tich")
    base = f"/app/oversight/agencies/{mandates['TP']}"
    r = chairman.get(f"{base}?from=2026-13-01&to=2026-12-31")
    assert r.status_code == 422
    assert re.search(r'id="f-from-error">Nhập ngày theo dạng ngày/tháng/năm', r.text)
    r = chairman.get(f"{base}?from=2026-12-31&to=2026-12-01")
    assert r.status_code == 422
    assert re.search(r'id="f-to-error">Kỳ báo cáo kết thúc trước khi bắt đầu', r.text)
