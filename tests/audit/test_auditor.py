"""Auditors read the trails of the agencies they hold a mandate for, read-only, and every
read they make is recorded."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.api.conftest import Logins
from tests.api.support import assert_error
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.postgres

SUMMARY_A = "Về việc tổ chức hội nghị tổng kết năm"
SUMMARY_B = "Báo cáo tình hình thực hiện nhiệm vụ quý I"


def _draft(client: httpx.Client, summary: str, text: str) -> str:
    r = client.post("/documents", data={"summary": summary, "doc_type": "CV"},
                    files={"file": ("du-thao.pdf", make_pdf(1, text=text), "application/pdf")})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture
def docs(as_user: Logins) -> dict[str, Any]:
    """One draft in each agency, each downloaded once by its drafter.

    Made anew for each test: a test that reads a trail extends it, and another test
    expects the exact trail, whatever order the tests run in.
    """
    start = datetime.now(UTC)
    a = _draft(as_user("official_a"), SUMMARY_A, "a")
    b = _draft(as_user("official_b"), SUMMARY_B, "b")
    assert as_user("official_a").get(f"/documents/{a}/file").status_code == 200
    assert as_user("official_b").get(f"/documents/{b}/file").status_code == 200
    return {"a": a, "b": b, "start": start}


def _types(items: list[dict[str, Any]]) -> list[str]:
    return [i["type"] for i in items]


def test_auditor_reads_trails_across_agencies_and_each_read_is_recorded(
    as_user: Logins, audit_city: dict[str, Any], docs: dict[str, Any]
) -> None:
    auditor = as_user("auditor")
    for key, owner in (("a", "official_a"), ("b", "official_b")):
        doc = docs[key]
        r = auditor.get(f"/audit/documents/{doc}/trail")
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert _types(items)[0] == "OutgoingDocument.Drafted"
        # The owner's download and this very read are both on record, oldest first.
        views = [i for i in items if i["type"] == "AccessLog.Viewed"]
        assert [v["payload"]["purpose"] for v in views] == ["download:draft", "audit:trail"]
        assert views[0]["actor"]["user_id"] == audit_city[owner]
        assert views[1]["actor"]["user_id"] == audit_city["auditor"]
        assert [i["position"] for i in items] == sorted(i["position"] for i in items)
        assert {i["document_id"] for i in items} == {doc}
        assert {i["agency_id"] for i in items} == {audit_city["SOA" if key == "a" else "SOB"]}
    # A second read adds a second record; the type filter narrows the trail.
    r = auditor.get(f"/audit/documents/{docs['b']}/trail", params={"type": "Viewed"})
    purposes = [i["payload"]["purpose"] for i in r.json()["items"]]
    assert purposes == ["download:draft", "audit:trail", "audit:trail"]
    # Replaying another agency's document is allowed to an auditor, and recorded too.
    r = auditor.get(f"/documents/{docs['b']}/replay", params={"version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == SUMMARY_B
    r = auditor.get(f"/audit/documents/{docs['b']}/trail", params={"type": "Viewed"})
    assert "audit:replay:v1" in [i["payload"]["purpose"] for i in r.json()["items"]]


def test_only_auditors_may_read_the_audit_routes(
    as_user: Logins, docs: dict[str, Any]
) -> None:
    for username in ("official_a", "leader_a", "clerk_a", "root"):
        client = as_user(username)
        assert_error(client.get(f"/audit/documents/{docs['a']}/trail"), 403,
                     "permission_denied")
        assert_error(client.get("/audit/events"), 403, "permission_denied")
    # A refused read leaves no record in the document's access log.
    r = as_user("auditor").get(f"/audit/documents/{docs['a']}/trail",
                               params={"type": "Viewed", "limit": 1000})
    actors = {i["actor"]["username"] for i in r.json()["items"]}
    assert actors <= {"official_a", "auditor"}
    # An unknown document is not found, and nothing is recorded for it.
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(as_user("auditor").get(f"/audit/documents/{missing}/trail"), 404,
                 "document_not_found")


def test_events_filter_by_agency_user_period_and_type(
    as_user: Logins, audit_city: dict[str, Any], docs: dict[str, Any]
) -> None:
    auditor = as_user("auditor")
    # By agency: only SOB's records, including its document and its download.
    r = auditor.get("/audit/events", params={"agency_id": audit_city["SOB"], "limit": 1000})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert {i["agency_id"] for i in items} == {audit_city["SOB"]}
    assert docs["b"] in {i["document_id"] for i in items}
    assert docs["a"] not in {i["document_id"] for i in items}
    assert "download:draft" in [i["payload"].get("purpose") for i in items]
    # By acting user: official_a's draft and download, nobody else's.
    r = auditor.get("/audit/events", params={"user_id": audit_city["official_a"]})
    items = r.json()["items"]
    assert {i["actor"]["user_id"] for i in items} == {audit_city["official_a"]}
    assert {"OutgoingDocument.Drafted", "AccessLog.Viewed"} <= set(_types(items))
    # By period: nothing before the start of these documents.
    r = auditor.get("/audit/events", params={"from": docs["start"].isoformat(),
                                             "type": "Drafted"})
    items = r.json()["items"]
    assert {i["document_id"] for i in items} >= {docs["a"], docs["b"]}
    assert all(datetime.fromisoformat(i["time"]) >= docs["start"] for i in items)
    r = auditor.get("/audit/events", params={"to": docs["start"].isoformat(),
                                             "type": "Drafted"})
    assert not {i["document_id"] for i in r.json()["items"]} & {docs["a"], docs["b"]}
    # By type, with paging.
    r = auditor.get("/audit/events", params={"type": "AccessLog.Viewed", "limit": 1})
    page = r.json()
    assert _types(page["items"]) == ["AccessLog.Viewed"]
    assert page["next_offset"] == 1
    # The page size is bounded; moments need a time zone.
    assert_error(auditor.get("/audit/events", params={"limit": 1001}), 422,
                 "invalid_request")
    assert_error(auditor.get("/audit/events", params={"from": "2026-01-01T00:00:00"}), 422,
                 "invalid_input")


def test_csv_export_with_vietnamese_text_and_downloads(
    as_user: Logins, audit_city: dict[str, Any], docs: dict[str, Any]
) -> None:
    auditor = as_user("auditor")
    r = auditor.get("/audit/events", params={"from": docs["start"].isoformat(),
                                             "format": "csv", "limit": 1000})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
    assert rows, r.text
    assert list(rows[0]) == ["position", "time", "type", "agency_id", "document_id",
                             "aggregate_id", "version", "user_id", "username", "client_ip",
                             "request_id", "purpose", "payload"]
    drafted = {row["document_id"]: row for row in rows
               if row["type"] == "OutgoingDocument.Drafted"}
    assert SUMMARY_A in drafted[docs["a"]]["payload"]
    assert SUMMARY_B in drafted[docs["b"]]["payload"]
    downloads = [row for row in rows if row["purpose"] == "download:draft"]
    assert {(d["document_id"], d["username"]) for d in downloads} >= {
        (docs["a"], "official_a"), (docs["b"], "official_b")}


def test_every_store_query_is_recorded_in_the_audit_log(
    as_user: Logins, audit_city: dict[str, Any]
) -> None:
    auditor = as_user("auditor")
    r = auditor.get("/audit/events", params={"agency_id": audit_city["SOA"],
                                             "type": "Drafted"})
    first = r.headers["X-Audit-Record"]
    count = len(r.json()["items"])
    r = auditor.get("/audit/events", params={"format": "csv", "type": "Commented"})
    second = r.headers["X-Audit-Record"]
    r = auditor.get("/audit/events", params={"type": "AuditQueryRecorded",
                                             "user_id": audit_city["auditor"],
                                             "limit": 1000})
    records = {i["aggregate_id"]: i for i in r.json()["items"]}
    assert {first, second} <= set(records)
    entry = records[first]
    assert entry["payload"]["query"] == {"agency_id": audit_city["SOA"], "type": "Drafted",
                                         "limit": "100", "offset": "0", "format": "json"}
    assert entry["payload"]["result_count"] == count
    assert entry["actor"]["username"] == "auditor"
    assert records[second]["payload"]["query"]["format"] == "csv"
