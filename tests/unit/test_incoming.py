"""IncomingDocument and the sender's dispatch state: checks, then events (no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from docmgmt.domain.common import Actor, Confidentiality, DocumentType, FileRef, Urgency
from docmgmt.domain.errors import InvalidInputError, InvalidStateError
from docmgmt.domain.incoming import IncomingDocument, IncomingStatus, incoming_id_for
from docmgmt.domain.outgoing import Delivery, OutgoingDocument, Registration, Status

VN = timezone(timedelta(hours=7))
NOW = datetime(2027, 2, 1, 9, 0, tzinfo=VN)
CLERK = Actor(uuid4(), "clerk")
LEADER = Actor(uuid4(), "leader")
HANDLER = Actor(uuid4(), "handler")
FILE = FileRef("k", "a" * 64, 10, 1, "x.pdf")


def arrived(ok: bool = True, **overrides: Any) -> IncomingDocument:
    """A copy as the dispatch process creates it."""
    values: dict[str, Any] = dict(
        outgoing_id=uuid4(), sender_agency_id=uuid4(), sender_code="STTTT",
        sender_name="Sở TTTT", recipient_agency_id=uuid4(), number_label="01/KH-STTTT",
        code="KH-STTTT", issued_date="2027-01-29", doc_type="KH", summary="Kế hoạch",
        urgency="normal", confidentiality="normal", file=FILE.as_payload(), appendices=[],
        links=[], authenticity={"ok": ok, "checks": []},
        registration_due="2027-02-02T17:00:00+07:00")
    values.update(overrides)
    return IncomingDocument(**values)


def test_the_copy_id_follows_from_document_and_recipient() -> None:
    doc = arrived()
    assert doc.id == incoming_id_for(doc.outgoing_id, doc.agency_id)
    assert doc.status is IncomingStatus.RECEIVED


def test_register_assign_progress_extend_complete() -> None:
    doc = arrived()
    doc.register(1, 2027, "2027-02-01", CLERK)
    assert doc.arrival_label == "01"
    unit = uuid4()
    doc.assign(lead_unit_id=unit, lead_user_id=None, supporting_unit_ids=[uuid4()],
               instructions="Tham mưu", deadline=NOW + timedelta(days=5), now=NOW,
               actor=LEADER)
    assert doc.status is IncomingStatus.ASSIGNED
    doc.record_progress("Đang dự thảo", HANDLER)
    assert doc.status is IncomingStatus.IN_PROGRESS
    doc.request_extension(NOW + timedelta(days=9), "Chờ ý kiến", HANDLER)
    with pytest.raises(InvalidStateError):
        doc.request_extension(NOW + timedelta(days=10), "again", HANDLER)
    doc.decide_extension(True, "Đồng ý", LEADER)
    assert doc.deadline == (NOW + timedelta(days=9)).isoformat()
    doc.complete("Đã trả lời", None, NOW + timedelta(days=8), HANDLER)
    assert doc.status is IncomingStatus.COMPLETED
    completed = doc.collect_events()[-1]
    assert completed.on_time is True  # type: ignore[attr-defined]


def test_a_refused_extension_keeps_the_deadline_and_late_completion_is_recorded() -> None:
    doc = arrived()
    doc.register(1, 2027, "2027-02-01", CLERK)
    deadline = NOW + timedelta(days=1)
    doc.assign(lead_unit_id=None, lead_user_id=uuid4(), supporting_unit_ids=[],
               instructions="", deadline=deadline, now=NOW, actor=LEADER)
    doc.request_extension(NOW + timedelta(days=3), "Cần thêm thời gian", HANDLER)
    doc.decide_extension(False, "Không đồng ý", LEADER)
    assert doc.deadline == deadline.isoformat()
    doc.complete("Xong", None, NOW + timedelta(days=2), HANDLER)
    assert doc.collect_events()[-1].on_time is False  # type: ignore[attr-defined]


def test_an_inauthentic_copy_cannot_be_registered_only_returned() -> None:
    doc = arrived(ok=False)
    with pytest.raises(InvalidStateError, match="authenticity"):
        doc.register(1, 2027, "2027-02-01", CLERK)
    doc.return_to_sender("Chữ ký số không hợp lệ", CLERK)
    assert doc.status is IncomingStatus.RETURNED
    with pytest.raises(InvalidStateError):
        doc.register(1, 2027, "2027-02-01", CLERK)


def test_out_of_order_and_bad_assignments_are_refused() -> None:
    doc = arrived()
    with pytest.raises(InvalidStateError):  # not registered yet
        doc.assign(lead_unit_id=uuid4(), lead_user_id=None, supporting_unit_ids=[],
                   instructions="", deadline=NOW + timedelta(days=1), now=NOW, actor=LEADER)
    doc.register(1, 2027, "2027-02-01", CLERK)
    with pytest.raises(InvalidInputError):  # nobody to lead
        doc.assign(lead_unit_id=None, lead_user_id=None, supporting_unit_ids=[],
                   instructions="", deadline=NOW + timedelta(days=1), now=NOW, actor=LEADER)
    with pytest.raises(InvalidInputError):  # a deadline in the past
        doc.assign(lead_unit_id=uuid4(), lead_user_id=None, supporting_unit_ids=[],
                   instructions="", deadline=NOW - timedelta(hours=1), now=NOW, actor=LEADER)
    unit = uuid4()
    with pytest.raises(InvalidInputError):  # lead and supporting at once
        doc.assign(lead_unit_id=unit, lead_user_id=None, supporting_unit_ids=[unit],
                   instructions="", deadline=NOW + timedelta(days=1), now=NOW, actor=LEADER)
    with pytest.raises(InvalidStateError):  # nothing assigned to complete
        doc.complete("x", None, NOW, HANDLER)
    assert [type(e).__name__ for e in doc.collect_events()] == ["Arrived", "Registered"]


def test_reassignment_is_marked_as_such() -> None:
    doc = arrived()
    doc.register(1, 2027, "2027-02-01", CLERK)
    for _ in range(2):
        doc.assign(lead_unit_id=uuid4(), lead_user_id=None, supporting_unit_ids=[],
                   instructions="", deadline=NOW + timedelta(days=1), now=NOW, actor=LEADER)
    flags = [e.reassignment for e in doc.collect_events()  # type: ignore[attr-defined]
             if isinstance(e, IncomingDocument.Assigned)]
    assert flags == [False, True]


def test_withdrawal_stops_handling_and_is_confirmed_once() -> None:
    doc = arrived()
    doc.register(1, 2027, "2027-02-01", CLERK)
    with pytest.raises(InvalidStateError):
        doc.confirm_withdrawal(CLERK)
    assert doc.withdraw("Sai nội dung", {"username": "sender"}) is True
    assert doc.withdraw("Sai nội dung", {"username": "sender"}) is False
    assert doc.status is IncomingStatus.WITHDRAWN
    with pytest.raises(InvalidStateError, match="recalled"):
        doc.assign(lead_unit_id=uuid4(), lead_user_id=None, supporting_unit_ids=[],
                   instructions="", deadline=NOW + timedelta(days=1), now=NOW, actor=LEADER)
    doc.confirm_withdrawal(CLERK)
    with pytest.raises(InvalidStateError):
        doc.confirm_withdrawal(CLERK)


def sealed_outgoing(agency_id: UUID) -> OutgoingDocument:
    """An outgoing document walked to SEALED with fake file references."""
    doc = OutgoingDocument.draft(
        agency_id=agency_id, unit_id=None, summary="Kế hoạch", doc_type=DocumentType.KE_HOACH,
        urgency=Urgency.NORMAL, confidentiality=Confidentiality.NORMAL, legal_normative=False,
        file=FILE, actor=CLERK)
    doc.submit_for_approval("", CLERK)
    doc.approve("", LEADER)
    doc.sign(capacity="own", signer_title="Giám đốc", input_sha256=FILE.sha256,  # type: ignore[arg-type]
             output=FILE, signature={}, actor=LEADER)
    doc.number(registration=Registration(1, "KH-STTTT", "2027-01-29", 2027, "general"),
               input_sha256=FILE.sha256, output=FILE, validation={}, actor=CLERK)
    doc.seal(input_sha256=FILE.sha256, output=FILE, signature={},
             competent_signature_valid=True, actor=CLERK)
    return doc


def test_dispatch_tracks_each_recipient_from_delivery_to_recall_confirmation() -> None:
    sender, ward_a, ward_b = uuid4(), uuid4(), uuid4()
    doc = sealed_outgoing(sender)
    with pytest.raises(InvalidInputError):
        doc.dispatch([{"agency_id": sender, "code": "S", "name": "S"}], [], "", CLERK)
    with pytest.raises(InvalidInputError):
        doc.dispatch([], [], "", CLERK)
    doc.dispatch([{"agency_id": ward_a, "code": "A", "name": "Phường A"},
                  {"agency_id": ward_b, "code": "B", "name": "Phường B"}], ["Báo X"], "",
                 CLERK)
    assert doc.status is Status.DISPATCHED
    assert doc.record_delivery(ward_a, uuid4()) is True
    assert doc.record_delivery(ward_a, uuid4()) is False  # idempotent
    doc.record_delivery(ward_b, uuid4())
    doc.record_acknowledgement(ward_a, "07", {"username": "a.clerk"})
    doc.record_return(ward_b, "Không đúng thẩm quyền", {"username": "b.clerk"})
    states = {r["code"]: r["state"] for r in doc.recipients.values()}
    assert states == {"A": Delivery.REGISTERED.value, "B": Delivery.RETURNED.value}
    doc.recall("Sai sót", CLERK)
    assert doc.status is Status.RECALLED
    states = {r["code"]: r["state"] for r in doc.recipients.values()}
    assert states == {"A": Delivery.WITHDRAWN.value, "B": Delivery.RETURNED.value}
    doc.record_recall_confirmation(ward_a, {"username": "a.clerk"})
    assert doc.recipients[str(ward_a)]["state"] == Delivery.RECALL_CONFIRMED.value
    with pytest.raises(InvalidStateError):
        doc.recall("again", CLERK)


def test_a_replacement_links_to_an_issued_document_of_the_same_agency() -> None:
    agency = uuid4()
    issued = sealed_outgoing(agency)
    draft = OutgoingDocument.draft(
        agency_id=agency, unit_id=None, summary="Thay thế", doc_type=DocumentType.KE_HOACH,
        urgency=Urgency.NORMAL, confidentiality=Confidentiality.NORMAL, legal_normative=False,
        file=FILE, actor=CLERK)
    with pytest.raises(InvalidStateError):  # sealed but not yet issued
        draft.link("replaces", issued, CLERK)  # type: ignore[arg-type]
    issued.dispatch([], ["Báo X"], "", CLERK)
    draft.link("replaces", issued, CLERK)  # type: ignore[arg-type]
    assert draft.links == [{"relation": "replaces", "target_id": str(issued.id),
                            "target_label": "01/KH-STTTT"}]
    other_agency = sealed_outgoing(uuid4())
    other_agency.dispatch([], ["Báo X"], "", CLERK)
    with pytest.raises(InvalidStateError):
        draft.link("corrects", other_agency, CLERK)  # type: ignore[arg-type]


def test_a_snapshot_from_before_dispatch_existed_still_loads() -> None:
    doc = sealed_outgoing(uuid4())
    snapshot = OutgoingDocument.Snapshot.take(doc)
    for name in ("links", "recipients", "external_recipients", "recall_reason"):
        snapshot.state.pop(name)
    restored = snapshot.mutate(None)
    assert restored.recipients == {}
    assert restored.links == []
