"""Issue 4's scenario over HTTP: a city department sends to two wards.

One ward registers, the other returns; the copy kept is assigned, worked on and completed;
the department recalls it and the ward confirms. Registers, dashboard and search are then
checked against a count made by hand from the steps below.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.api import conftest as api_fixtures
from tests.api.conftest import PASSWORD, Api
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

VN = timezone(timedelta(hours=7))
api = api_fixtures.api
api_settings = api_fixtures.api_settings


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _setup(api: Api) -> dict[str, Any]:
    """The department (VP, CNTT) and two wards, each with a leader, a clerk and officials."""
    admin = api.client("root")
    ids: dict[str, Any] = {}
    offices = {"STTTT": ("Sở Thông tin và Truyền thông", ["VP"]),
               "PBN": ("Ủy ban nhân dân phường Bến Nghé", ["VHXH", "KT"]),
               "PDK": ("Ủy ban nhân dân phường Đa Kao", ["VHXH"])}
    for code, (name, units) in offices.items():
        ids[code] = _ok(admin.post("/agencies", json={"code": code, "name": name}), 201)["id"]
        for unit in units:
            _ok(admin.post(f"/agencies/{ids[code]}/units",
                           json={"code": unit, "name": f"Phòng {unit}"}), 201)
    for agency in _ok(admin.get("/agencies")):
        for unit in agency["units"]:
            ids[f"{agency['code']}.{unit['code']}"] = unit["id"]
    people = {"sttttofficial": ("STTTT", "STTTT.VP", ["official"]),
              "sttttleader": ("STTTT", None, ["leader"]),
              "sttttclerk": ("STTTT", None, ["clerk"]),
              "pbnleader": ("PBN", None, ["leader"]), "pbnclerk": ("PBN", None, ["clerk"]),
              "pbnvhxh": ("PBN", "PBN.VHXH", ["official"]),
              "pbnkt": ("PBN", "PBN.KT", ["official"]), "pdkclerk": ("PDK", None, ["clerk"])}
    for username, (agency, unit, roles) in people.items():
        ids[username] = _ok(admin.post("/users", json={
            "username": username, "full_name": username, "password": PASSWORD, "roles": roles,
            "agency_id": ids[agency], "unit_id": ids[unit] if unit else None}), 201)["id"]
    return ids


def _issued(api: Api, clients: dict[str, httpx.Client], summary: str,
            recipients: list[str], external: list[str] | None = None) -> str:
    """Drafted, approved, signed, numbered, sealed and dispatched by the department."""
    official, leader, clerk = (clients[u] for u in ("sttttofficial", "sttttleader",
                                                    "sttttclerk"))
    doc = _ok(official.post("/documents", data={"summary": summary, "doc_type": "KH"},
                            files={"file": ("kh.pdf", make_pdf(1, text=summary),
                                            "application/pdf")}), 201)["id"]
    _ok(official.post(f"/documents/{doc}/submit", json={"text": "Kính trình"}))
    _ok(leader.post(f"/documents/{doc}/approve", json={"text": "Đồng ý"}))
    _ok(leader.post(f"/documents/{doc}/sign", json={"principal_title": "Giám đốc"}))
    _ok(clerk.post(f"/documents/{doc}/number", json={}))
    _ok(clerk.post(f"/documents/{doc}/seal", json={}))
    _ok(clerk.post(f"/documents/{doc}/dispatch",
                   json={"recipients": recipients, "external": external or []}))
    return str(doc)


def _recipients(client: httpx.Client, doc: str) -> dict[str, dict[str, Any]]:
    body = _ok(client.get(f"/documents/{doc}/recipients"))
    return {r["code"]: r for r in body["recipients"]}


def _delivered(client: httpx.Client, doc: str, code: str) -> str:
    """Wait for the dispatch process to deliver ``code``'s copy; its incoming id."""
    return str(wait_until(lambda: _recipients(client, doc)[code]["incoming_id"]))


