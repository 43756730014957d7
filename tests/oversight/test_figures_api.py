"""The oversight figures over HTTP: JSON roll-ups, documents, trends, ranking, CSV and PDF,
for mandate holders only.

The oversight rows are written straight into the tables (the projection is tested on its
own): a district (Q1) with one ward (PX) below it, named apart from the API's agencies.
leader_a oversees the district, official_b only the ward, clerk_a nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from pypdf import PdfReader

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.oversight.model import NIL_UUID
from tests.api.conftest import Api, Logins, make_city, served_api
from tests.support.pg import Cluster, on_pool

DISTRICT, WARD, UNIT, DOC, LATE_DOC = (UUID(int=0xE0 + i) for i in range(5))
NOW = datetime.now(VIETNAM_TZ)
TODAY = NOW.date()


@pytest.fixture(scope="module")
def api(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A served API with the city of make_city and the district's oversight rows."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("data")) as api:
        ids = make_city(api)

        async def fill(pool: asyncpg.Pool) -> None:
            s = "docmgmt"
            await pool.executemany(f"INSERT INTO {s}.oversight_agencies VALUES ($1, $2, $3, $4)",
                                   [(DISTRICT, "Q1", "UBND Quận Một", None),
                                    (WARD, "PX", "UBND Phường Xuân", DISTRICT)])
            await pool.execute(f"INSERT INTO {s}.oversight_units VALUES ($1, $2, $3, $4)",
                               UNIT, WARD, "TP", "Bộ phận Tiếp nhận")
            await pool.executemany(
                f"INSERT INTO {s}.oversight_mandates (id, user_id, agency_id, valid_from,"
                " granted_at, version) VALUES ($1, $2, $3, $4, $4, 1)",
                [(UUID(int=1), UUID(ids["leader_a"]), DISTRICT, NOW - timedelta(days=9)),
                 (UUID(int=2), UUID(ids["official_b"]), WARD, NOW - timedelta(days=9))])
            # Today the ward received 3 documents and completed one late, after 5 hours.
            await pool.executemany(
                f"INSERT INTO {s}.oversight_daily (agency_id, level, unit_id, day, arrived,"
                " completed_late, handling_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [(WARD, 0, NIL_UUID, TODAY, 3, 1, 18000.0),
                 (WARD, 1, UNIT, TODAY, 0, 1, 18000.0), (WARD, 1, NIL_UUID, TODAY, 3, 0, 0.0)])
            # One handled by the unit, 2 days late; one not registered, due tomorrow.
            await pool.executemany(
                f"INSERT INTO {s}.oversight_open (document_id, direction, agency_id, unit_id,"
                " label, summary, step, holder_kind, holder_id, since, due)"
                " VALUES ($1, 'incoming', $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                [(LATE_DOC, WARD, UNIT, "15/TB-UBND", "Thông báo lịch tiếp công dân",
                  "handling", "unit", UNIT, NOW - timedelta(days=6), NOW - timedelta(days=2)),
                 (DOC, WARD, None, "", "Giấy mời họp", "registration", "clerks", None,
                  NOW - timedelta(hours=1), NOW + timedelta(days=1))])

        on_pool(api.db, fill)
        yield api


@pytest.fixture(scope="module")
def login(api: Api) -> Iterator[Logins]:
    """A cached logged-in client per user."""
    logins = Logins(api)
    yield logins
    logins.close()


def get(login: Logins, user: str, path: str, **params: Any) -> Any:
    """GET as ``user``; the httpx response."""
    return login(user).get(path, params=params)


def test_a_mandate_holder_drills_down_and_others_get_404(login: Logins) -> None:
    # The district's leader starts from the district.
    r = get(login, "leader_a", "/oversight/roots")
    assert r.status_code == 200, r.text
    assert r.json() == [{"id": str(DISTRICT), "code": "Q1", "name": "UBND Quận Một"}]
    # This month so far: the ward's line carries the 3 arrivals, the late completion, the
    # overdue document; the district's total is the same (it has nothing of its own).
    r = get(login, "leader_a", f"/oversight/agencies/{DISTRICT}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"]) == (TODAY.replace(day=1).isoformat(), TODAY.isoformat())
    [ward] = body["lines"]
    assert (ward["level"], ward["name"]) == ("agency", "UBND Phường Xuân")
    expected = {"arrived": 3, "completed_late": 1, "average_handling_hours": 5.0,
                "handling_open": 1, "handling_overdue": 1, "registration_overdue": 0,
                "open_total": 2, "late": 2, "late_rate": 1.0}
    for figures in (ward["figures"], body["total"]):
        assert {k: figures[k] for k in expected} == expected
    # Down to the ward: its unit, and the "no unit" line with the unregistered document.
    r = get(login, "leader_a", f"/oversight/agencies/{WARD}")
    assert [(ln["name"], ln["figures"]["open_total"]) for ln in r.json()["lines"]] == [
        ("Bộ phận Tiếp nhận", 1), ("", 1)]
    assert [c["name"] for c in r.json()["breadcrumbs"]] == ["UBND Quận Một", "UBND Phường Xuân"]
    # The ward's overseer sees the ward, not the district; clerk_a holds no mandate.
    assert get(login, "official_b", f"/oversight/agencies/{WARD}").status_code == 200
    for user, agency in (("official_b", DISTRICT), ("clerk_a", WARD), ("clerk_a", UUID(int=7))):
        r = get(login, user, f"/oversight/agencies/{agency}")
        assert r.status_code == 404, r.text
        assert r.json()["error"] == "agency_not_found"
    assert get(login, "clerk_a", "/oversight/roots").json() == []
    # A unit of another agency is no unit of the district.
    r = get(login, "leader_a", f"/oversight/agencies/{DISTRICT}", unit_id=str(UNIT))
    assert (r.status_code, r.json()["error"]) == (404, "unit_not_found")


def test_bad_periods_and_filters_answer_422(login: Logins) -> None:
    path = f"/oversight/agencies/{DISTRICT}"
    for params in ({"from": "2026-12-04", "to": "2026-12-01"},
                   {"from": "2025-01-01", "to": "2026-12-31"},
                   {"from": "2026-13-01"}):
        r = get(login, "leader_a", path, **params)
        assert r.status_code == 422, (params, r.text)
        assert "error" in r.json()
    assert get(login, "leader_a", f"{path}/trends", by="year").status_code == 422
    r = get(login, "leader_a", f"{path}/documents", cursor="not-a-cursor")
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    # Without a login: 401.
    with httpx.Client(base_url=str(login.api.base)) as anonymous:
        assert anonymous.get(path).status_code == 401


def test_documents_trends_and_ranking(login: Logins) -> None:
    path = f"/oversight/agencies/{DISTRICT}"
    r = get(login, "leader_a", f"{path}/documents")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    # The overdue one first, held by the unit; then the clerks' one, due tomorrow.
    assert [(d["label"], d["step"], d["holder_kind"], d["holder_name"], d["late"])
            for d in items] == [
        ("15/TB-UBND", "handling", "unit", "Bộ phận Tiếp nhận", True),
        ("", "registration", "clerks", "", False)]
    assert items[0]["due"].endswith("+07:00")
    r = get(login, "leader_a", f"{path}/documents", late="true", limit=1)
    assert ([d["id"] for d in r.json()["items"]], r.json()["next_cursor"]) == ([str(LATE_DOC)],
                                                                                None)
    r = get(login, "leader_a", f"{path}/trends", by="month")
    assert [(p["start"], p["figures"]["arrived"]) for p in r.json()] == [
        (TODAY.replace(day=1).isoformat(), 3)]
    r = get(login, "leader_a", f"{path}/ranking")
    assert [(a["code"], a["figures"]["late_rate"]) for a in r.json()] == [
        ("PX", 1.0), ("Q1", None)]


def test_csv_and_pdf_reports(login: Logins, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = f"/oversight/agencies/{DISTRICT}"
    r = get(login, "leader_a", f"{path}/report.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = text.lstrip("\ufeff").splitlines()
    assert rows[0].startswith("Cấp / Level,Mã / Code,Tên / Name,Đến trong kỳ / Arrived")
    assert rows[1].startswith("Cơ quan / Agency,PX,UBND Phường Xuân,3,0,1,\"5,0\"")
    assert rows[2].startswith("Tổng / Total,,UBND Quận Một,3,")
    r = get(login, "leader_a", f"{path}/report.csv", part="late")
    late = r.content.decode("utf-8").lstrip("\ufeff").splitlines()
    assert len(late) == 2
    assert "15/TB-UBND,Thông báo lịch tiếp công dân,Đang xử lý / Handling,Bộ phận" in late[1]
    assert late[1].endswith(",2")  # two days late
    r = get(login, "leader_a", f"{path}/report.pdf")
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"%PDF")
    pdf = tmp_path_factory.mktemp("report") / "report.pdf"
    pdf.write_bytes(r.content)
    words = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    for expected in ("BÁO CÁO GIÁM SÁT", "UBND Phường Xuân", "Thông báo lịch tiếp công dân",
                     "Bộ phận Tiếp nhận", "Xếp hạng", "100,0 %"):
        assert expected in words, expected
    # Outside the mandate, no report either.
    assert get(login, "official_b", f"{path}/report.pdf").status_code == 404
