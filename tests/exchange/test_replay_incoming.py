"""Replay of an incoming copy: the command rebuilds it at each version, not only outgoing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from docmgmt.audit.replay import VersionNotFoundError, replay, replay_document
from docmgmt.domain.errors import DocumentNotFoundError
from docmgmt.incoming import handling
from tests.exchange.conftest import City
from tests.exchange.test_receipt import copy_at

pytestmark = pytest.mark.postgres

VN = timezone(timedelta(hours=7))


def test_an_incoming_copy_replays_at_each_version(city: City) -> None:
    copy = copy_at(city, "PBN")
    ex = replace(city.write.incoming, clock=lambda: datetime(2027, 3, 2, 9, 0, tzinfo=VN))
    handling.register(ex, city["PBN"]["clerk"], copy, None)
    first = replay_document(city.write.app, copy, version=1)
    assert first["kind"] == "incoming"
    assert first["status"] == "received"
    assert first["arrival_number"] is None
    assert first["requested_at"] == first["as_of"]
    second = replay_document(city.write.app, copy, version=2)
    assert second["status"] == "registered"
    assert second["arrival_number"] == 1
    assert second["sender_name"] == "Sở Thông tin và Truyền thông"


def test_replay_names_who_did_each_step_of_a_copy_and_what_they_said(city: City) -> None:
    """At every version of a copy, the replay through the audit step names the same
    actors, times and words as the copy's history (GET /incoming/{id}/history) then."""
    ward = city["PBN"]
    clerk, leader, official = ward["clerk"], ward["leader"], ward["vhxh"]
    copy = copy_at(city, "PBN")
    moment = datetime(2027, 3, 2, 9, 0, tzinfo=VN)
    ex = replace(city.write.incoming, clock=lambda: moment)
    shown = [handling.history(ex, clerk, copy)]
    # The clerk registers it; the leader assigns it to the culture unit's official.
    handling.register(ex, clerk, copy, None)
    shown.append(handling.history(ex, clerk, copy))
    handling.assign(ex, leader, copy, lead_unit_id=ward.units["VHXH"],
                    lead_user_id=official.user_id, supporting_unit_ids=[],
                    instructions="Chủ trì, báo cáo trước hạn", deadline=None, working_days=5,
                    expected_version=None)
    shown.append(handling.history(ex, clerk, copy))
    # The official asks for more time, the leader grants it, the official reports and
    # completes.
    handling.request_extension(ex, official, copy, moment + timedelta(days=14),
                               "Chờ số liệu của các khu phố", None)
    shown.append(handling.history(ex, clerk, copy))
    handling.decide_extension(ex, leader, copy, True, "Đồng ý gia hạn", None)
    shown.append(handling.history(ex, clerk, copy))
    handling.record_progress(ex, official, copy, "Đã tổng hợp 3/5 khu phố", None)
    shown.append(handling.history(ex, clerk, copy))
    handling.complete(ex, official, copy, "Đã báo cáo Sở", None, None)
    shown.append(handling.history(ex, clerk, copy))

    said = ("reason", "comment", "note", "instructions", "result")
    for history in shown:
        events = [h for h in history if h.stream == "document"]
        version = events[-1].version
        state = replay(city.write.app, clerk, copy, version=version, at=None)
        assert state["kind"] == "incoming"
        assert state["version"] == version
        assert [s["event"] for s in state["steps"]] == [
            h.type.rpartition(".")[2] for h in events]
        for step, entry in zip(state["steps"], events, strict=True):
            assert step["at"] == entry.time.isoformat()
            assert (step["actor"] or {}).get("user_id") == entry.actor.get("user_id")
            for word in said:
                if isinstance(entry.payload.get(word), str):
                    assert step[word] == entry.payload[word], (entry.type, word)
    # The last replay reads as the auditor's story of the copy.
    last = replay(city.write.app, clerk, copy, version=len(shown), at=None)
    assert last["status"] == "completed"
    by_event = {s["event"]: s for s in last["steps"]}
    assert by_event["Assigned"]["instructions"] == "Chủ trì, báo cáo trước hạn"
    assert by_event["Assigned"]["actor"]["user_id"] == str(leader.user_id)
    assert by_event["ExtensionRequested"]["reason"] == "Chờ số liệu của các khu phố"
    assert by_event["ExtensionRequested"]["actor"]["user_id"] == str(official.user_id)
    assert (by_event["ExtensionDecided"]["granted"],
            by_event["ExtensionDecided"]["comment"]) == (True, "Đồng ý gia hạn")
    assert by_event["Completed"]["result"] == "Đã báo cáo Sở"


def test_a_copy_replays_only_for_its_readers(city: City) -> None:
    copy = copy_at(city, "PBN")
    # Another ward's clerk, and the culture unit's official before it is assigned to
    # them, get the same answer as for a document that does not exist.
    for who in (city["PDK"]["clerk"], city["PBN"]["vhxh"]):
        with pytest.raises(DocumentNotFoundError):
            replay(city.write.app, who, copy, version=1, at=None)
    with pytest.raises(DocumentNotFoundError):
        replay(city.write.app, city["PBN"]["clerk"], uuid4(), version=1, at=None)
    # Its own clerk sees it; a version beyond the last is named as such.
    assert replay(city.write.app, city["PBN"]["clerk"], copy, version=1, at=None)["status"] \
        == "received"
    with pytest.raises(VersionNotFoundError):
        replay(city.write.app, city["PBN"]["clerk"], copy, version=2, at=None)
