"""Every sending and receiving command over HTTP refuses a stale If-Match: 409, nothing stored.

Each refusal is made where the command would otherwise succeed (the same request with the
current version follows and is accepted), so the version check is what refused it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from tests.api import conftest as api_fixtures
from tests.api.conftest import Api
from tests.api.support import assert_error, drafted
from tests.exchange.test_scenario_api import _delivered, _issued, _ok, _setup
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

api = api_fixtures.api
api_settings = api_fixtures.api_settings


def _events_of(api: Api, aggregate_id: str) -> int:
    """Rows of one aggregate in the event store (the dispatch process writes others)."""
    with psycopg.connect(api.db.owner.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM docmgmt.docmgmt_events"
                           " WHERE originator_id = %s", (UUID(aggregate_id),)).fetchone()
    assert row is not None
    return int(row[0])


def _stale_then_current(api: Api, aggregate_id: str, current: int,
                        send: Callable[[dict[str, str]], httpx.Response]) -> Any:
    """Send with a stale version (409, no event stored), then with the current one."""
    before = _events_of(api, aggregate_id)
    assert_error(send({"If-Match": f'"{current + 7}"'}), 409, "stale_version")
    assert _events_of(api, aggregate_id) == before
    result = _ok(send({"If-Match": f'"{current}"'}))
    assert _events_of(api, aggregate_id) == before + 1
    return result


def _version(client: httpx.Client, url: str) -> int:
    return int(_ok(client.get(url))["version"])


def test_each_exchange_command_refuses_a_stale_version(api: Api) -> None:
    ids = _setup(api)
    c = {u: api.client(u) for u in ("sttttofficial", "sttttleader", "sttttclerk", "pbnleader",
                                     "pbnclerk", "pbnvhxh", "pdkclerk", "root")}
    plan = _issued(api, c, "Kế hoạch chuyển đổi số năm 2027", ["PBN", "PDK"])
    at_pbn, at_pdk = (_delivered(c["sttttclerk"], plan, w) for w in ("PBN", "PDK"))
    copy = f"/incoming/{at_pbn}"

    # The sender: dispatching again is refused for the version before its state.
    sent = _version(c["sttttclerk"], f"/documents/{plan}/recipients")
    before = _events_of(api, plan)
    assert_error(c["sttttclerk"].post(f"/documents/{plan}/dispatch", json={
        "recipients": ["PBN"]}, headers={"If-Match": f'"{sent + 7}"'}), 409, "stale_version")
    assert _events_of(api, plan) == before

    # The recipients: return, register, assign, progress, extension, decision, complete.
    _stale_then_current(api, at_pdk, _version(c["pdkclerk"], f"/incoming/{at_pdk}"), lambda h: c[
        "pdkclerk"].post(f"/incoming/{at_pdk}/return", json={"reason": "Sai nơi nhận"},
                         headers=h))
    _stale_then_current(api, at_pbn, _version(c["pbnclerk"], copy), lambda h: c["pbnclerk"].post(
        f"{copy}/register", json={}, headers=h))
    _stale_then_current(api, at_pbn, _version(c["pbnleader"], copy), lambda h: c["pbnleader"].post(
        f"{copy}/assign", json={"lead_unit_id": ids["PBN.VHXH"], "working_days": 5},
        headers=h))
    _stale_then_current(api, at_pbn, _version(c["pbnvhxh"], copy), lambda h: c["pbnvhxh"].post(
        f"{copy}/progress", json={"note": "Đang làm"}, headers=h))
    _stale_then_current(api, at_pbn, _version(c["pbnvhxh"], copy), lambda h: c["pbnvhxh"].post(
        f"{copy}/extension", json={"proposed_deadline": "2099-01-05T17:00:00+07:00",
                                   "reason": "Cần thêm số liệu"}, headers=h))
    _stale_then_current(api, at_pbn, _version(c["pbnleader"], copy), lambda h: c["pbnleader"].post(
        f"{copy}/extension/decision", json={"granted": True}, headers=h))
    _stale_then_current(api, at_pbn, _version(c["pbnvhxh"], copy), lambda h: c["pbnvhxh"].post(
        f"{copy}/complete", json={"result": "Đã triển khai"}, headers=h))

    # The sender recalls it; the ward confirms the withdrawal.
    _stale_then_current(api, plan, _version(c["sttttclerk"], f"/documents/{plan}/recipients"),
                        lambda h: c["sttttclerk"].post(f"/documents/{plan}/recall",
                                                       json={"reason": "Sai sót"},
                                                       headers=h))
    wait_until(lambda: _ok(c["pbnclerk"].get(copy))["withdrawn"])
    _stale_then_current(api, at_pbn, _version(c["pbnclerk"], copy), lambda h: c["pbnclerk"].post(
        f"{copy}/confirm-withdrawal", json={}, headers=h))

    # A replacement draft links to the recalled document.
    draft = drafted(c["sttttofficial"], summary="Kế hoạch (thay thế)")
    _stale_then_current(api, draft, _version(c["sttttofficial"], f"/documents/{draft}"),
                        lambda h: c["sttttofficial"].post(f"/documents/{draft}/links", json={
                            "relation": "replaces", "target_id": plan}, headers=h))

    # An administrator sets a ward's calendar.
    agency = next(a for a in _ok(c["root"].get("/agencies")) if a["code"] == "PBN")
    _stale_then_current(api, ids["PBN"], int(agency["version"]), lambda h: c["root"].put(
        f"/agencies/{ids['PBN']}/calendar", json={"extra_days_off": ["2099-01-02"]},
        headers=h))
