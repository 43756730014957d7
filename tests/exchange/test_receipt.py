"""Receipt and handling on the real stack: numbers, deadlines, who may do what."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from docmgmt.dispatch import PdfArrivalCheck, dispatcher_class, start_dispatcher
from docmgmt.domain.common import Role
from docmgmt.domain.errors import (
    DocumentNotFoundError,
    DocumentWithdrawnError,
    InvalidInputError,
    PermissionDeniedError,
)
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.register import Series
from docmgmt.exchange import ExchangeService
from docmgmt.identity.users import register_user
from docmgmt.kernel.principal import Principal
from tests.exchange.conftest import City
from tests.support.identity import admin_acting_as
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

VN = timezone(timedelta(hours=7))


def copy_at(city: City, ward: str, urgency: str = "normal") -> UUID:
    """A received copy saved directly, as the dispatch process would (no signing needed)."""
    incoming = IncomingDocument(
        outgoing_id=uuid4(), sender_agency_id=city["STTTT"].agency_id, sender_code="STTTT",
        sender_name="Sở Thông tin và Truyền thông", recipient_agency_id=city[ward].agency_id,
        number_label="01/CV-STTTT", code="STTTT-VP", issued_date="2027-02-01",
        doc_type="CV", summary="Công văn về việc báo cáo", urgency=urgency,
        confidentiality="normal", file={"key": "k", "sha256": "0" * 64, "size": 1,
                                        "page_count": 1, "file_name": "x.pdf"},
        appendices=[], links=[], authenticity={"ok": True, "checks": []},
        registration_due="2027-02-02T17:00:00+07:00")
    city.write.app.save(incoming)
    return incoming.id


def at(city: City, moment: datetime) -> ExchangeService:
    """The exchange service with its clock pinned."""
    ex = city.write.exchange
    return ExchangeService(documents=ex.documents, locks=ex.locks, holidays=ex.holidays,
                           clock=lambda: moment)


def test_twenty_concurrent_registrations_get_twenty_consecutive_arrival_numbers(
        city: City) -> None:
    copies = [copy_at(city, "PBN") for _ in range(20)]
    ex = at(city, datetime(2027, 3, 2, 9, 0, tzinfo=VN))
    clerk = city["PBN"]["clerk"]
    errors: list[BaseException] = []

    def register(incoming_id: UUID) -> None:
        try:
            ex.register(clerk, incoming_id, None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(c,)) for c in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = sorted(city.write.app.get_incoming(c).arrival_number or 0 for c in copies)
    assert numbers == list(range(1, 21))
    assert city.write.app.next_number(city["PBN"].agency_id, 2027, Series.INCOMING) == 21
    # The other ward's register is its own and starts at 01.
    other = copy_at(city, "PDK")
    ex.register(city["PDK"]["clerk"], other, None)
    assert city.write.app.get_incoming(other).arrival_number == 1


def test_a_deadline_in_working_days_skips_tet_and_the_agency_days_off(city: City) -> None:
    ward = city["PBN"]
    copy = copy_at(city, "PBN")
    # Wednesday 3 Feb 2027 is the last working day before Tết (4-10 Feb).
    ex = at(city, datetime(2027, 2, 3, 10, 0, tzinfo=VN))
    ex.register(ward["clerk"], copy, None)
    ex.assign(ward["leader"], copy, lead_unit_id=ward.units["VHXH"], lead_user_id=None,
              supporting_unit_ids=[ward.units["KT"]], instructions="Tham mưu trả lời",
              deadline=None, working_days=2, expected_version=None)
    # 1st working day: Thu 11 Feb; 2nd: Fri 12 Feb, at 17:00.
    assert city.write.app.get_incoming(copy).deadline == "2027-02-12T17:00:00+07:00"

    # The ward takes Friday 12 Feb off (an administrator records it, not a leader); the
    # same assignment now ends on Monday 15 Feb.
    with pytest.raises(PermissionDeniedError):
        ex.set_calendar(ward["leader"], ward.agency_id, [date(2027, 2, 12)], [], None)
    admin = register_user(
        city.write.app, admin_acting_as(ward["clerk"].actor), username="pbn.admin",
        full_name="Quản trị", title="Quản trị", agency_id=ward.agency_id,
        unit_id=None, roles=["admin"])  # type: ignore[list-item]
    who = Principal(user_id=admin.id, username="pbn.admin", agency_id=ward.agency_id,
                    unit_id=None, roles=frozenset({Role.ADMIN}))
    ex.set_calendar(who, ward.agency_id, [date(2027, 2, 12)], [], None)
    ex.assign(ward["leader"], copy, lead_unit_id=ward.units["VHXH"], lead_user_id=None,
              supporting_unit_ids=[], instructions="Giao lại", deadline=None, working_days=2,
              expected_version=None)
    assert city.write.app.get_incoming(copy).deadline == "2027-02-15T17:00:00+07:00"


def test_arrival_on_a_friday_is_due_monday_and_urgent_at_once(city: City) -> None:
    friday = datetime(2027, 3, 5, 16, 0, tzinfo=VN)
    write = city.write
    check = PdfArrivalCheck(write.blobs, write.signing.validate, write.settings.spool_dir)
    pinned = dispatcher_class(check, write.exchange.holidays, clock=lambda: friday)
    doc = city.sealed("STTTT", "Công văn đề nghị báo cáo số liệu")
    write.exchange.dispatch(city["STTTT"]["clerk"], doc, ["PBN"], [], "", None)
    with start_dispatcher(write.es_env, pinned):
        wait_until(lambda: all(r["incoming_id"] for r in
                               city.document(doc).recipients.values()))
    assert city.incoming(doc, "PBN").registration_due == "2027-03-08T17:00:00+07:00"


def test_who_may_do_what(city: City) -> None:
    ward = city["PBN"]
    copy = copy_at(city, "PBN")
    ex = at(city, datetime(2027, 3, 2, 9, 0, tzinfo=VN))
    # Another agency's clerk cannot even see it; an official cannot register.
    with pytest.raises(DocumentNotFoundError):
        ex.register(city["PDK"]["clerk"], copy, None)
    with pytest.raises(PermissionDeniedError):
        ex.register(ward["vhxh"], copy, None)
    ex.register(ward["clerk"], copy, None)
    # An official of an unrelated unit does not see it before it is assigned.
    with pytest.raises(DocumentNotFoundError):
        ex.get_incoming(ward["kt"], copy)
    with pytest.raises(PermissionDeniedError):
        ex.assign(ward["clerk"], copy, lead_unit_id=ward.units["VHXH"], lead_user_id=None,
                  supporting_unit_ids=[], instructions="", deadline=None, working_days=3,
                  expected_version=None)
    with pytest.raises(InvalidInputError):  # a unit of another agency
        ex.assign(ward["leader"], copy, lead_unit_id=city["PDK"].units["VHXH"],
                  lead_user_id=None, supporting_unit_ids=[], instructions="", deadline=None,
                  working_days=3, expected_version=None)
    ex.assign(ward["leader"], copy, lead_unit_id=ward.units["VHXH"], lead_user_id=None,
              supporting_unit_ids=[ward.units["KT"]], instructions="", deadline=None,
              working_days=3, expected_version=None)
    # The supporting unit reports progress but cannot complete; the lead unit completes.
    ex.record_progress(ward["kt"], copy, "Đã cung cấp số liệu", None)
    with pytest.raises(PermissionDeniedError):
        ex.complete(ward["kt"], copy, "Xong", None, None)
    ex.complete(ward["vhxh"], copy, "Đã báo cáo", None, None)
    events = [type(e).__name__ for e in city.write.app.events.get(copy)]
    assert events == ["Arrived", "Registered", "Assigned", "ProgressRecorded", "Completed"]


def test_a_withdrawn_copy_is_no_longer_served(city: City, dispatcher: Any) -> None:
    ex = city.write.exchange
    doc = city.sealed("STTTT", "Quyết định về việc thành lập tổ công tác")
    ex.dispatch(city["STTTT"]["clerk"], doc, ["PBN"], [], "", None)
    wait_until(lambda: all(r["incoming_id"] for r in city.document(doc).recipients.values()))
    copy = city.incoming(doc, "PBN").id
    with ex.download(city["PBN"]["clerk"], copy) as (_, ref, fh):
        assert fh.read(5) == b"%PDF-"
        assert ref.sha256 == city.document(doc).sealed_file.sha256  # type: ignore[union-attr]
    ex.recall(city["STTTT"]["clerk"], doc, "Sai thẩm quyền ban hành", None)
    wait_until(lambda: city.incoming(doc, "PBN").withdrawn)
    with pytest.raises(DocumentWithdrawnError), ex.download(city["PBN"]["clerk"], copy):
        pass
    # The history stays, including the download made before the recall.
    kinds = [h.type for h in ex.history(city["PBN"]["clerk"], copy)]
    assert kinds[0].endswith("Arrived")
    assert any(k.endswith("Withdrawn") for k in kinds)
    assert any(k.endswith("Viewed") for k in kinds)
