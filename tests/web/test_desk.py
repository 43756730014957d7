"""The desk pages: registers (page, PDF, CSV), the unit dashboard and its chart, search
without diacritics, and my notifications; each agency sees only its own records."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pypdfium2
import pytest

from api.web.pages import desk
from tests.api.conftest import PASSWORD, Api
from tests.support.pages import Pages, text_of
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

VN = timezone(timedelta(hours=7))
DECISION = "Quyết định về việc thành lập tổ công tác"
PLAN = "Kế hoạch kiểm tra công vụ năm 2027"
REPORT = "Báo cáo tình hình thực hiện nhiệm vụ quý IV"
REQUEST = "Tờ trình xin kinh phí tổ chức hội nghị"
PRIVATE_B = "Báo cáo nội bộ riêng của Sở B"


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _draft(client: httpx.Client, summary: str) -> str:
    return str(_ok(client.post("/documents", data={"summary": summary, "doc_type": "QĐ"},
                               files={"file": ("d.pdf", make_pdf(1, text=summary),
                                               "application/pdf")}), 201)["id"])


def _issue(c: dict[str, httpx.Client], side: str, summary: str, to: str) -> tuple[str, str]:
    """Drafted, approved, signed, numbered, sealed and dispatched by agency ``side`` to
    ``to``; the outgoing id and the recipient's incoming id."""
    doc = _draft(c[f"official_{side}"], summary)
    _ok(c[f"official_{side}"].post(f"/documents/{doc}/submit", json={"text": "Kính trình"}))
    _ok(c[f"leader_{side}"].post(f"/documents/{doc}/approve", json={"text": "Đồng ý"}))
    _ok(c[f"leader_{side}"].post(f"/documents/{doc}/sign", json={"principal_title": "Giám đốc"}))
    _ok(c[f"clerk_{side}"].post(f"/documents/{doc}/number", json={}))
    _ok(c[f"clerk_{side}"].post(f"/documents/{doc}/seal", json={}))
    _ok(c[f"clerk_{side}"].post(f"/documents/{doc}/dispatch", json={"recipients": [to]}))

    def delivered() -> str | None:
        body = _ok(c[f"clerk_{side}"].get(f"/documents/{doc}/recipients"))
        return next((r["incoming_id"] for r in body["recipients"] if r["code"] == to), None)
    return doc, str(wait_until(delivered, what=f"delivery of {summary!r} to {to}"))


