"""The oversight pages: a city leader holding a mandate over the city drills down from the
city to a department, to a unit, to a person's late documents; a department leader sees only
the department; a user without a mandate sees nothing (404); a bad period is refused next to
its field."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.api.conftest import PASSWORD, Api, new_user
from tests.support.oversight_city import CALM, LATE, SOON, build_city
from tests.support.pages import Pages, text_of

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def city(shared_api: Api) -> dict[str, Any]:
    """The oversight city (tests/support/oversight_city.py) on this module's server."""
    return build_city(shared_api)


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
    # The menu offers oversight to a holder of a mandate.
    assert '<a href="/app/oversight" aria-current="page">Giám sát</a>' in r.text
    # The department: 1 late (overdue, by under an hour), 1 due soon, 1 on time; the ward: its 3
    # dispatches, all on time. Columns: late, due soon, on time, arrived, completed,
    # overdue now, dispatched, late rate (1 late / (1 overdue) = 100,0 %).
    assert _row(r.text, "Sở Nội vụ") == ("SNV — Sở Nội vụ cơ quan 1 Quá hạn 1 Sắp đến hạn 1"
                                         " 3 0 1 0 100,0%")
    assert _row(r.text, "UBND Phường An") == "PHA — UBND Phường An cơ quan 0 0 3 0 0 0 3 0,0%"
    assert "SNV — Sở Nội vụ: Quá hạn 1, Sắp đến hạn 1, Trong hạn 1." in r.text  # the chart
    # Nothing completed or late in these weeks yet: the trends say so rather than draw zeros.
    assert "Không có số liệu cho các tuần hoặc tháng này." in text_of(r.text)
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
    assert 'href="/app/oversight"' not in colleague.get("/app/").text
    assert colleague.get(f"/app/oversight/agencies/{ids['TP']}").status_code == 404
    assert "không có quyền giám sát" in text_of(colleague.get("/app/oversight").text)
    assert colleague.get(f"/app/oversight/agencies/{ids['TP']}/report.csv").status_code == 404


def test_the_admin_refuses_a_grant_without_agency_and_revokes_a_mandate(
        shared_api: Api, browsers: Callable[[str], Pages], mandates: dict[str, Any]) -> None:
    ids = mandates
    admin = browsers("root")
    # People of its own: the module's other tests count on the mandates the fixture gave
    # (and on pho_phong having none).
    api_admin = shared_api.client("root")
    try:
        leaving, leaving_id = new_user(api_admin, ids["TP"], ["leader"], prefix="truong_phong")
        watcher, watcher_id = new_user(api_admin, ids["TP"], ["official"], prefix="thanh_tra")
    finally:
        api_admin.close()
    # No agency chosen: the message stands next to the agency field.
    r = admin.post(f"/app/admin/users/{watcher_id}/oversight-mandates", {
        "oversight_agency_id": "", "oversight_legal_basis": "Quyết định số 16/QĐ-UBND"})
    assert r.status_code == 404
    assert re.search(r'id="f-oversight_agency_id-error">', r.text)
    assert 'value="Quyết định số 16/QĐ-UBND"' in r.text  # what was typed is kept
    # A mandate over the department, then ended: the department answers 404 from then on.
    r = admin.post(f"/app/admin/users/{leaving_id}/oversight-mandates", {
        "oversight_agency_id": ids["SNV"], "oversight_legal_basis": "Quyết định số 15/QĐ-UBND"})
    assert r.status_code == 303, r.text
    assert browsers(leaving).get(f"/app/oversight/agencies/{ids['SNV']}").status_code == 200
    r = admin.post(f"/app/admin/users/{leaving_id}/oversight-mandates/{ids['SNV']}/revoke",
                   {f"oversight-reason-{ids['SNV']}": "Điều động công tác khác"})
    assert r.status_code == 303, r.text
    assert "Đã thu hồi" in text_of(admin.get(r.headers["location"]).text)
    assert browsers(leaving).get(f"/app/oversight/agencies/{ids['SNV']}").status_code == 404
    # Two mandates: the oversight page lists both agencies to start from.
    for agency in ("SNV", "PHA"):
        r = admin.post(f"/app/admin/users/{watcher_id}/oversight-mandates", {
            "oversight_agency_id": ids[agency], "oversight_legal_basis": "Quyết định 17"})
        assert r.status_code == 303, r.text
    r = browsers(watcher).get("/app/oversight")
    assert r.status_code == 200
    assert re.findall(r'<a href="/app/oversight/agencies/([^"]+)">', r.text) == [
        ids["PHA"], ids["SNV"]]


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
    r = chairman.get(f"{base}?from=2025-01-01&to=2026-12-01")
    assert r.status_code == 422
    assert re.search(r'id="f-from-error">Chọn kỳ báo cáo dài tối đa 366 ngày', r.text)
