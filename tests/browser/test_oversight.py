"""Oversight in the browser: the admin gives the city's chairman oversight of the city on
the chairman's admin page; the chairman opens "Giám sát" from the menu and drills down by
clicking, city -> department -> unit -> person, to the late document and who holds it.
The city, unit and person pages are shot in Vietnamese and English, and the city on a 360 px
phone."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.api.conftest import Api
from tests.browser.conftest import PHONE, Browsers, Shots
from tests.support.oversight_city import LATE, SOON, build_city


def test_the_chairman_drills_down_to_the_late_document(
        browsers: Browsers, web: Api, shot: Shots, tmp_path: Path) -> None:
    ids = build_city(web, documents=("late", "soon"))
    # The admin grants the chairman oversight of the city, from the user's page.
    admin = browsers("root")
    admin.goto(f"/app/admin/users/{ids['chu_tich']}")
    grant = admin.get_by_role("region", name="Quyền giám sát")
    grant.get_by_label("Cơ quan (và mọi cơ quan trực thuộc)").select_option(ids["TP"])
    grant.get_by_label("Căn cứ pháp lý").fill("Quyết định số 15/QĐ-UBND")
    grant.get_by_role("button", name="Giao quyền giám sát").click()
    expect(admin.get_by_text("Đã giao quyền giám sát.")).to_be_visible()
    expect(grant.get_by_role("row", name="TP · UBND Thành phố")).to_contain_text("Đang hiệu lực")

    # The chairman finds oversight in the menu: one mandate, straight to the city.
    chairman = browsers("chu_tich")
    chairman.get_by_role("navigation", name="Menu chính").get_by_role(
        "link", name="Giám sát").click()
    expect(chairman.get_by_role("heading", level=1)).to_have_text("UBND Thành phố")
    lines = chairman.get_by_role("table", name="Số liệu theo từng dòng")
    expect(lines.get_by_role("row", name="SNV — Sở Nội vụ")).to_contain_text("1 Quá hạn")
    expect(chairman.get_by_role("img", name="Văn bản của từng dòng theo thời hạn")).to_be_visible()
    shot(chairman, "oversight-city", readme=True)

    # Down to the department, its office, and the official who holds the late document.
    lines.get_by_role("link", name="SNV — Sở Nội vụ").click()
    expect(chairman.get_by_role("heading", level=1)).to_have_text("Sở Nội vụ")
    chairman.get_by_role("table", name="Số liệu theo từng dòng").get_by_role(
        "link", name="VP — Văn phòng Sở").click()
    expect(chairman.get_by_role("heading", level=1)).to_have_text("Văn phòng Sở")
    shot(chairman, "oversight-unit")
    chairman.get_by_role("link", name="Nguyễn Chuyên Viên").click()
    documents = chairman.get_by_role("table", name="Văn bản đang xử lý")
    expect(documents.get_by_role("row").nth(1)).to_contain_text(LATE)
    expect(documents.get_by_role("row").nth(1)).to_contain_text("quá hạn 1 giờ")
    expect(documents.get_by_role("row").nth(2)).to_contain_text(SOON)
    shot(chairman, "oversight-person")
    # The way back up, by the breadcrumbs.
    chairman.get_by_role("navigation", name="Vị trí hiện tại").get_by_role(
        "link", name="UBND Thành phố").click()
    expect(chairman.get_by_role("heading", level=1)).to_have_text("UBND Thành phố")

    # On a phone: the same figures, the table as cards, nothing wider than the screen.
    chairman.set_viewport_size({"width": PHONE, "height": 900})
    chairman.reload()
    expect(chairman.get_by_role("heading", level=1)).to_have_text("UBND Thành phố")
    assert chairman.evaluate("document.documentElement.scrollWidth") <= PHONE
    chairman.screenshot(path=str(tmp_path / "oversight-city-phone.png"), full_page=True)
