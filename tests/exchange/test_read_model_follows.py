"""The read model follows every event of a document, so GET, ETag and If-Match agree.

Issue 12, item 9: under a soak, a dispatched or recalled document still showed "sealed"
and the version it had when sealed, so a recall sent with the ETag the API handed out got
409 stale_version for ever. Here one document goes from draft to recall and its copy from
arrival to the confirmed withdrawal; at every step the API must show the aggregate's own
status and version (as the event store has it), and a write with that ETag must succeed
while one with an older ETag is refused with nothing stored.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests.api import conftest as api_fixtures
from tests.api.conftest import Api, make_city, new_user
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

api = api_fixtures.api
api_settings = api_fixtures.api_settings


def stored_version(api: Api, aggregate_id: str) -> int:
    """The aggregate's version in the event store (its last event's version)."""
    with psycopg.connect(api.db.owner.conninfo()) as conn:
        row = conn.execute("SELECT max(originator_version) FROM docmgmt.docmgmt_events"
                           " WHERE originator_id = %s", (aggregate_id,)).fetchone()
    assert row is not None
    assert row[0] is not None
    return int(row[0])


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def shows_document(api: Api, client: httpx.Client, doc: str, status: str) -> str:
    """GET /documents/{doc} shows ``status`` and the stored version, the ETag carries it,
    and the list filtered by ``status`` finds it; returns the ETag."""
    version = stored_version(api, doc)
    r = client.get(f"/documents/{doc}")
    body = _ok(r)
    assert (body["status"], body["version"]) == (status, version), (
        f"the view shows {body['status']} v{body['version']}; the document is {status}"
        f" v{version}")
    assert r.headers["ETag"] == f'"{version}"'
    listed = _ok(client.get("/documents", params={"status": status, "limit": 200}))
    assert doc in [str(d["id"]) for d in listed["items"]]
    assert {str(d["id"]): d["version"] for d in listed["items"]}[doc] == version
    return r.headers["ETag"]


def shows_incoming(api: Api, client: httpx.Client, copy: str, status: str) -> str:
    """GET /incoming/{copy} (and the clerk's inbox) show ``status`` and the stored
    version; the ETag carries it; returns the ETag."""
    version = stored_version(api, copy)
    r = client.get(f"/incoming/{copy}")
    body = _ok(r)
    assert (body["status"], body["version"]) == (status, version)
    assert r.headers.get("ETag") == f'"{version}"'
    if status in ("received", "registered"):  # the clerk's queue lists these
        inbox = _ok(client.get("/inbox", params={"status": status}))["items"]
        assert {i["id"]: i["version"] for i in inbox}.get(copy) == version
    return r.headers["ETag"]


def older(etag: str) -> str:
    """An ETag of an earlier version of the same record."""
    return f'"{int(etag.strip(chr(34))) - 1}"'


def write(api: Api, client: httpx.Client, path: str, record: str, etag: str,
          body: dict[str, Any] | None = None) -> None:
    """POST with an older ETag: 409 stale_version and nothing stored; then with ``etag``:
    accepted."""
    before = stored_version(api, record)
    r = client.post(path, json=body or {}, headers={"If-Match": older(etag)})
    assert (r.status_code, r.json()["error"]) == (409, "stale_version"), r.text
    assert stored_version(api, record) == before
    _ok(client.post(path, json=body or {}, headers={"If-Match": etag}))
    assert stored_version(api, record) > before


def _recipient(client: httpx.Client, doc: str, code: str) -> dict[str, Any]:
    body = _ok(client.get(f"/documents/{doc}/recipients"))
    return next(r for r in body["recipients"] if r["code"] == code)


def test_a_document_shows_its_own_status_version_and_etag_up_to_recall(api: Api) -> None:
    ids = make_city(api)
    admin = api.client("root")
    clerk_b_name, _ = new_user(admin, ids["SOB"], ["clerk"], prefix="clerk_b")
    official, leader, clerk, clerk_b = (
        api.client(u) for u in ("official_a", "leader_a", "clerk_a", clerk_b_name))

    # An official drafts a document; it is a draft at version 1.
    doc = str(_ok(official.post("/documents", data={"summary": "Kế hoạch năm"}, files={
        "file": ("kh.pdf", make_pdf(1, text="Kế hoạch"), "application/pdf")}), 201)["id"])
    etag = shows_document(api, official, doc, "draft")

    # Submitted, approved, signed, numbered and sealed, each with the ETag just read.
    steps = [(official, "submit", {"text": "Kính trình"}, "submitted"),
             (leader, "approve", {"text": "Đồng ý"}, "approved"),
             (leader, "sign", {"principal_title": "Giám đốc"}, "signed"),
             (clerk, "number", {}, "numbered"),
             (clerk, "seal", {}, "sealed")]
    for client, step, body, status in steps:
        write(api, client, f"/documents/{doc}/{step}", doc, etag, body)
        etag = shows_document(api, clerk, doc, status)

    # The clerk dispatches it to agency B with the sealed version's ETag.
    write(api, clerk, f"/documents/{doc}/dispatch", doc, etag, {"recipients": ["SOB"]})
    shows_document(api, clerk, doc, "dispatched")

    # The dispatch process delivers B's copy: the document moves on, and shows it.
    copy = str(wait_until(lambda: _recipient(clerk, doc, "SOB")["incoming_id"],
                          what="the delivery"))
    wait_until(lambda: _ok(clerk.get(f"/documents/{doc}"))["version"]
               == stored_version(api, doc), what="the view to follow the delivery")
    shows_document(api, clerk, doc, "dispatched")

    # B's clerk registers the copy with the ETag of the copy just read.
    copy_etag = shows_incoming(api, clerk_b, copy, "received")
    write(api, clerk_b, f"/incoming/{copy}/register", copy, copy_etag)
    copy_etag = shows_incoming(api, clerk_b, copy, "registered")

    # The acknowledgement reaches the sender's document, which shows its new version.
    wait_until(lambda: _recipient(clerk, doc, "SOB")["state"] == "registered",
               what="the acknowledgement")
    wait_until(lambda: _ok(clerk.get(f"/documents/{doc}"))["version"]
               == stored_version(api, doc), what="the view to follow the acknowledgement")
    etag = shows_document(api, clerk, doc, "dispatched")

    # A replacement is drafted and linked to the issued document.
    new = str(_ok(official.post("/documents", data={"summary": "Kế hoạch thay thế"}, files={
        "file": ("kh2.pdf", make_pdf(1, text="Thay thế"), "application/pdf")}), 201)["id"])
    new_etag = shows_document(api, official, new, "draft")
    write(api, official, f"/documents/{new}/links", new, new_etag,
          {"relation": "replaces", "target_id": doc})
    new_etag = shows_document(api, official, new, "draft")
    write(api, official, f"/documents/{new}/submit", new, new_etag, {"text": "Kính trình"})
    shows_document(api, official, new, "submitted")

    # The clerk recalls the document with the ETag the API handed out.
    write(api, clerk, f"/documents/{doc}/recall", doc, etag, {"reason": "Sai nội dung"})
    shows_document(api, clerk, doc, "recalled")

    # B's copy is withdrawn; B's clerk confirms with the copy's ETag.
    wait_until(lambda: _ok(clerk_b.get(f"/incoming/{copy}"))["withdrawn"],
               what="the withdrawal")
    copy_etag = shows_incoming(api, clerk_b, copy, "withdrawn")
    write(api, clerk_b, f"/incoming/{copy}/confirm-withdrawal", copy, copy_etag)
    shows_incoming(api, clerk_b, copy, "withdrawn")

    # The confirmation reaches the sender: still recalled, at its own version.
    wait_until(lambda: _recipient(clerk, doc, "SOB")["state"] == "recall_confirmed",
               what="the recall confirmation")
    wait_until(lambda: _ok(clerk.get(f"/documents/{doc}"))["version"]
               == stored_version(api, doc), what="the view to follow the confirmation")
    shows_document(api, clerk, doc, "recalled")


def test_an_agency_shows_its_own_version_after_its_calendar_is_set(api: Api) -> None:
    ids = make_city(api)
    admin = api.client("root")

    def agency_etag() -> str:
        agency = next(a for a in _ok(admin.get("/agencies")) if a["code"] == "SOB")
        assert agency["version"] == stored_version(api, ids["SOB"])
        return f'"{agency["version"]}"'

    # The admin sets B's calendar with the version read from the list of agencies...
    r = admin.put(f"/agencies/{ids['SOB']}/calendar", json={"extra_days_off": ["2026-12-24"]},
                  headers={"If-Match": agency_etag()})
    _ok(r)
    # ...and adds a unit with the version read again.
    etag = agency_etag()
    r = admin.post(f"/agencies/{ids['SOB']}/units", json={"code": "VP", "name": "Văn phòng"},
                   headers={"If-Match": older(etag)})
    assert (r.status_code, r.json()["error"]) == (409, "stale_version")
    _ok(admin.post(f"/agencies/{ids['SOB']}/units", json={"code": "VP", "name": "Văn phòng"},
                   headers={"If-Match": etag}), 201)
    agency_etag()
