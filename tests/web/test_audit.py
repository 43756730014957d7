"""The auditor's pages: mandates, a document's trail, "as it was at", the evidence bundle and
the event search with its CSV export, under the same checks as the API's audit routes."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.ledger.bundle_verify import verify_bundle
from tests.api.conftest import PASSWORD, Api
from tests.api.support import drafted
from tests.support.pages import Pages, text_of
from tests.support.pdfs import make_pdf


@pytest.fixture(scope="module")
def audit_city(shared_api: Api, shared_city: dict[str, Any]) -> dict[str, Any]:
    """An auditor with a mandate for SOA only, and a document of SOA (drafted, viewed by the
    leader through the API, then submitted) and one of SOB."""
    root = shared_api.client("root")
    r = root.post("/users", json={
        "username": "auditor_x", "full_name": "Trần Thị Kiểm", "password": PASSWORD,
        "roles": ["auditor"], "agency_id": shared_city["SOA"]})
    assert r.status_code == 201, r.text
    auditor = r.json()["id"]
    r = root.post(f"/users/{auditor}/audit-mandates", json={
        "agency_id": shared_city["SOA"], "legal_basis": "Quyết định thanh tra số 12/QĐ-TTr"})
    assert r.status_code == 201, r.text
    official = shared_api.client("official_a")
    doc = drafted(official, make_pdf(1, text="audit page draft"))
    # The leader reads the file through the API: a view the trail must show.
    leader = shared_api.client("leader_a")
    assert leader.get(f"/documents/{doc}/file").status_code == 200
    r = official.post(f"/documents/{doc}/submit", json={"text": "Kính trình"})
    assert r.status_code == 200, r.text
    other = drafted(shared_api.client("official_b"), make_pdf(1, text="sob draft"))
    for client in (root, official, leader):
        client.close()
    return shared_city | {"auditor_x": auditor, "doc": doc, "sob_doc": other}


@pytest.fixture(scope="module")
def auditor(pages: Callable[[str], Pages], audit_city: dict[str, Any]) -> Pages:
    """The auditor's browser."""
    return pages("auditor_x")


def test_home_lists_the_mandates_with_legal_basis(auditor: Pages,
                                                  audit_city: dict[str, Any]) -> None:
    r = auditor.get("/app/audit")
    assert r.status_code == 200, r.text
    text = text_of(r.text)
    assert "Quyết định thanh tra số 12/QĐ-TTr" in text
    assert f'href="/app/audit/agencies/{audit_city["SOA"]}"' in r.text
    assert "SOB" not in text
    # The agency's documents, a page at a time, each linking to its history.
    r = auditor.get(f"/app/audit/agencies/{audit_city['SOA']}")
    assert r.status_code == 200, r.text
    assert f'href="/app/audit/documents/{audit_city["doc"]}"' in r.text


def test_outside_the_mandates_the_api_answer(auditor: Pages, shared_api: Api,
                                             audit_city: dict[str, Any]) -> None:
    sob_doc, sob = audit_city["sob_doc"], audit_city["SOB"]
    api = shared_api.client("auditor_x")
    try:
        expected = api.get(f"/audit/documents/{sob_doc}/trail").status_code
        assert expected == 404
        r = auditor.get(f"/app/audit/documents/{sob_doc}")
        assert r.status_code == expected, r.text
        assert "Traceback" not in r.text
        assert api.get(f"/documents/{sob_doc}/replay?version=1").status_code == 404
        assert auditor.get(f"/app/audit/documents/{sob_doc}/replay?version=1"
                           ).status_code == 404
        assert auditor.get(f"/app/audit/documents/{sob_doc}/evidence").status_code == 404
        assert api.get(f"/audit/events?agency_id={sob}").status_code == 403
        assert auditor.get(f"/app/audit/agencies/{sob}").status_code == 403
    finally:
        api.close()


def test_an_official_is_refused_the_audit_pages(pages: Callable[[str], Pages],
                                                audit_city: dict[str, Any]) -> None:
    r = pages("official_a").get(f"/app/audit/documents/{audit_city['doc']}")
    assert r.status_code == 403, r.text


def _trail_reads(shared_api: Api, doc: str) -> int:
    api = shared_api.client("auditor_x")
    try:
        items = api.get(f"/audit/documents/{doc}/trail?type=AccessLog.Viewed").json()["items"]
    finally:
        api.close()
    return sum(1 for i in items if i["payload"]["purpose"] == "audit:trail")


