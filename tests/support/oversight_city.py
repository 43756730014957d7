"""An oversight city made through the API and the real steps, for the oversight page and
browser tests: the city TP with its department SNV (units VP, TCCB) and its ward PHA; the
ward sends the department three documents, which it registers and assigns: one overdue
within the hour (to the official of VP), one due tomorrow (the same official), one due in
ten days (to the unit TCCB)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.api.conftest import PASSWORD, Api
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until

VN = timezone(timedelta(hours=7))
LATE = "Báo cáo tình hình giải ngân vốn đầu tư công"
SOON = "Kế hoạch tổ chức hội nghị tổng kết năm"
CALM = "Đề xuất biên chế năm 2027"


def ok(r: httpx.Response, status: int = 200) -> Any:
    """The JSON of an answer that has the expected status."""
    assert r.status_code == status, r.text
    return r.json()


def issue(c: dict[str, httpx.Client], summary: str, to: str) -> str:
    """The ward drafts, approves, signs, numbers, seals and dispatches a document to ``to``;
    the recipient's incoming id."""
    doc = str(ok(c["official_pha"].post(
        "/documents", data={"summary": summary, "doc_type": "BC"},
        files={"file": ("d.pdf", make_pdf(1, text=summary), "application/pdf")}), 201)["id"])
    ok(c["official_pha"].post(f"/documents/{doc}/submit", json={"text": "Kính trình"}))
    ok(c["leader_pha"].post(f"/documents/{doc}/approve", json={"text": "Đồng ý"}))
    ok(c["leader_pha"].post(f"/documents/{doc}/sign", json={"principal_title": "Chủ tịch"}))
    ok(c["clerk_pha"].post(f"/documents/{doc}/number", json={}))
    ok(c["clerk_pha"].post(f"/documents/{doc}/seal", json={}))
    ok(c["clerk_pha"].post(f"/documents/{doc}/dispatch", json={"recipients": [to]}))

    def delivered() -> str | None:
        body = ok(c["clerk_pha"].get(f"/documents/{doc}/recipients"))
        return next((r["incoming_id"] for r in body["recipients"] if r["code"] == to), None)
    return str(wait_until(delivered, what=f"delivery of {summary!r}"))


def build_city(shared_api: Api, documents: tuple[str, ...] = ("late", "soon", "calm"),
               ) -> dict[str, Any]:
    """The city of this module's docstring, made by the admin 'root' and its people; their
    ids by code and user name, and the incoming ids as "late", "soon", "calm" (those of
    ``documents`` only: a test that needs fewer saves the time)."""
    admin = shared_api.client("root")
    ids: dict[str, Any] = {}
    ids["TP"] = ok(admin.post("/agencies", json={"code": "TP", "name": "UBND Thành phố"}),
                    201)["id"]
    for code, name in [("SNV", "Sở Nội vụ"), ("PHA", "UBND Phường An")]:
        ids[code] = ok(admin.post("/agencies", json={"code": code, "name": name,
                                                      "parent_id": ids["TP"]}), 201)["id"]
    for code, name in [("VP", "Văn phòng Sở"), ("TCCB", "Phòng Tổ chức cán bộ")]:
        ok(admin.post(f"/agencies/{ids['SNV']}/units", json={"code": code, "name": name}),
            201)
    ids |= {u["code"]: u["id"] for a in ok(admin.get("/agencies")) if a["code"] == "SNV"
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
        ids[username] = ok(admin.post("/users", json={
            "username": username, "full_name": name, "password": PASSWORD, "roles": roles,
            "agency_id": ids[agency], "unit_id": ids[unit] if unit else None}), 201)["id"]
    c = {u: shared_api.client(u) for u in ("official_pha", "leader_pha", "clerk_pha",
                                            "giam_doc", "van_thu_snv")}
    # The first is due in three seconds: issuing the other two takes longer than that.
    for key, summary, lead, due in [
            ("late", LATE, {"lead_user_id": ids["chuyen_vien"]}, timedelta(seconds=3)),
            ("soon", SOON, {"lead_user_id": ids["chuyen_vien"]}, timedelta(days=1)),
            ("calm", CALM, {"lead_unit_id": ids["TCCB"]}, timedelta(days=10))]:
        if key not in documents:
            continue
        ids[key] = issue(c, summary, "SNV")
        ok(c["van_thu_snv"].post(f"/incoming/{ids[key]}/register", json={}))
        ids[f"{key}_due"] = datetime.now(VN) + due
        ok(c["giam_doc"].post(f"/incoming/{ids[key]}/assign",
                               json=lead | {"deadline": ids[f"{key}_due"].isoformat()}))
    wait_until(lambda: datetime.now(VN) > ids["late_due"], what="the first deadline")
    for client in [admin, *c.values()]:
        client.close()
    return ids
