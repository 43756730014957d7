"""Receipt and handling on the real stack: numbers, deadlines, who may do what."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from docmgmt.domain.common import Role
from docmgmt.domain.errors import (
    DocumentNotFoundError,
    DocumentWithdrawnError,
    InvalidInputError,
    PermissionDeniedError,
)
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.register import Series
from docmgmt.identity.users import register_user
from docmgmt.incoming import handling
from docmgmt.incoming.delivery import dispatcher_class, start_dispatcher
from docmgmt.incoming.handling import IncomingContext
from docmgmt.kernel.principal import Principal
from docmgmt.outgoing import sending
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


def at(city: City, moment: datetime) -> IncomingContext:
    """The recipient's steps with their clock pinned."""
    return replace(city.write.incoming, clock=lambda: moment)


def test_twenty_concurrent_registrations_get_twenty_consecutive_arrival_numbers(
        city: City) -> None:
    copies = [copy_at(city, "PBN") for _ in range(20)]
    ex = at(city, datetime(2027, 3, 2, 9, 0, tzinfo=VN))
    clerk = city["PBN"]["clerk"]
    errors: list[BaseException] = []

    def register(incoming_id: UUID) -> None:
        try:
            handling.register(ex, clerk, incoming_id, None)
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
    handling.register(ex, city["PDK"]["clerk"], other, None)
    assert city.write.app.get_incoming(other).arrival_number == 1


def test_a_deadline_in_working_days_skips_tet_and_the_agency_days_off(city: City) -> None:
    ward = city["PBN"]
    copy = copy_at(city, "PBN")
    # Wednesday 3 Feb 2027 is the last working day before Tết (4-10 Feb).
    ex = at(city, datetime(2027, 2, 3, 10, 0, tzinfo=VN))
    handling.register(ex, ward["clerk"], copy, None)
    handling.assign(ex, ward["leader"], copy, lead_unit_id=ward.units["VHXH"],
                    lead_user_id=None, supporting_unit_ids=[ward.units["KT"]],
                    instructions="Tham mưu trả lời", deadline=None, working_days=2,
                    expected_version=None)
    # 1st working day: Thu 11 Feb; 2nd: Fri 12 Feb, at 17:00.
    assert city.write.app.get_incoming(copy).deadline == "2027-02-12T17:00:00+07:00"

    # The ward takes Friday 12 Feb off (an administrator records it, not a leader); the
    # same assignment now ends on Monday 15 Feb.
    with pytest.raises(PermissionDeniedError):
        handling.set_calendar(ex, ward["leader"], ward.agency_id, [date(2027, 2, 12)], [],
                              None)
    admin = register_user(
        city.write.app, admin_acting_as(ward["clerk"].actor), username="pbn.admin",
        full_name="Quản trị", title="Quản trị", agency_id=ward.agency_id,
        unit_id=None, roles=["admin"])  # type: ignore[list-item]
    who = Principal(user_id=admin.id, username="pbn.admin", agency_id=ward.agency_id,
                    unit_id=None, roles=frozenset({Role.ADMIN}))
    handling.set_calendar(ex, who, ward.agency_id, [date(2027, 2, 12)], [], None)
    handling.assign(ex, ward["leader"], copy, lead_unit_id=ward.units["VHXH"],
                    lead_user_id=None, supporting_unit_ids=[], instructions="Giao lại",
                    deadline=None, working_days=2, expected_version=None)
    assert city.write.app.get_incoming(copy).deadline == "2027-02-15T17:00:00+07:00"


