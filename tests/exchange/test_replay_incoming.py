"""Replay of an incoming copy: the command rebuilds it at each version, not only outgoing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from docmgmt.audit.replay import replay_document
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
