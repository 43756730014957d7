"""Outgoing documents over HTTP: drafts, revisions, comments, downloads, history, listing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, Logins, new_user
from tests.api.support import assert_error, draft, drafted, sha256, stored
from tests.support.pdfs import make_pdf

UA = "docmgmt-tests/1.0 (van-thu)"


@pytest.fixture(scope="module")
def auditor_a(shared_api: Api, login: Logins, shared_city: dict[str, Any]) -> httpx.Client:
    """An auditor of agency SOA, logged in."""
    username, _ = new_user(login("root"), shared_city["SOA"], ["auditor"], prefix="auditor")
    return login(username)


def _history(client: httpx.Client, doc_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/documents/{doc_id}/history")
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()
    return entries


def _revise(client: httpx.Client, doc_id: str, pdf: bytes, *, if_match: str | None = None,
            expected_version: int | None = None, note: str = "") -> httpx.Response:
    data: dict[str, Any] = {"note": note}
    if expected_version is not None:
        data["expected_version"] = str(expected_version)
    headers = {"If-Match": if_match} if if_match is not None else {}
    return client.post(f"/documents/{doc_id}/revisions", data=data, headers=headers,
                       files={"file": ("ban-sua.pdf", pdf, "application/pdf")})


def test_official_drafts_downloads_and_reads_the_history(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    official = login("official_a")
    # The official uploads a three-page PDF as an urgent, confidential decision.
    pdf = make_pdf(3, text="quyet-dinh")
    r = official.post(
        "/documents",
        data={"summary": "  Quyết định về việc khen thưởng  ", "doc_type": "QĐ",
              "urgency": "urgent", "confidentiality": "confidential",
              "legal_normative": "true"},
        files={"file": ("C:\\fakepath\\..\\quyet-dinh.pdf", pdf, "application/pdf")},
        headers={"User-Agent": UA, "X-Request-ID": "req-draft-1"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["X-Request-ID"] == "req-draft-1"
    doc_id = r.json()["id"]
    assert r.json()["version"] == 1
    # It reads back at once, with its version as the ETag.
    r = official.get(f"/documents/{doc_id}")
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"1"'
    doc = r.json()
    assert doc["id"] == doc_id
    assert doc["agency_id"] == shared_city["SOA"]
    assert doc["drafted_by"] == shared_city["official_a"]
    assert (doc["summary"], doc["doc_type"], doc["urgency"], doc["confidentiality"]) == (
        "Quyết định về việc khen thưởng", "QĐ", "urgent", "confidential")
    assert doc["legal_normative"] is True
    assert doc["status"] == "draft"
    assert (doc["revision_count"], doc["current_page_count"], doc["current_size"]) == (
        1, 3, len(pdf))
    assert doc["current_sha256"] == sha256(pdf)
    assert doc["current_file_name"] == "quyet-dinh.pdf"
    assert [(v["revision"], v["sha256"], v["page_count"]) for v in doc["revisions"]] == [
        (1, sha256(pdf), 3)]
    # The download returns exactly the uploaded bytes and says so in its headers.
    r = official.get(f"/documents/{doc_id}/file", headers={"User-Agent": UA})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert sha256(r.content) == sha256(pdf)
    assert r.headers["X-Content-SHA256"] == sha256(pdf)
    assert r.headers["X-Revision"] == "1"
    assert int(r.headers["Content-Length"]) == len(pdf)
    assert r.headers["Content-Disposition"] == 'attachment; filename="quyet-dinh.pdf"'
    # The download is on record: the history shows who drafted and who downloaded, from where.
    history = _history(official, doc_id)
    assert [(e["version"], e["type"]) for e in history] == [
        (1, "OutgoingDocument.Drafted"), (2, "AccessLog.Viewed")]
    drafted_event, viewed = history
    assert drafted_event["actor"] == {
        "user_id": shared_city["official_a"], "username": "official_a",
        "client_ip": "127.0.0.1", "user_agent": UA, "request_id": "req-draft-1"}
    assert drafted_event["payload"]["summary"] == "Quyết định về việc khen thưởng"
    assert drafted_event["payload"]["agency_id"] == shared_city["SOA"]
    assert drafted_event["payload"]["file"]["sha256"] == sha256(pdf)
    assert drafted_event["payload"]["file"]["size"] == len(pdf)
    assert viewed["actor"]["username"] == "official_a"
    assert viewed["actor"]["client_ip"] == "127.0.0.1"
    assert viewed["actor"]["user_agent"] == UA
    # Downloading "the latest file" records the document's status at that moment.
    assert viewed["payload"] == {"document_id": doc_id, "revision": 1,
                                 "purpose": "download:draft", "sha256": sha256(pdf)}
    times = [datetime.fromisoformat(e["time"]) for e in history]
    assert all(t.tzinfo is not None for t in times)
    assert times == sorted(times)
    # Reading the history records nothing; a view never moves the document's version, so
    # a reader's ETag stays good for a later edit.
    assert len(_history(official, doc_id)) == 2
    r = official.get(f"/documents/{doc_id}")
    assert r.headers["ETag"] == '"1"'
    assert r.json()["view_count"] == 1


def test_revisions_replace_the_current_file_and_stale_ones_store_nothing(
    shared_api: Api, login: Logins
) -> None:
    official, leader = login("official_a"), login("leader_a")
    v1, v2, v3 = (make_pdf(n, text=f"rev-{n}-{uuid.uuid4()}") for n in (1, 2, 3))
    doc_id = drafted(official, v1)
    # The leader uploads revision 2 against version 1 (If-Match), with a note.
    r = _revise(leader, doc_id, v2, if_match='"1"', note="sửa căn cứ")
    assert r.status_code == 201, r.text
    assert r.json() == {"id": doc_id, "version": 2}
    # The official uploads revision 3 quoting version 2 in the form instead.
    r = _revise(official, doc_id, v3, expected_version=2)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 3
    # A revision based on version 1 or 2 is now refused, and nothing of it is kept.
    before = stored(shared_api)
    late = make_pdf(1, text="too-late-" + uuid.uuid4().hex)
    assert_error(_revise(leader, doc_id, late, if_match='"1"'), 409, "stale_version")
    assert_error(_revise(leader, doc_id, late, if_match='W/"2"'), 409, "stale_version")
    assert_error(_revise(leader, doc_id, late, expected_version=2), 409, "stale_version")
    assert_error(_revise(leader, doc_id, late, if_match='"3"', expected_version=2), 422,
                 "invalid_input")
    assert stored(shared_api) == before
    # The document shows three revisions, the third current.
    doc = official.get(f"/documents/{doc_id}").json()
    assert doc["version"] == 3
    assert doc["revision_count"] == 3
    assert doc["current_sha256"] == sha256(v3)
    assert doc["current_page_count"] == 3
    assert [(v["revision"], v["sha256"], v["note"]) for v in doc["revisions"]] == [
        (1, sha256(v1), ""), (2, sha256(v2), "sửa căn cứ"), (3, sha256(v3), "")]
    # Every revision downloads as its own bytes; the current file is revision 3.
    for number, pdf in [(1, v1), (2, v2), (3, v3)]:
        r = official.get(f"/documents/{doc_id}/revisions/{number}/file")
        assert r.status_code == 200, r.text
        assert sha256(r.content) == sha256(pdf)
        assert r.headers["X-Content-SHA256"] == sha256(pdf)
        assert r.headers["X-Revision"] == str(number)
    r = official.get(f"/documents/{doc_id}/file")
    assert sha256(r.content) == sha256(v3)
    assert r.headers["X-Revision"] == "3"
    # A revision that does not exist is a 404 and records no view.
    before = stored(shared_api)
    for number in (4, 0, -1):
        assert_error(official.get(f"/documents/{doc_id}/revisions/{number}/file"), 404,
                     "revision_not_found")
    assert_error(official.get(f"/documents/{doc_id}/revisions/two/file"), 422,
                 "invalid_request")
    assert stored(shared_api) == before
    # The history tells the whole story, oldest first.
    history = _history(official, doc_id)
    assert [(e["type"].split(".")[1], e["payload"].get("revision"),
             e["payload"].get("purpose")) for e in history] == [
        ("Drafted", None, None), ("RevisionUploaded", 2, None), ("RevisionUploaded", 3, None),
        ("Viewed", 1, "download"), ("Viewed", 2, "download"), ("Viewed", 3, "download"),
        ("Viewed", 3, "download:draft")]
    # Versions count within each stream: the document's, and its access log's (which opens
    # at version 1 with the first view's event as version 2).
    assert [(e["stream"], e["version"]) for e in history] == [
        ("document", 1), ("document", 2), ("document", 3), ("access_log", 2),
        ("access_log", 3), ("access_log", 4), ("access_log", 5)]
    assert history[1]["actor"]["username"] == "leader_a"
    assert history[1]["payload"]["note"] == "sửa căn cứ"
    assert history[1]["payload"]["file"]["sha256"] == sha256(v2)


def test_comments_follow_the_version_the_commenter_read(
    shared_api: Api, login: Logins
) -> None:
    official, clerk = login("official_a"), login("clerk_a")
    doc_id = drafted(official)
    # The clerk comments on version 1; the official on version 2 (quoted in the body).
    r = clerk.post(f"/documents/{doc_id}/comments", json={"text": "Đề nghị bổ sung căn cứ"},
                   headers={"If-Match": '"1"'})
    assert r.status_code == 201, r.text
    assert r.json() == {"id": doc_id, "version": 2}
    r = official.post(f"/documents/{doc_id}/comments",
                      json={"text": "Đã bổ sung", "expected_version": 2})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 3
    # A comment written against version 2 is refused, and no event is added.
    before = stored(shared_api)
    r = clerk.post(f"/documents/{doc_id}/comments", json={"text": "Muộn"},
                   headers={"If-Match": '"2"'})
    body = assert_error(r, 409, "stale_version")
    assert "version 3" in body["detail"]
    assert_error(clerk.post(f"/documents/{doc_id}/comments",
                            json={"text": "Muộn", "expected_version": 1}), 409, "stale_version")
    # Empty or oversized comments are refused.
    assert_error(clerk.post(f"/documents/{doc_id}/comments", json={"text": "   "}), 422,
                 "invalid_input")
    assert_error(clerk.post(f"/documents/{doc_id}/comments", json={"text": "x" * 4001}), 422,
                 "invalid_input")
    assert_error(clerk.post(f"/documents/{doc_id}/comments", json={}), 422, "invalid_request")
    assert stored(shared_api) == before
    # Two comments are counted and told in the history, on revision 1.
    doc = official.get(f"/documents/{doc_id}").json()
    assert (doc["comment_count"], doc["version"]) == (2, 3)
    comments = [e for e in _history(clerk, doc_id) if e["type"] == "OutgoingDocument.Commented"]
    assert [(c["actor"]["username"], c["payload"]) for c in comments] == [
        ("clerk_a", {"revision": 1, "text": "Đề nghị bổ sung căn cứ"}),
        ("official_a", {"revision": 1, "text": "Đã bổ sung"})]


def test_the_list_pages_through_the_agencys_documents_most_recent_first(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    # A new agency with one official, so the totals are this test's own.
    admin = login("root")
    r = admin.post("/agencies", json={"code": "PG" + uuid.uuid4().hex[:6], "name": "Sở Phân"})
    username, _ = new_user(admin, r.json()["id"], ["official"])
    official = shared_api.client(username)
    # The official drafts five documents, one after another.
    ids = [drafted(official, summary=f"Văn bản {n}") for n in range(1, 6)]

    def page(**params: Any) -> dict[str, Any]:
        r = official.get("/documents", params=params)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    # Pages of two come newest first, with the total and the paging echoed.
    first = page(limit=2)
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    assert [d["id"] for d in first["items"]] == [ids[4], ids[3]]
    assert [d["id"] for d in page(limit=2, offset=2)["items"]] == [ids[2], ids[1]]
    assert [d["id"] for d in page(limit=2, offset=4)["items"]] == [ids[0]]
    assert page(limit=2, offset=6) == {"items": [], "total": 5, "limit": 2, "offset": 6,
                                           "next_cursor": None}
    assert page()["limit"] == 50
    assert first["items"][0]["summary"] == "Văn bản 5"
    # A comment moves the oldest to the top; a download does not move anything.
    r = official.post(f"/documents/{ids[0]}/comments", json={"text": "Lên đầu"})
    assert r.status_code == 201, r.text
    assert official.get(f"/documents/{ids[1]}/file").status_code == 200
    assert [d["id"] for d in page(limit=5)["items"]] == [ids[0], ids[4], ids[3], ids[2], ids[1]]
    # Filtering by status: one document goes up for approval.
    assert page(status="submitted") == {"items": [], "total": 0, "limit": 50, "offset": 0,
                                        "next_cursor": None}
    r = official.post(f"/documents/{ids[2]}/submit", json={"text": "Kính trình"})
    assert r.status_code == 200, r.text
    assert [d["id"] for d in page(status="submitted")["items"]] == [ids[2]]
    drafts = page(status="draft")
    assert drafts["total"] == 4
    assert ids[2] not in {d["id"] for d in drafts["items"]}
    # Out-of-range paging is refused.
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "many"}):
        assert_error(official.get("/documents", params=params), 422, "invalid_request")
    # Other agencies never see these documents in their lists.
    for other in ("official_a", "official_b"):
        listed = {d["id"] for d in login(other).get("/documents", params={"limit": 200})
                  .json()["items"]}
        assert listed.isdisjoint(ids)


def test_another_agency_is_told_the_document_does_not_exist(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    official_a, official_b = login("official_a"), login("official_b")
    doc_id = drafted(official_a)
    before = stored(shared_api)
    # Every route answers 404 for agency A's document, exactly as for a made-up id.
    for target in (doc_id, str(uuid.uuid4()), shared_city["official_a"], shared_city["SOA"]):
        requests = [
            official_b.get(f"/documents/{target}"),
            official_b.get(f"/documents/{target}/history"),
            official_b.get(f"/documents/{target}/file"),
            official_b.get(f"/documents/{target}/revisions/1/file"),
            official_b.post(f"/documents/{target}/comments", json={"text": "Xin xem"}),
            _revise(official_b, target, make_pdf(1, text=uuid.uuid4().hex)),
        ]
        for r in requests:
            assert_error(r, 404, "document_not_found")
    # Nothing was recorded or stored by any of those attempts.
    assert stored(shared_api) == before
    listed = official_b.get("/documents", params={"limit": 200}).json()["items"]
    assert doc_id not in {d["id"] for d in listed}
    # Agency A still sees its document untouched.
    r = official_a.get(f"/documents/{doc_id}")
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["comment_count"], r.json()["view_count"]) == (1, 0, 0)


def test_what_each_role_may_do_with_documents(
    shared_api: Api, login: Logins, auditor_a: httpx.Client
) -> None:
    doc_id = drafted(login("official_a"))
    clerk, admin = login("clerk_a"), login("root")
    before = stored(shared_api)
    # The clerk may neither draft nor revise; nothing reaches storage.
    assert_error(draft(clerk), 403, "permission_denied")
    assert_error(_revise(clerk, doc_id, make_pdf(1, text="clerk-rev")), 403, "permission_denied")
    # The auditor may not draft, revise or comment.
    assert_error(draft(auditor_a), 403, "permission_denied")
    assert_error(_revise(auditor_a, doc_id, make_pdf(1, text="aud-rev")), 403,
                 "permission_denied")
    assert_error(auditor_a.post(f"/documents/{doc_id}/comments", json={"text": "x"}), 403,
                 "permission_denied")
    # The admin administers accounts, not documents: every document route is forbidden.
    for r in [
        admin.get("/documents"),
        admin.get(f"/documents/{doc_id}"),
        admin.get(f"/documents/{doc_id}/history"),
        admin.get(f"/documents/{doc_id}/file"),
        admin.get(f"/documents/{doc_id}/revisions/1/file"),
        admin.post(f"/documents/{doc_id}/comments", json={"text": "x"}),
        _revise(admin, doc_id, make_pdf(1, text="admin-rev")),
        draft(admin),
    ]:
        assert_error(r, 403, "permission_denied")
    assert stored(shared_api) == before
    # The clerk comments; the clerk and the auditor read, list, download and see the history.
    r = clerk.post(f"/documents/{doc_id}/comments", json={"text": "Đã vào sổ"})
    assert r.status_code == 201, r.text
    for reader in (clerk, auditor_a):
        assert reader.get(f"/documents/{doc_id}").status_code == 200
        listed = reader.get("/documents", params={"limit": 200}).json()["items"]
        assert doc_id in {d["id"] for d in listed}
        assert reader.get(f"/documents/{doc_id}/file").status_code == 200
    # The auditor's download is on record like anyone's.
    history = _history(auditor_a, doc_id)
    viewers = [e["actor"]["username"] for e in history if e["type"].endswith(".Viewed")]
    assert viewers[0] == "clerk_a"
    assert viewers[1].startswith("auditor_")


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        pytest.param({"doc_type": "XX"}, 422, "invalid_request", id="unknown-doc-type"),
        pytest.param({"urgency": "whenever"}, 422, "invalid_request", id="unknown-urgency"),
        pytest.param({"confidentiality": "public"}, 422, "invalid_request",
                     id="unknown-confidentiality"),
        pytest.param({"legal_normative": "maybe"}, 422, "invalid_request", id="not-a-boolean"),
    ],
)
def test_bad_draft_metadata_is_refused_before_storing(
    shared_api: Api, login: Logins, fields: dict[str, str], status: int, code: str
) -> None:
    before = stored(shared_api)
    assert_error(draft(login("official_a"), make_pdf(1, text=uuid.uuid4().hex), **fields),
                 status, code)
    assert stored(shared_api) == before


def test_a_draft_without_a_summary_is_invalid_request(shared_api: Api, login: Logins) -> None:
    before = stored(shared_api)
    pdf = make_pdf(1, text="no-summary")
    r = login("official_a").post("/documents", data={"doc_type": "CV"},
                                 files={"file": ("a.pdf", pdf, "application/pdf")})
    body = assert_error(r, 422, "invalid_request")
    assert any(e["loc"] == ["body", "summary"] for e in body["detail"])
    assert stored(shared_api) == before


@pytest.mark.parametrize("summary", [pytest.param("   ", id="blank"),
                                     pytest.param("x" * 1001, id="too-long")])
def test_a_draft_with_an_unusable_summary_stores_nothing(
    shared_api: Api, login: Logins, summary: str
) -> None:
    before = stored(shared_api)
    r = draft(login("official_a"), make_pdf(1, text=uuid.uuid4().hex), summary=summary)
    assert_error(r, 422, "invalid_input")
    assert stored(shared_api) == before
