"""The oversight tables follow a document through the real steps over HTTP.

A department (STTTT) drafts, approves, signs, numbers, seals and dispatches a plan to a
ward (PBN), whose clerk registers it; the ward's leader assigns it to an official, who asks
for more time, gets it and completes. After each answer (commands wait for the oversight
view) the open row says where the document waits, with whom, since when, until when; the
flows land on the day at the three levels.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from docmgmt.domain.calendar import AgencyCalendar, dispatch_due
from docmgmt.kernel.holidays import VietnamHolidays
from tests.api.conftest import PASSWORD, Api, Logins, served_api
from tests.support.pdfs import make_pdf
from tests.support.pg import Cluster
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

NIL = UUID(int=0)


@pytest.fixture(scope="module")
def ov_api(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A served API on a database of its own (its tables are counted exactly)."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("data")) as api:
        yield api


@pytest.fixture(scope="module")
def people(ov_api: Api) -> Iterator[tuple[dict[str, Any], Logins]]:
    """The department and the ward, their units and people, and a login for each."""
    admin = ov_api.client("root")
    ids: dict[str, Any] = {}
    for code, name, unit in (("STTTT", "Sở Thông tin và Truyền thông", "VP"),
                             ("PBN", "Ủy ban nhân dân phường Bến Nghé", "VHXH")):
        ids[code] = ok(admin.post("/agencies", json={"code": code, "name": name}), 201)["id"]
        ok(admin.post(f"/agencies/{ids[code]}/units", json={
            "code": unit, "name": f"Phòng {unit}"}), 201)
    for agency in ok(admin.get("/agencies")):
        for unit_row in agency["units"]:
            ids[f"{agency['code']}.{unit_row['code']}"] = unit_row["id"]
    for username, agency, unit, role in (
            ("drafter", "STTTT", "STTTT.VP", "official"), ("director", "STTTT", None, "leader"),
            ("sclerk", "STTTT", None, "clerk"), ("chair", "PBN", None, "leader"),
            ("wclerk", "PBN", None, "clerk"), ("lan", "PBN", "PBN.VHXH", "official")):
        ids[username] = ok(admin.post("/users", json={
            "username": username, "full_name": username, "password": PASSWORD,
            "roles": [role], "agency_id": ids[agency],
            "unit_id": ids[unit] if unit else None}), 201)["id"]
    logins = Logins(ov_api)
    yield ids, logins
    logins.close()


def ok(r: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a successful answer."""
    assert r.status_code == status, r.text
    return r.json()