def test_trail_shows_who_what_when_and_the_api_view(auditor: Pages, shared_api: Api,
                                                    audit_city: dict[str, Any]) -> None:
    doc = audit_city["doc"]
    before = _trail_reads(shared_api, doc)
    r = auditor.get(f"/app/audit/documents/{doc}")
    assert r.status_code == 200, r.text
    text = text_of(r.text)
    # Vietnamese by default: translated event types, full names with user names.
    assert "Tạo dự thảo" in text
    assert "Trình duyệt" in text
    assert "Official A (official_a)" in text
    # The leader's view through the API, with its file digest and address.
    assert "Xem hoặc tải về" in text
    assert "Leader A (leader_a)" in text
    assert "127.0.0.1" in text
    assert "SHA-256" in text
    assert "verify-bundle" in text
    # Reading the trail was itself recorded (and the API's own read adds one more).
    assert _trail_reads(shared_api, doc) == before + 2


def test_replay_at_an_earlier_version_shows_the_earlier_status(
        auditor: Pages, audit_city: dict[str, Any]) -> None:
    doc = audit_city["doc"]
    r = auditor.get(f"/app/audit/documents/{doc}/replay?version=1")
    assert r.status_code == 200, r.text
    assert 'class="replay-status">Dự thảo<' in r.text
    assert "Tạo dự thảo" in text_of(r.text)  # the event that produced it
    r = auditor.get(f"/app/audit/documents/{doc}/replay?version=2")
    assert 'class="replay-status">Chờ duyệt<' in r.text
    # Both steps so far are listed, in Vietnamese, with who did them.
    steps = r.text.split('class="replay-steps"')[1].split("</table>")[0]
    assert "Các bước" in text_of(r.text)
    assert steps.count("<tr>") == 3  # the header and two steps
    assert "Tạo dự thảo" in text_of(steps)
    # A moment typed in Vietnam time long ago: the document did not exist yet.
    r = auditor.get(f"/app/audit/documents/{doc}/replay?at=2020-01-01T09:00")
    assert r.status_code == 404
    assert 'id="f-at-error"' in r.text
    # A moment now (Vietnam time) shows the current state. The form takes whole seconds:
    # within the second the document was written in, its start would still be before it.
    time.sleep(1 - datetime.now(VIETNAM_TZ).microsecond / 1e6)
    now = datetime.now(VIETNAM_TZ).strftime("%Y-%m-%dT%H:%M:%S")
    r = auditor.get(f"/app/audit/documents/{doc}/replay?at={now}")
    assert r.status_code == 200, r.text
    assert 'class="replay-status">Chờ duyệt<' in r.text
    # A version that never was: the message is next to the version field.
    r = auditor.get(f"/app/audit/documents/{doc}/replay?version=99")
    assert r.status_code == 404
    assert 'id="f-version-error"' in r.text


def test_evidence_bundle_from_the_page_verifies(auditor: Pages, audit_city: dict[str, Any],
                                                tmp_path: Path) -> None:
    r = auditor.get(f"/app/audit/documents/{audit_city['doc']}/evidence")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    path = tmp_path / "evidence.zip"
    path.write_bytes(r.content)
    report = verify_bundle(path)
    assert report.ok, report.explain()


def test_event_search_pages_and_csv_match(auditor: Pages, audit_city: dict[str, Any]) -> None:
    soa = audit_city["SOA"]
    r = auditor.get("/app/audit/events")
    assert r.status_code == 200
    assert 'name="type" value="AccessLog.Viewed"' in r.text
    query = (f"/app/audit/events?agency_id={soa}&user_id=&from=&to="
             "&type=OutgoingDocument.Drafted&type=OutgoingDocument.SubmittedForApproval")
    r = auditor.get(query)
    assert r.status_code == 200, r.text
    rows = r.text.count("data-event=")
    assert rows == 2, text_of(r.text)
    link = r.text.split('href="/app/audit/events.csv?', 1)[1].split('"', 1)[0]
    r = auditor.get("/app/audit/events.csv?" + link.replace("&amp;", "&"))
    assert r.status_code == 200, r.text
    assert r.headers["x-audit-record"]
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["type"] for x in lines] == ["OutgoingDocument.Drafted",
                                         "OutgoingDocument.SubmittedForApproval"]
    # No type ticked: every event of the agency, those without an acting user included.
    r = auditor.get(f"/app/audit/events?agency_id={soa}")
    assert r.status_code == 200, r.text
    assert r.text.count("data-event=") > rows
    # A period before the document: nothing.
    r = auditor.get(f"/app/audit/events?agency_id={soa}&from=2020-01-01&to=2020-01-02")
    assert "data-event=" not in r.text
    # An agency outside the mandates: the API's refusal, next to the agency field.
    r = auditor.get(f"/app/audit/events?agency_id={audit_city['SOB']}")
    assert r.status_code == 403
    assert 'id="f-agency_id-error"' in r.text


def test_english_trail(auditor: Pages, audit_city: dict[str, Any]) -> None:
    auditor.http.cookies.set("docmgmt_lang", "en")
    try:
        text = text_of(auditor.get(f"/app/audit/documents/{audit_city['doc']}").text)
    finally:
        auditor.http.cookies.delete("docmgmt_lang")
    assert "Draft created" in text
    assert "Viewed or downloaded" in text