def test_arrival_on_a_friday_is_due_monday_and_urgent_at_once(city: City) -> None:
    friday = datetime(2027, 3, 5, 16, 0, tzinfo=VN)
    write = city.write
    pinned = dispatcher_class(write.arrival_check(), write.incoming.holidays,
                              clock=lambda: friday)
    doc = city.sealed("STTTT", "Công văn đề nghị báo cáo số liệu")
    sending.dispatch(write.app, city["STTTT"]["clerk"], doc, ["PBN"], [], "", None)
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
        handling.register(ex, city["PDK"]["clerk"], copy, None)
    with pytest.raises(PermissionDeniedError):
        handling.register(ex, ward["vhxh"], copy, None)
    handling.register(ex, ward["clerk"], copy, None)
    # An official of an unrelated unit does not see it before it is assigned.
    with pytest.raises(DocumentNotFoundError):
        handling.get_incoming(ex, ward["kt"], copy)
    with pytest.raises(PermissionDeniedError):
        handling.assign(ex, ward["clerk"], copy, lead_unit_id=ward.units["VHXH"], lead_user_id=None,
                  supporting_unit_ids=[], instructions="", deadline=None, working_days=3,
                  expected_version=None)
    with pytest.raises(InvalidInputError):  # a unit of another agency
        handling.assign(ex, ward["leader"], copy, lead_unit_id=city["PDK"].units["VHXH"],
                  lead_user_id=None, supporting_unit_ids=[], instructions="", deadline=None,
                  working_days=3, expected_version=None)
    handling.assign(ex, ward["leader"], copy, lead_unit_id=ward.units["VHXH"], lead_user_id=None,
              supporting_unit_ids=[ward.units["KT"]], instructions="", deadline=None,
              working_days=3, expected_version=None)
    # The supporting unit reports progress but cannot complete; the lead unit completes.
    handling.record_progress(ex, ward["kt"], copy, "Đã cung cấp số liệu", None)
    with pytest.raises(PermissionDeniedError):
        handling.complete(ex, ward["kt"], copy, "Xong", None, None)
    handling.complete(ex, ward["vhxh"], copy, "Đã báo cáo", None, None)
    events = [type(e).__name__ for e in city.write.app.events.get(copy)]
    assert events == ["Arrived", "Registered", "Assigned", "ProgressRecorded", "Completed"]


def test_a_withdrawn_copy_is_no_longer_served(city: City, dispatcher: Any) -> None:
    ex = city.write.incoming
    doc = city.sealed("STTTT", "Quyết định về việc thành lập tổ công tác")
    sending.dispatch(city.write.app, city["STTTT"]["clerk"], doc, ["PBN"], [], "", None)
    wait_until(lambda: all(r["incoming_id"] for r in city.document(doc).recipients.values()))
    copy = city.incoming(doc, "PBN").id
    with handling.download(ex, city["PBN"]["clerk"], copy) as (_, ref, fh):
        assert fh.read(5) == b"%PDF-"
        assert ref.sha256 == city.document(doc).sealed_file.sha256  # type: ignore[union-attr]
    sending.recall(city.write.app, city["STTTT"]["clerk"], doc, "Sai thẩm quyền ban hành", None)
    wait_until(lambda: city.incoming(doc, "PBN").withdrawn)
    with pytest.raises(DocumentWithdrawnError), handling.download(ex, city["PBN"]["clerk"], copy):
        pass
    # The history stays, including the download made before the recall.
    kinds = [h.type for h in handling.history(ex, city["PBN"]["clerk"], copy)]
    assert kinds[0].endswith("Arrived")
    assert any(k.endswith("Withdrawn") for k in kinds)
    assert any(k.endswith("Viewed") for k in kinds)


def test_each_step_loads_the_copy_once(city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    ward = city["PBN"]
    copy = copy_at(city, "PBN")
    ex = at(city, datetime(2027, 3, 2, 9, 0, tzinfo=VN))
    repository = city.write.app.repository
    loads: list[UUID] = []
    real_get = repository.get

    def counting_get(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        loads.append(aggregate_id)
        return real_get(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(repository, "get", counting_get)
    steps: list[tuple[str, Any]] = [
        ("register", lambda: handling.register(ex, ward["clerk"], copy, 1)),
        ("assign", lambda: handling.assign(
            ex, ward["leader"], copy, lead_unit_id=ward.units["VHXH"], lead_user_id=None,
            supporting_unit_ids=[], instructions="", deadline=None, working_days=3,
            expected_version=2)),
        ("progress", lambda: handling.record_progress(ex, ward["vhxh"], copy, "Đang làm", 3)),
        ("complete", lambda: handling.complete(ex, ward["vhxh"], copy, "Xong", None, 4)),
    ]
    for name, step in steps:
        loads.clear()
        step()
        assert loads.count(copy) == 1, name
