"""Numbering (Decree 30, Art. 15): consecutive numbers from 01, per agency, year and series,
with no gaps and no repeats even when clerks number many documents at the same moment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import httpx

from docmgmt.domain.common import DocumentType
from docmgmt.domain.register import Series
from docmgmt.outgoing import numbering
from tests.api.conftest import Api
from tests.support.pdfs import make_pdf
from tests.workflow.conftest import Desk, vn

T = TypeVar("T")
CLERKS = 20


def all_at_once(calls: list[Callable[[], T]]) -> tuple[list[T | BaseException], float, float]:
    """Run every call in its own thread, released together by a barrier.

    Returns each call's result (or exception), the last start and the first finish: when the
    last call started before the first one finished, all of them were in flight together.
    """
    barrier = threading.Barrier(len(calls))
    started: list[float] = []
    finished: list[float] = []

    def run(call: Callable[[], T]) -> T | BaseException:
        barrier.wait(timeout=60)
        started.append(time.monotonic())
        try:
            return call()
        except Exception as exc:
            return exc
        finally:
            finished.append(time.monotonic())

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = list(pool.map(run, calls))
    return results, max(started), min(finished)


def test_twenty_clerks_numbering_at_once_get_01_to_20(dev_desk: Desk) -> None:
    desk = dev_desk
    desk.at(lambda: vn(2026, 3, 5))
    # Twenty documents of the agency are signed by the leader and await their numbers.
    docs = [desk.signed(f"Công văn về việc thử nghiệm số {i}") for i in range(CLERKS)]
    assert {desk.document(d).status.value for d in docs} == {"signed"}

    # Twenty numbering requests arrive at the same moment.
    results, last_start, first_finish = all_at_once(
        [partial(numbering.number, desk.outgoing, desk["clerk"], d, None) for d in docs])
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert last_start < first_finish, "the requests did not overlap"

    # Each document got its own number; together they are 01..20 with no gap.
    numbers = {d: desk.document(d).registration.number for d in docs}  # type: ignore[union-attr]
    assert sorted(numbers.values()) == list(range(1, CLERKS + 1))
    for doc, number in numbers.items():
        document = desk.document(doc)
        assert document.status.value == "numbered"
        assert document.registration is not None
        assert document.registration.label == f"{number:02d}/SOA"
        assert document.registration.date == "2026-03-05"
        # The PDF itself shows that document's number and the Decree 30 date form.
        assert desk.number_field(doc) == (f"Số: {number:02d}/SOA", "ngày 05 tháng 3 năm 2026")

    # The register issued exactly these numbers to exactly these documents.
    register = desk.register(2026)
    assert register.last_number == CLERKS
    assert register.documents == numbers

    # Writing the number kept every leader signature valid (form filling is permitted).
    for doc in docs:
        report = desk.validate(doc)
        leader = report["signatures"][0]
        assert leader["field_name"] == "lanh_dao"
        assert leader["bottom_line"] == "valid", leader
        assert leader["modification_level"] == "FORM_FILLING"


def test_legal_normative_documents_have_their_own_series(dev_desk: Desk) -> None:
    desk = dev_desk
    desk.at(lambda: vn(2026, 5, 20))
    # Two administrative letters and two legal normative decisions, drafted interleaved.
    letter_1 = desk.signed("Công văn 1")
    decision_1 = desk.signed("Quyết định quy phạm 1", DocumentType.QUYET_DINH,
                             legal_normative=True)
    letter_2 = desk.signed("Công văn 2")
    decision_2 = desk.signed("Quyết định quy phạm 2", DocumentType.QUYET_DINH,
                             legal_normative=True)
    # The clerk numbers them in that order.
    for doc in (letter_1, decision_1, letter_2, decision_2):
        numbering.number(desk.outgoing, desk["clerk"], doc, None)

    # Each series runs from 01 on its own.
    def registered(doc: Any) -> tuple[int, str]:
        registration = desk.document(doc).registration
        assert registration is not None
        return registration.number, registration.series

    assert [registered(d) for d in (letter_1, letter_2)] == [(1, "general"), (2, "general")]
    assert [registered(d) for d in (decision_1, decision_2)] == [(1, "legal"), (2, "legal")]
    assert desk.number_field(letter_2)[0] == "Số: 02/SOA"
    assert desk.number_field(decision_1)[0].startswith("Số: 01/")
    assert desk.register(2026, Series.GENERAL).last_number == 2
    assert desk.register(2026, Series.LEGAL).last_number == 2


def test_legal_normative_number_carries_the_year(dev_desk: Desk) -> None:
    desk = dev_desk
    desk.at(lambda: vn(2026, 5, 20))
    decision = desk.signed("Quyết định quy phạm", DocumentType.QUYET_DINH, legal_normative=True)
    numbering.number(desk.outgoing, desk["clerk"], decision, None)
    assert desk.number_field(decision)[0] == "Số: 01/2026/QĐ-SOA"


def test_numbers_start_again_at_01_on_1_january(dev_desk: Desk) -> None:
    desk = dev_desk
    docs = [desk.signed(f"Công văn cuối năm {i}") for i in range(4)]
    # The last two letters of 2026 are numbered on 31 December, late in the evening.
    desk.at(lambda: vn(2026, 12, 31, 23, 59))
    numbering.number(desk.outgoing, desk["clerk"], docs[0], None)
    numbering.number(desk.outgoing, desk["clerk"], docs[1], None)
    # Just after midnight in Hanoi, a new register opens.
    desk.at(lambda: vn(2027, 1, 1, 0, 1))
    numbering.number(desk.outgoing, desk["clerk"], docs[2], None)
    # A server clock in UTC still reads 31 December, but in Vietnam it is already 2027.
    desk.at(lambda: datetime(2026, 12, 31, 17, 30, tzinfo=UTC))
    numbering.number(desk.outgoing, desk["clerk"], docs[3], None)

    seen = []
    for doc in docs:
        registration = desk.document(doc).registration
        assert registration is not None
        seen.append((registration.year, registration.number, registration.date))
    assert seen == [(2026, 1, "2026-12-31"), (2026, 2, "2026-12-31"),
                    (2027, 1, "2027-01-01"), (2027, 2, "2027-01-01")]
    assert desk.number_field(docs[1]) == ("Số: 02/SOA", "ngày 31 tháng 12 năm 2026")
    assert desk.number_field(docs[2]) == ("Số: 01/SOA", "ngày 01 tháng 01 năm 2027")
    assert desk.register(2026).last_number == 2
    assert desk.register(2027).last_number == 2


# --- over HTTP ---------------------------------------------------------------------------


def _signed_over_http(official: httpx.Client, leader: httpx.Client, i: int) -> str:
    r = official.post("/documents", data={"summary": f"Công văn số {i}", "doc_type": "CV"},
                      files={"file": (f"cv-{i}.pdf", make_pdf(1, text=f"cv {i}"),
                                      "application/pdf")})
    assert r.status_code == 201, r.text
    doc = str(r.json()["id"])
    assert official.post(f"/documents/{doc}/submit", json={"text": "Kính trình"}).status_code \
        == 200
    assert leader.post(f"/documents/{doc}/approve", json={"text": "Đồng ý"}).status_code == 200
    r = leader.post(f"/documents/{doc}/sign", json={"capacity": "KT",
                                                   "principal_title": "Giám đốc"})
    assert r.status_code == 200, r.text
    return doc


def test_twenty_number_requests_over_http_get_01_to_20(api: Api, city: dict[str, Any]) -> None:
    official, leader, clerk = (api.client(u) for u in ("official_a", "leader_a", "clerk_a"))
    # Twenty letters are drafted, approved and signed through the API.
    docs = [_signed_over_http(official, leader, i) for i in range(CLERKS)]
    # Twenty POST /documents/{id}/number requests are sent at the same moment, each on its
    # own connection.
    token = clerk.headers["Authorization"]

    def number(doc: str) -> httpx.Response:
        with httpx.Client(base_url=api.base, timeout=120,
                          headers={"Authorization": token}) as client:
            return client.post(f"/documents/{doc}/number", json={})

    results, last_start, first_finish = all_at_once([partial(number, d) for d in docs])
    responses = [r for r in results if isinstance(r, httpx.Response)]
    assert len(responses) == CLERKS, results
    assert [r.status_code for r in responses] == [200] * CLERKS, [r.text for r in responses]
    assert last_start < first_finish, "the requests did not overlap"

    # Each document shows its own number; together they are 01..20.
    shown = [official.get(f"/documents/{doc}").json() for doc in docs]
    assert sorted(d["number"] for d in shown) == list(range(1, CLERKS + 1))
    assert {d["number_label"] for d in shown} == {f"{n:02d}/SOA" for n in range(1, 21)}
    assert {d["status"] for d in shown} == {"numbered"}