@pytest.fixture(scope="module")
def world(shared_api: Api, shared_city: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """SOA and SOB each send the other documents, registered and assigned; a draft of SOA's
    is returned; a draft of SOB's stays private."""
    admin = shared_api.client("root")
    ids = dict(shared_city)
    for username, roles in [("leader_b", ["leader"]), ("clerk_b", ["clerk"])]:
        ids[username] = _ok(admin.post("/users", json={
            "username": username, "full_name": username.replace("_", " ").title(),
            "password": PASSWORD, "roles": roles, "agency_id": ids["SOB"]}), 201)["id"]
    unit_vp = next(u["id"] for a in _ok(admin.get("/agencies")) if a["code"] == "SOA"
                   for u in a["units"] if u["code"] == "VP")
    c = {u: shared_api.client(u) for u in ("official_a", "leader_a", "clerk_a", "official_b",
                                            "leader_b", "clerk_b")}
    # SOA sends a decision to SOB, which registers it.
    ids["decision"], ids["decision_at_b"] = _issue(c, "a", DECISION, "SOB")
    _ok(c["clerk_b"].post(f"/incoming/{ids['decision_at_b']}/register", json={}))
    # SOB sends a plan and a report to SOA: registered 01 and 02; the plan goes to the
    # office (due in six hours), the report to official_a (due in two seconds: overdue).
    ids["plan"], ids["plan_at_a"] = _issue(c, "b", PLAN, "SOA")
    ids["report"], ids["report_at_a"] = _issue(c, "b", REPORT, "SOA")
    now = datetime.now(VN)
    for key in ("plan_at_a", "report_at_a"):
        _ok(c["clerk_a"].post(f"/incoming/{ids[key]}/register", json={}))
    _ok(c["leader_a"].post(f"/incoming/{ids['plan_at_a']}/assign", json={
        "lead_unit_id": unit_vp, "deadline": (now + timedelta(hours=6)).isoformat()}))
    ids["report_deadline"] = now + timedelta(seconds=2)
    _ok(c["leader_a"].post(f"/incoming/{ids['report_at_a']}/assign", json={
        "lead_user_id": ids["official_a"], "deadline": ids["report_deadline"].isoformat()}))
    # official_a's request is returned by the leader; SOB keeps a draft to itself.
    ids["request"] = _draft(c["official_a"], REQUEST)
    _ok(c["official_a"].post(f"/documents/{ids['request']}/submit", json={"text": "Kính trình"}))
    _ok(c["leader_a"].post(f"/documents/{ids['request']}/return",
                           json={"text": "Bổ sung dự toán chi tiết"}))
    ids["private_b"] = _draft(c["official_b"], PRIVATE_B)
    time.sleep(max(0.0, (now + timedelta(seconds=2.5) - datetime.now(VN)).total_seconds()))
    ids["unit_vp"] = unit_vp
    ids["api"] = c
    yield ids
    for client in [admin, *c.values()]:
        client.close()


def _english(browser: Pages) -> Pages:
    r = browser.post("/app/language", {"language": "en", "next": "/app/"})
    assert r.status_code == 303
    return browser


def _vietnamese(browser: Pages) -> Pages:
    browser.post("/app/language", {"language": "vi", "next": "/app/"})
    return browser


# --- registers --------------------------------------------------------------------------


def test_the_incoming_register_shows_the_year_by_arrival_number(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    year = datetime.now(VN).year
    r = pages("clerk_a").get(f"/app/registers?kind=incoming&year={year}")
    assert r.status_code == 200, r.text
    text = text_of(r.text)
    assert f"Sổ đăng ký văn bản đến — Năm {year}" in text
    assert re.search(r"01 .*" + PLAN + r".*02 .*" + REPORT, text)
    assert f'href="/app/incoming/{world["plan_at_a"]}"' in r.text
    # The other agency's copy of SOA's own decision is SOB's, never SOA's incoming.
    assert DECISION not in text
    assert f'href="/app/registers/incoming.pdf?year={year}"' in r.text
    assert f'href="/app/registers/incoming.csv?year={year}"' in r.text
    # SOB's clerk sees only SOB's register.
    theirs = text_of(pages("clerk_b").get(f"/app/registers?year={year}").text)
    assert DECISION in theirs
    assert PLAN not in theirs
    assert REPORT not in theirs


def test_the_outgoing_register_and_an_empty_year(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    year = datetime.now(VN).year
    text = text_of(pages("clerk_a").get(f"/app/registers?kind=outgoing&year={year}").text)
    assert "Sổ đăng ký văn bản đi" in text
    assert DECISION in text
    assert PLAN not in text  # SOB's outgoing document
    empty = text_of(pages("clerk_a").get("/app/registers?kind=outgoing&year=2001").text)
    assert "Không có văn bản nào được vào sổ này trong năm 2001." in empty


def test_the_register_is_paged_by_arrival_number(
        pages: Callable[[str], Pages], world: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    year = datetime.now(VN).year
    monkeypatch.setattr(desk, "REGISTER_PAGE", 1)  # the server runs in this process
    first = pages("clerk_a").get(f"/app/registers?kind=incoming&year={year}")
    assert PLAN in first.text
    assert REPORT not in first.text
    assert f'href="/app/registers?kind=incoming&amp;year={year}&amp;from=2"' in first.text
    second = pages("clerk_a").get(f"/app/registers?kind=incoming&year={year}&from=2")
    assert REPORT in second.text
    assert PLAN not in second.text
    assert 'rel="next"' not in second.text


def test_register_pdf_and_csv_are_the_apis_own(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    year = datetime.now(VN).year
    browser = pages("clerk_a")
    pdf = browser.get(f"/app/registers/incoming.pdf?year={year}")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="so-van-ban-den-{year}.pdf"')
    assert pdf.content.startswith(b"%PDF-")
    document = pypdfium2.PdfDocument(pdf.content)
    try:
        page = document[0]
        printed = "".join(page.get_textpage().get_text_range().split())  # wrapped in cells
        assert "".join(PLAN.split()) in printed
        image = page.render(scale=0.5).to_pil()
        assert image.width > 300  # landscape A4 rendered
    finally:
        document.close()
    sheet = browser.get(f"/app/registers/incoming.csv?year={year}")
    assert sheet.status_code == 200
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Số đến / Arrival no."
    assert [(r[0], r[7]) for r in rows[1:]] == [("01", PLAN), ("02", REPORT)]
    api_csv = world["api"]["clerk_a"].get("/registers/incoming",
                                          params={"year": year, "format": "csv"})
    assert sheet.content == api_csv.content
    out = browser.get(f"/app/registers/outgoing.csv?year={year}")
    assert [r[3] for r in list(csv.reader(io.StringIO(out.content.decode("utf-8-sig"))))[1:]
            ] == [DECISION]


def test_an_official_may_not_open_the_registers(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    browser = pages("official_a")
    assert world["api"]["official_a"].get("/registers/incoming").status_code == 403
    for path in ("/app/registers", "/app/registers/incoming.pdf",
                 "/app/registers/outgoing.csv", "/app/dashboard"):
        r = browser.get(path)
        assert r.status_code == 403, path
        assert "Vai trò của bạn không được phép thực hiện thao tác này." in text_of(r.text), path
        assert "%PDF" not in r.text


# --- the dashboard ----------------------------------------------------------------------


def _cells(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[text_of(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_dashboard_numbers_are_the_apis_and_the_chart_reads_without_colour(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    first, last = desk.this_month(datetime.now(VN).date())
    r = pages("leader_a").get("/app/dashboard")
    assert r.status_code == 200, r.text
    api = _ok(world["api"]["leader_a"].get("/dashboard", params={
        "from": first.isoformat(), "to": last.isoformat()}))["units"]
    by_name = {row[0]: row[1:] for row in _cells(r.text)}
    assert len(by_name) == len(api) == 2
    for unit in api:
        name = "Không thuộc đơn vị" if unit["unit_id"] is None else \
            f"{unit['unit_code']} — {unit['unit_name']}"
        numbers = [int(cell.split()[0]) for cell in by_name[name][:6]]
        assert numbers == [unit["total_assigned"], unit["completed_on_time"],
                           unit["completed_late"], unit["open_on_time"],
                           unit["open_due_soon"], unit["open_overdue"]]
    # The office's plan is due soon; official_a's report (no unit) is overdue.
    assert [int(c.split()[0]) for c in by_name["VP — Văn phòng"][:6]] == [1, 0, 0, 0, 1, 0]
    assert [int(c.split()[0]) for c in by_name["Không thuộc đơn vị"][:6]] == [1, 0, 0, 0, 0, 1]
    assert f'href="/app/incoming?queue=unit&amp;unit={world["unit_vp"]}"' in r.text
    # The chart: inline SVG, titled and described in the reader's language, no style.
    svg = r.text.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg
    assert "<title id=\"chart-title\">Văn bản đến theo đơn vị và hạn xử lý</title>" in svg
    assert "VP — Văn phòng: Trong hạn 0, Sắp đến hạn 1, Quá hạn 0, Hoàn thành quá hạn 0." in svg
    assert "style=" not in r.text
    english = _english(pages("leader_a")).get("/app/dashboard")
    try:
        assert "Incoming documents per unit by deadline" in english.text
        assert "No unit: On time 0, Due soon 0, Overdue 1, Completed late 0." in english.text
    finally:
        _vietnamese(pages("leader_a"))


def test_dashboard_refuses_a_period_that_ends_before_it_starts(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    r = pages("leader_a").get("/app/dashboard?from=2026-12-31&to=2026-12-01")
    assert r.status_code == 422
    assert re.search(r'id="f-to-error">Kỳ báo cáo kết thúc trước khi bắt đầu', r.text)
    assert "<svg" not in r.text


def test_handling_time_in_words() -> None:
    assert desk.handling_time(None) == "—"
    assert desk.handling_time(0.2) == "dưới 1 giờ"
    assert desk.handling_time(53.4) == "2 ngày 5 giờ"
    assert desk.handling_time(48) == "2 ngày"


# --- search -----------------------------------------------------------------------------


def test_search_ignores_diacritics_and_stays_in_the_agency(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    # SOB's leader finds the decision it received, typed without diacritics.
    r = pages("leader_b").get("/app/search", params={"q": "quyet dinh to cong tac"})
    assert r.status_code == 200
    assert DECISION in text_of(r.text)
    assert f'href="/app/incoming/{world["decision_at_b"]}"' in r.text
    # SOA's leader finds it among the agency's outgoing documents.
    mine = pages("leader_a").get("/app/search", params={"q": "QUYET DINH"})
    assert f'href="/app/documents/{world["decision"]}"' in mine.text
    assert "Đã tìm thấy 1 văn bản." in text_of(mine.text)
    # Another agency's private draft is never found.
    none = pages("leader_a").get("/app/search", params={"q": "bao cao noi bo rieng"})
    assert PRIVATE_B not in none.text
    assert "Không có văn bản nào khớp với" in text_of(none.text)
    assert PRIVATE_B in pages("leader_b").get("/app/search", params={"q": "noi bo"}).text


def test_search_refuses_an_overlong_query_next_to_the_field(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    r = pages("leader_a").get("/app/search", params={"q": "a" * 201})
    assert r.status_code == 422
    assert 'id="f-q-error"' in r.text


def test_an_official_searches_what_an_official_may_read(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    api = world["api"]["official_a"]

    def found(q: str) -> tuple[set[str], set[str]]:
        """The ids the API finds for official_a, and the links the page shows."""
        r = api.get("/search", params={"q": q})
        page = pages("official_a").get("/app/search", params={"q": q})
        assert page.status_code == 200, page.text
        return {h["id"] for h in _ok(r)}, set(re.findall(r'href="/app/(?:incoming|documents)/'
                                                        r'([0-9a-f-]{36})"', page.text))

    # The report assigned to her is found; the plan, led by the office she is not in, not.
    assert found("bao cao tinh hinh") == ({world["report_at_a"]}, {world["report_at_a"]})
    assert found("ke hoach kiem tra") == (set(), set())
    # The agency's outgoing documents are hers to read: the decision, her own request.
    assert found("quyet dinh to cong tac") == ({world["decision"]}, {world["decision"]})
    assert found("to trinh kinh phi") == ({world["request"]}, {world["request"]})
    # Another agency's never.
    assert found("bao cao noi bo rieng") == (set(), set())
    # An administrator reads no document: no search either.
    assert pages("root").get("/app/search", params={"q": "ke hoach"}).status_code == 403
    # The leader of the same agency finds the plan.
    assert world["plan_at_a"] in {h["id"] for h in _ok(
        world["api"]["leader_a"].get("/search", params={"q": "ke hoach kiem tra"}))}


def test_search_pages_with_a_cursor_in_the_api_and_the_page(
        pages: Callable[[str], Pages], world: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    api = world["api"]["leader_a"]
    # SOA's hits for "so" (Sở B, the sender of two copies and a recipient: three or more).
    everything = _ok(api.get("/search", params={"q": "so", "limit": 100}))
    assert len(everything) >= 3
    # The API: a list as before, the next page's address in the Link header.
    walked, url = [], "/search?q=so&limit=1"
    while url:
        r = api.get(url)
        walked += _ok(r)
        link = r.headers.get("link")
        url = re.fullmatch(r'<(/search\?[^>]+)>; rel="next"', link).group(1) if link else ""
    assert [h["id"] for h in walked] == [h["id"] for h in everything]
    assert _ok(api.get("/search", params={"q": "so", "cursor": "nonsense"}), 422)
    # The page: one hit a page, a next link until the last, and a way back.
    monkeypatch.setattr(desk, "SEARCH_PAGE", 1)
    browser, shown, path = pages("leader_a"), [], "/app/search?q=so"
    while path:
        r = browser.get(path)
        assert r.status_code == 200, r.text
        shown += re.findall(r'<a href="/app/(?:incoming|documents)/([0-9a-f-]{36})"', r.text)
        nxt = re.search(r'<a href="([^"]+)" rel="next"', r.text)
        path = nxt.group(1).replace("&amp;", "&") if nxt else ""
        if path:
            assert "trang sau còn nữa" in text_of(r.text)
    assert shown == [h["id"] for h in everything]
    assert 'href="/app/search?q=so">Về trang đầu' in r.text
    refused = browser.get("/app/search?q=so&cursor=nonsense")
    assert refused.status_code == 422
    assert "Traceback" not in refused.text


# --- notifications ----------------------------------------------------------------------


def test_notifications_show_a_returned_draft_and_an_assignment(
        pages: Callable[[str], Pages], world: dict[str, Any]) -> None:
    r = pages("official_a").get("/app/notifications")
    assert r.status_code == 200
    text = text_of(r.text)
    assert "Dự thảo của bạn bị trả lại để chỉnh sửa" in text
    assert f'href="/app/documents/{world["request"]}"' in r.text
    assert "Được giao cho bạn chủ trì" in text
    assert f'href="/app/incoming/{world["report_at_a"]}"' in r.text
    # The deadline with its hour: this one falls due within the day.
    assert f"hạn xử lý {world['report_deadline']:%H:%M %d/%m/%Y}" in text
    # The newest change first: the return came after the assignment.
    assert text.index("bị trả lại") < text.index("Được giao")
    # SOB's official hears of the documents they drafted, never of SOA's.
    theirs = text_of(pages("official_b").get("/app/notifications").text)
    assert "Văn bản của bạn đã được phát hành" in theirs
    assert REPORT in theirs
    assert REQUEST not in theirs
    assert DECISION not in theirs
    assert PRIVATE_B not in theirs  # a draft that has not moved is no news
    assert "Không có gì mới." in text_of(pages("clerk_b").get("/app/notifications").text)


def test_month_bounds() -> None:
    assert desk.this_month(date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert desk.this_month(date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))


def test_the_chart_scales_bars_and_writes_every_number() -> None:
    units = [
        {"unit_id": "u1", "unit_code": "VP", "unit_name": "Văn phòng", "completed_on_time": 3,
         "open_on_time": 2, "open_due_soon": 1, "open_overdue": 2, "completed_late": 2},
        {"unit_id": None, "unit_code": None, "unit_name": None, "completed_on_time": 0,
         "open_on_time": 0, "open_due_soon": 0, "open_overdue": 0, "completed_late": 1},
    ]
    rows = desk.chart_rows(units)
    assert [r.counts for r in rows] == [(5, 1, 2, 2), (0, 0, 0, 1)]
    svg = str(desk.chart_svg(rows))
    assert "style" not in svg
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"'
                                           r' height="20"', svg)]
    # The longest bar spans the chart; each segment is proportional to its count.
    assert widths == pytest.approx([180.0, 36.0, 72.0, 72.0, 36.0])
    assert re.findall(r'font-weight="bold">(\d+)</text>', svg) == ["5", "1", "2", "2", "1"]
    assert ">1: 5 · 2: 1 · 3: 2 · 4: 2</text>" in svg  # readable without colour
    assert "VP — Văn phòng: Trong hạn 5, Sắp đến hạn 1, Quá hạn 2, Hoàn thành quá hạn 2." in svg