def rows(api: Api, sql: str, *params: Any) -> list[dict[str, Any]]:
    """What the oversight tables hold now."""
    with psycopg.connect(api.db.owner.conninfo(), row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def open_row(api: Api, document_id: str) -> dict[str, Any] | None:
    """The document's open row, if it is open."""
    found = rows(api, "SELECT * FROM docmgmt.oversight_open WHERE document_id = %s",
                 document_id)
    return found[0] if found else None


def waits(api: Api, document_id: str) -> tuple[Any, ...]:
    """Where it waits: step, holder kind, holder, unit, person, due."""
    r = open_row(api, document_id)
    assert r is not None
    return (r["step"], r["holder_kind"], r["holder_id"] and str(r["holder_id"]),
            r["unit_id"] and str(r["unit_id"]), r["person_id"] and str(r["person_id"]),
            r["due"])


def flows(api: Api, agency: str) -> dict[tuple[int, str, str], tuple[int, ...]]:
    """The agency's flows summed over days, by (level, unit, person); zero lines left out."""
    found = rows(api, "SELECT level, unit_id, person_id, sum(arrived)::int AS a,"
                      " sum(completed_on_time)::int AS b, sum(completed_late)::int AS c,"
                      " sum(extensions_requested)::int AS d, sum(extensions_granted)::int AS e,"
                      " sum(dispatched)::int AS f, sum(dispatched_late)::int AS g"
                      " FROM docmgmt.oversight_daily WHERE agency_id = %s GROUP BY 1, 2, 3",
                 agency)
    return {(r["level"], str(r["unit_id"]), str(r["person_id"])): tuple(
        v for k, v in r.items() if k not in ("level", "unit_id", "person_id")) for r in found}


def test_a_document_through_every_step(ov_api: Api,
                                       people: tuple[dict[str, Any], Logins]) -> None:
    api, (ids, login) = ov_api, people
    nil = str(NIL)
    # The drafter drafts a plan: it waits with her, in her unit, with no deadline.
    plan = ok(login("drafter").post(
        "/documents", data={"summary": "Kế hoạch chuyển đổi số", "doc_type": "KH"},
        files={"file": ("kh.pdf", make_pdf(1, text="kh"), "application/pdf")}), 201)["id"]
    assert waits(api, plan) == ("drafting", "person", ids["drafter"], ids["STTTT.VP"],
                                ids["drafter"], None)
    # Submitted: the leaders hold it. Approved: the director, who signs.
    ok(login("drafter").post(f"/documents/{plan}/submit", json={"text": "Kính trình"}))
    assert waits(api, plan)[:3] == ("approval", "leaders", None)
    ok(login("director").post(f"/documents/{plan}/approve", json={"text": "Đồng ý"}))
    assert waits(api, plan)[:3] == ("signature", "person", ids["director"])
    # Signed: the clerks must number, seal and dispatch it by the dispatch deadline, counted
    # from the signing on the department's calendar.
    ok(login("director").post(f"/documents/{plan}/sign", json={"principal_title": "Giám đốc"}))
    signed = open_row(api, plan)
    assert signed is not None
    assert (signed["step"], signed["holder_kind"], signed["label"]) == ("number", "clerks", "")
    assert signed["due"] == dispatch_due(signed["since"], "normal",
                                         AgencyCalendar(VietnamHolidays()))
    ok(login("sclerk").post(f"/documents/{plan}/number", json={}))
    numbered = open_row(api, plan)
    assert numbered is not None
    assert (numbered["step"], numbered["label"], numbered["due"]) == (
        "seal", "01/KH-STTTT", signed["due"])
    ok(login("sclerk").post(f"/documents/{plan}/seal", json={}))
    assert waits(api, plan)[:2] == ("dispatch", "clerks")
    # Dispatched to the ward, on time: no longer open; counted for the drafter's line; the
    # ward's registration is now awaited.
    ok(login("sclerk").post(f"/documents/{plan}/dispatch",
                            json={"recipients": ["PBN"], "external": []}))
    assert open_row(api, plan) is None
    sent = (0, 0, 0, 0, 0, 1, 0)
    assert flows(api, ids["STTTT"]) == {(0, nil, nil): sent, (1, ids["STTTT.VP"], nil): sent,
                                        (2, ids["STTTT.VP"], ids["drafter"]): sent}

    # The ward's copy arrives (the dispatch process delivers it): the clerks must register
    # it by its registration deadline, which the sender's side now shows too.
    def arrived() -> dict[str, Any] | None:
        found = rows(api, "SELECT * FROM docmgmt.oversight_open WHERE agency_id = %s",
                     ids["PBN"])
        return found[0] if found else None
    copy = wait_until(arrived, what="the ward's copy")
    at_pbn = str(copy["document_id"])
    assert (copy["direction"], copy["step"], copy["holder_kind"], copy["label"],
            copy["summary"]) == ("incoming", "registration", "clerks", "01/KH-STTTT",
                                 "Kế hoạch chuyển đổi số")
    assert copy["due"] is not None
    [waiting] = wait_until(lambda: [r for r in rows(
        api, "SELECT * FROM docmgmt.oversight_unacknowledged") if r["due"] is not None])
    assert (str(waiting["document_id"]), str(waiting["recipient_agency_id"]),
            str(waiting["agency_id"]), str(waiting["person_id"]), waiting["due"]) == (
        plan, ids["PBN"], ids["STTTT"], ids["drafter"], copy["due"])
    assert flows(api, ids["PBN"]) == {(0, nil, nil): (1, 0, 0, 0, 0, 0, 0),
                                      (1, nil, nil): (1, 0, 0, 0, 0, 0, 0),
                                      (2, nil, nil): (1, 0, 0, 0, 0, 0, 0)}

    # Registered (arrival no. 01): the leaders must assign it, with no deadline in law; the
    # department hears of it, and waits no more.
    ok(login("wclerk").post(f"/incoming/{at_pbn}/register", json={}))
    assert waits(api, at_pbn)[:3] + waits(api, at_pbn)[5:] == ("assignment", "leaders", None,
                                                               None)
    assert open_row(api, at_pbn)["label"] == "01"  # type: ignore[index]
    wait_until(lambda: not rows(api, "SELECT 1 FROM docmgmt.oversight_unacknowledged"),
               what="the acknowledgement")

    # Assigned to Lan (Phòng VHXH) for a deadline: she holds it.
    deadline = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    ok(login("chair").post(f"/incoming/{at_pbn}/assign", json={
        "lead_user_id": ids["lan"], "deadline": deadline.isoformat()}))
    assert waits(api, at_pbn) == ("handling", "person", ids["lan"], ids["PBN.VHXH"],
                                  ids["lan"], deadline)
    # She asks for more time: the leaders hold it until they decide; they grant it.
    later = deadline + timedelta(days=3)
    ok(login("lan").post(f"/incoming/{at_pbn}/extension", json={
        "proposed_deadline": later.isoformat(), "reason": "Chờ ý kiến các phòng"}))
    assert waits(api, at_pbn)[:3] == ("extension", "leaders", None)
    assert open_row(api, at_pbn)["extension_pending"] is True  # type: ignore[index]
    ok(login("chair").post(f"/incoming/{at_pbn}/extension/decision", json={"granted": True}))
    assert waits(api, at_pbn) == ("handling", "person", ids["lan"], ids["PBN.VHXH"],
                                  ids["lan"], later)
    # She completes it on time: closed, counted on her line with its handling time.
    ok(login("lan").post(f"/incoming/{at_pbn}/complete", json={"result": "Đã triển khai"}))
    assert open_row(api, at_pbn) is None
    done = (0, 1, 0, 1, 1, 0, 0)
    assert flows(api, ids["PBN"]) == {
        (0, nil, nil): (1, 1, 0, 1, 1, 0, 0), (1, nil, nil): (1, 0, 0, 0, 0, 0, 0),
        (1, ids["PBN.VHXH"], nil): done, (2, nil, nil): (1, 0, 0, 0, 0, 0, 0),
        (2, ids["PBN.VHXH"], ids["lan"]): done}
    [seconds] = rows(api, "SELECT sum(handling_seconds) AS s FROM docmgmt.oversight_daily"
                          " WHERE agency_id = %s AND level = 2", ids["PBN"])
    assert seconds["s"] > 0