def test_department_sends_to_two_wards(api: Api) -> None:
    ids = _setup(api)
    c = {u: api.client(u) for u in ("sttttofficial", "sttttleader", "sttttclerk", "pbnleader",
                                     "pbnclerk", "pbnvhxh", "pbnkt", "pdkclerk")}
    year = datetime.now(VN).year

    # The department issues a plan to both wards and to a newspaper outside the system.
    plan = _issued(api, c, "Kế hoạch chuyển đổi số năm 2027", ["PBN", "PDK"],
                   ["Báo Sài Gòn Giải Phóng"])
    at_pbn, at_pdk = (_delivered(c["sttttclerk"], plan, w) for w in ("PBN", "PDK"))

    # Each ward's clerk finds it in the inbox, checked on arrival, due for registration.
    inbox = _ok(c["pbnclerk"].get("/inbox"))["items"]
    assert [(i["id"], i["status"], i["authentic"]) for i in inbox] == [
        (at_pbn, "received", True)]
    assert inbox[0]["deadline_status"] in {"on_time", "due_soon"}
    assert inbox[0]["due_at"].endswith("+07:00")  # times are shown in Vietnam time
    copy = _ok(c["pdkclerk"].get(f"/incoming/{at_pdk}"))
    assert copy["number_label"] == "01/KH-STTTT"
    assert copy["sender"]["code"] == "STTTT"

    # Bến Nghé registers it (arrival no. 01); Đa Kao returns it with a reason.
    _ok(c["pbnclerk"].post(f"/incoming/{at_pbn}/register", json={}))
    _ok(c["pdkclerk"].post(f"/incoming/{at_pdk}/return",
                           json={"reason": "Không thuộc thẩm quyền của phường"}))
    # An official cannot register, and another agency's clerk cannot see the copy.
    assert c["pbnvhxh"].post(f"/incoming/{at_pbn}/register", json={}).status_code == 403
    assert c["pdkclerk"].get(f"/incoming/{at_pbn}").status_code == 404

    # The department sees the acknowledgement and the return on its outgoing document.
    def answered() -> dict[str, dict[str, Any]] | None:
        r = _recipients(c["sttttclerk"], plan)
        return r if (r["PBN"]["state"], r["PDK"]["state"]) == ("registered",
                                                                "returned") else None
    states = wait_until(answered)
    assert states["PBN"]["arrival_label"] == "01"
    assert states["PDK"]["reason"] == "Không thuộc thẩm quyền của phường"

    # The ward's leader assigns it: Văn hóa - Xã hội leads, Kinh tế supports, 5 working days.
    _ok(c["pbnleader"].post(f"/incoming/{at_pbn}/assign", json={
        "lead_unit_id": ids["PBN.VHXH"], "supporting_unit_ids": [ids["PBN.KT"]],
        "instructions": "Tham mưu triển khai", "working_days": 5}))
    unit_inbox = _ok(c["pbnvhxh"].get("/inbox", params={"scope": "unit"}))["items"]
    assert [i["id"] for i in unit_inbox] == [at_pbn]
    assert unit_inbox[0]["deadline_status"] == "on_time"
    # Kinh tế reports progress; only the lead unit completes.
    _ok(c["pbnkt"].post(f"/incoming/{at_pbn}/progress", json={"note": "Đã góp ý"}))
    r = c["pbnkt"].post(f"/incoming/{at_pbn}/complete", json={"result": "x"})
    assert (r.status_code, r.json()["error"]) == (403, "permission_denied")
    _ok(c["pbnvhxh"].post(f"/incoming/{at_pbn}/complete",
                          json={"result": "Đã xây dựng kế hoạch của phường"}))

    # Two more documents to the same ward: one due within hours, one overdue.
    notice = _issued(api, c, "Thông báo lịch tiếp công dân", ["PBN"])
    decision = _issued(api, c, "Quyết định về việc thành lập tổ công tác", ["PBN"])
    at_pbn2, at_pbn3 = (_delivered(c["sttttclerk"], d, "PBN") for d in (notice, decision))
    for incoming in (at_pbn2, at_pbn3):
        _ok(c["pbnclerk"].post(f"/incoming/{incoming}/register", json={}))
    now = datetime.now(VN)
    _ok(c["pbnleader"].post(f"/incoming/{at_pbn2}/assign", json={
        "lead_unit_id": ids["PBN.KT"], "deadline": (now + timedelta(hours=6)).isoformat()}))
    _ok(c["pbnleader"].post(f"/incoming/{at_pbn3}/assign", json={
        "lead_unit_id": ids["PBN.KT"], "deadline": (now + timedelta(seconds=2)).isoformat()}))
    time.sleep(2.5)  # the decision's deadline passes: nothing is written, it is derived

    # The dashboard, counted by hand: VHXH 1 completed on time; KT 1 due soon, 1 overdue.
    period = {"from": f"{year}-01-01", "to": f"{year}-12-31"}
    units = {u["unit_code"]: u for u in _ok(c["pbnleader"].get("/dashboard",
                                                                params=period))["units"]}
    assert units["VHXH"]["total_assigned"] == 1
    assert units["VHXH"]["completed_on_time"] == 1
    assert units["VHXH"]["avg_handling_hours"] is not None
    assert (units["KT"]["total_assigned"], units["KT"]["open_due_soon"],
            units["KT"]["open_overdue"], units["KT"]["completed_on_time"]) == (2, 1, 1, 0)

    # The incoming register: arrival numbers 01-03 in order, every field, CSV and PDF.
    book = _ok(c["pbnclerk"].get("/registers/incoming", params={"year": year}))["rows"]
    assert [(r["arrival_number"], r["number_label"]) for r in book] == [
        (1, "01/KH-STTTT"), (2, "02/KH-STTTT"), (3, "03/KH-STTTT")]
    text = c["pbnclerk"].get("/registers/incoming", params={"year": year, "format": "csv"})
    rows = list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Số đến / Arrival no."
    assert [r[0] for r in rows[1:]] == ["01", "02", "03"]
    pdf = c["pbnclerk"].get("/registers/incoming", params={"year": year, "format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    # The department's outgoing register names every recipient of the plan.
    out_book = _ok(c["sttttclerk"].get("/registers/outgoing", params={"year": year}))["rows"]
    assert [r["number_label"] for r in out_book] == ["01/KH-STTTT", "02/KH-STTTT",
                                                      "03/KH-STTTT"]
    assert "Báo Sài Gòn Giải Phóng" in str(out_book[0]["recipient_names"])
    # Officials do not read registers.
    assert c["pbnvhxh"].get("/registers/incoming").status_code == 403

    # Search ignores diacritics.
    found = _ok(c["pbnleader"].get("/search", params={"q": "ke hoach chuyen doi so"}))
    assert [f["id"] for f in found] == [at_pbn]
    found = _ok(c["pbnleader"].get("/search", params={"q": "QUYET DINH to cong tac"}))
    assert [f["id"] for f in found] == [at_pbn3]

    # The department recalls the plan: Bến Nghé's copy is withdrawn and no longer served.
    assert c["pbnvhxh"].get(f"/incoming/{at_pbn}/file").status_code == 200
    _ok(c["sttttclerk"].post(f"/documents/{plan}/recall",
                             json={"reason": "Điều chỉnh nội dung kế hoạch"}))
    wait_until(lambda: _ok(c["pbnclerk"].get(f"/incoming/{at_pbn}"))["withdrawn"])
    r = c["pbnvhxh"].get(f"/incoming/{at_pbn}/file")
    assert (r.status_code, r.json()["error"]) == (410, "document_withdrawn")
    _ok(c["pbnclerk"].post(f"/incoming/{at_pbn}/confirm-withdrawal", json={}))
    states = wait_until(lambda: (lambda r: r if r["PBN"]["state"] == "recall_confirmed"
                                 else None)(_recipients(c["sttttclerk"], plan)))
    assert states["PDK"]["state"] == "returned"  # the returned copy stays returned
    # Its history stays; the dashboard no longer counts the withdrawn copy.
    kinds = [h["type"].rsplit(".", 1)[-1] for h in
             _ok(c["pbnclerk"].get(f"/incoming/{at_pbn}/history"))]
    assert kinds[:2] == ["Arrived", "Registered"]
    assert kinds[-2:] == ["Withdrawn", "WithdrawalConfirmed"]
    units = {u["unit_code"]: u for u in _ok(c["pbnleader"].get("/dashboard",
                                                                params=period))["units"]}
    assert units.get("VHXH", {"total_assigned": 0})["total_assigned"] == 0
    assert units["KT"]["total_assigned"] == 2

    # An auditor with a mandate for Bến Nghé reads the copy's whole trail, downloads too.
    admin = api.client("root")
    auditor_id = _ok(admin.post("/users", json={
        "username": "thanhtra", "full_name": "Thanh tra viên", "password": PASSWORD,
        "roles": ["auditor"], "agency_id": ids["STTTT"]}), 201)["id"]
    _ok(admin.post(f"/users/{auditor_id}/audit-mandates", json={
        "agency_id": ids["PBN"], "legal_basis": "Quyết định thanh tra số 12/QĐ-TTr"}), 201)
    auditor = api.client("thanhtra")
    trail = _ok(auditor.get(f"/audit/documents/{at_pbn}/trail"))["items"]
    types = [i["type"].rsplit(".", 1)[-1] for i in trail]
    assert {"Arrived", "Registered", "Assigned", "ProgressRecorded", "Completed", "Withdrawn",
            "WithdrawalConfirmed", "Viewed"} <= set(types)
    found = _ok(auditor.get("/audit/events", params={
        "agency_id": ids["PBN"], "type": "IncomingDocument.Registered", "limit": 100}))
    assert {i["document_id"] for i in found["items"]} == {at_pbn, at_pbn2, at_pbn3}
    # Đa Kao is outside the mandate: its copy is not found.
    assert auditor.get(f"/audit/documents/{at_pdk}/trail").status_code == 404
