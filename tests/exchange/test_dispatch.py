"""The dispatch process on the real stack: delivery, receipt, return, recall."""

from __future__ import annotations

from typing import Any

import pytest

from docmgmt.audit.replay import replay
from docmgmt.domain.errors import InvalidInputError, InvalidStateError
from docmgmt.domain.incoming import IncomingStatus
from docmgmt.domain.outgoing import Delivery, Status
from docmgmt.incoming import handling
from docmgmt.outgoing import sending
from tests.exchange.conftest import City
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres


def test_dispatch_delivers_one_checked_copy_per_recipient_agency(
        city: City, dispatcher: Any) -> None:
    ex = city.write.incoming
    # The department seals a plan and sends it to both wards and one external recipient.
    doc = city.sealed("STTTT", "Kế hoạch chuyển đổi số năm 2027")
    sending.dispatch(city.write.app, city["STTTT"]["clerk"], doc, ["PBN", "PDK"],
                     ["Báo Sài Gòn Giải Phóng"], "Gửi các phường", None)
    assert city.document(doc).status is Status.DISPATCHED

    # Each ward receives exactly one copy, checked on arrival.
    def delivered() -> bool:
        return all(r["incoming_id"] for r in city.document(doc).recipients.values())
    wait_until(delivered)
    for ward in ("PBN", "PDK"):
        copy = city.incoming(doc, ward)
        assert copy.status is IncomingStatus.RECEIVED
        assert copy.authentic, copy.authenticity
        assert copy.number_label.startswith("01/STTTT")
        assert copy.file["sha256"] == city.document(doc).sealed_file.sha256  # type: ignore[union-attr]
        assert copy.registration_due
        assert city.event_types(copy.id) == ["Arrived"]
    assert city.document(doc).external_recipients == ["Báo Sài Gòn Giải Phóng"]

    # Bến Nghé registers it, Đa Kao returns it; the sender sees both.
    handling.register(ex, city["PBN"]["clerk"], city.incoming(doc, "PBN").id, None)
    handling.return_to_sender(ex, city["PDK"]["clerk"], city.incoming(doc, "PDK").id,
                        "Không thuộc thẩm quyền", None)
    def answered() -> bool:
        states = {r["code"]: r["state"] for r in city.document(doc).recipients.values()}
        return states == {"PBN": Delivery.REGISTERED.value, "PDK": Delivery.RETURNED.value}
    wait_until(answered)
    assert city.incoming(doc, "PBN").arrival_number == 1

    # The sender recalls it: the kept copy is withdrawn, and the ward confirms.
    sending.recall(city.write.app, city["STTTT"]["clerk"], doc,
                   "Văn bản có sai sót về nội dung", None)
    wait_until(lambda: city.incoming(doc, "PBN").withdrawn)
    handling.confirm_withdrawal(ex, city["PBN"]["clerk"], city.incoming(doc, "PBN").id, None)
    wait_until(lambda: city.document(doc).recipients[str(city["PBN"].agency_id)]["state"]
               == Delivery.RECALL_CONFIRMED.value)
    # Every delivery was made exactly once.
    assert city.event_types(doc).count("DeliveredTo") == 2
    # The auditor's replay names each recipient's answer, who gave it and why.
    last = city.document(doc).version
    state = replay(city.write.app, city["STTTT"]["clerk"], doc, version=last, at=None)
    by_code = {r["code"]: r for r in state["recipients"]}
    assert by_code["PBN"]["state"] == Delivery.RECALL_CONFIRMED.value
    assert by_code["PBN"]["arrival_label"]
    assert (by_code["PDK"]["state"], by_code["PDK"]["reason"]) == (
        Delivery.RETURNED.value, "Không thuộc thẩm quyền")
    assert state["recall_reason"] == "Văn bản có sai sót về nội dung"
    assert state["external_recipients"] == ["Báo Sài Gòn Giải Phóng"]
    steps = {s["event"]: s for s in state["steps"]}
    assert steps["ReceiptAcknowledged"]["actor"]["user_id"] == str(city["PBN"]["clerk"].user_id)
    assert steps["DeliveryReturned"]["reason"] == "Không thuộc thẩm quyền"
    assert steps["DeliveryReturned"]["actor"]["user_id"] == str(city["PDK"]["clerk"].user_id)
    assert steps["Recalled"]["reason"] == "Văn bản có sai sót về nội dung"
    # As of the dispatch, no recipient had answered yet.
    dispatched = next(s["version"] for s in state["steps"] if s["event"] == "Dispatched")
    then = replay(city.write.app, city["STTTT"]["clerk"], doc, version=dispatched, at=None)
    assert {r["state"] for r in then["recipients"]} == {Delivery.PENDING.value}
    assert then["recall_reason"] is None


def test_dispatch_refusals_record_nothing(city: City) -> None:
    store = city.write.app
    doc = city.sealed("STTTT", "Thông báo lịch họp")
    version = city.document(doc).version
    with pytest.raises(InvalidInputError):
        sending.dispatch(store, city["STTTT"]["clerk"], doc, ["NOPE"], [], "", None)
    with pytest.raises(InvalidInputError):
        sending.dispatch(store, city["STTTT"]["clerk"], doc, ["STTTT"], [], "", None)
    with pytest.raises(InvalidInputError):
        sending.dispatch(store, city["STTTT"]["clerk"], doc, [], [], "", None)
    assert city.document(doc).version == version
    with pytest.raises(InvalidStateError):
        sending.recall(store, city["STTTT"]["clerk"], doc, "chưa gửi", None)

