"""Oversight mandates over HTTP: an admin grants, lists and revokes them; others only see
their own; bad input, unknown names and repeated commands get precise answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api import conftest as api_fixtures
from tests.api.conftest import Logins, new_user
from tests.api.support import assert_error

pytestmark = pytest.mark.postgres

BASIS = "Quyết định số 15/QĐ-UBND phân công giám sát"


# One served API, one city (tests/api/conftest.py's) and one login per user for the module.
shared_api = api_fixtures.shared_api
shared_city = api_fixtures.shared_city
login = api_fixtures.login


def _grant(client: httpx.Client, user: str, agency: str, **fields: Any) -> httpx.Response:
    return client.post("/oversight/mandates", json={
        "user_id": user, "agency_id": agency, "legal_basis": BASIS} | fields)


def _revoke(client: httpx.Client, user: str, agency: str) -> httpx.Response:
    return client.post(f"/oversight/mandates/{user}/{agency}/revoke",
                       json={"reason": "Điều chuyển công tác"})


def _listed(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/oversight/mandates", params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_admin_grants_lists_and_revokes(login: Logins, shared_city: dict[str, Any]) -> None:
    ids = shared_city
    admin, leader = login("root"), login("leader_a")
    # The admin gives Sở A's leader oversight of Sở A, from now, open-ended.
    r = _grant(admin, ids["leader_a"], ids["SOA"])
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2  # created, then granted
    # The listing shows it at once (read-your-writes), with names and in force.
    [m] = _listed(admin, user_id=ids["leader_a"])
    assert (m["full_name"], m["agency_code"], m["agency_name"], m["legal_basis"],
            m["in_force"], m["revoked"], m["valid_to"]) == (
        "Leader A", "SOA", "Sở A", BASIS, True, False, None)
    assert m["valid_from"].endswith("+07:00")
    # The leader sees their own mandate; another official sees none.
    assert [x["agency_id"] for x in _listed(leader)] == [ids["SOA"]]
    assert _listed(login("official_b")) == []
    # A second grant while it is current is refused: revoke it to change its terms.
    assert_error(_grant(admin, ids["leader_a"], ids["SOA"]), 409, "mandate_in_force")
    # The admin revokes it: at once out of force, and a second revocation is refused.
    r = _revoke(admin, ids["leader_a"], ids["SOA"])
    assert r.status_code == 200, r.text
    [m] = _listed(leader)
    assert (m["in_force"], m["revoked"], m["revoked_reason"]) == (
        False, True, "Điều chuyển công tác")
    assert_error(_revoke(admin, ids["leader_a"], ids["SOA"]), 409, "mandate_not_in_force")
    # Granted again, for a term that starts tomorrow: listed, not yet in force.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    r = _grant(admin, ids["leader_a"], ids["SOA"], valid_from=tomorrow.isoformat())
    assert r.status_code == 201, r.text
    [m] = _listed(leader)
    assert (m["in_force"], m["revoked"], m["version"]) == (False, False, 4)


def test_the_admin_pages_through_every_mandate(login: Logins, shared_city: dict[str, Any]) -> None:
    ids = shared_city
    admin = login("root")
    # Three mandates of its own over Sở B, whichever of the module's tests ran before (the
    # third to an inspector of its own: the others' mandates are checked elsewhere).
    _, inspector = new_user(admin, ids["SOA"], ["auditor"], prefix="inspector")
    for user in (ids["clerk_a"], ids["official_a"], inspector):
        assert _grant(admin, user, ids["SOB"]).status_code == 201
    first = admin.get("/oversight/mandates", params={"limit": 1}).json()
    assert len(first["items"]) == 1
    assert first["next_cursor"]
    seen = [first["items"][0]["id"]]
    cursor = first["next_cursor"]
    while cursor:
        page = admin.get("/oversight/mandates", params={"limit": 1, "cursor": cursor}).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    # Every mandate once, newest grant first.
    everything = _listed(admin, limit=200)
    assert seen == [m["id"] for m in everything]
    assert len(set(seen)) == len(seen) >= 3
    assert_error(admin.get("/oversight/mandates", params={"cursor": "not-ours"}), 422,
                 "invalid_input")


def test_only_an_admin_grants_or_revokes(login: Logins, shared_city: dict[str, Any]) -> None:
    ids = shared_city
    leader = login("leader_a")
    assert_error(_grant(leader, ids["leader_a"], ids["SOB"]), 403, "permission_denied")
    assert_error(_revoke(leader, ids["clerk_a"], ids["SOB"]), 403, "permission_denied")
    # Another user's mandates are not theirs to see: as if the user did not exist.
    r = leader.get("/oversight/mandates", params={"user_id": ids["clerk_a"]})
    assert_error(r, 404, "user_not_found")
    # Without a login, nothing.
    assert httpx.get(f"{login.api.base}/oversight/mandates").status_code == 401


def test_bad_input_is_refused_precisely(login: Logins, shared_city: dict[str, Any]) -> None:
    ids = shared_city
    admin = login("root")
    before = _listed(admin, limit=200)
    # No legal basis; a term that ends before it starts; a time without a zone.
    r = admin.post("/oversight/mandates", json={"user_id": ids["official_b"],
                                                "agency_id": ids["SOB"]})
    assert_error(r, 422, "invalid_request")
    now = datetime.now(UTC)
    r = _grant(admin, ids["official_b"], ids["SOB"], valid_from=now.isoformat(),
               valid_to=(now - timedelta(days=1)).isoformat())
    assert "valid_to" in assert_error(r, 422, "invalid_input")["detail"]
    r = _grant(admin, ids["official_b"], ids["SOB"], valid_from="2026-01-01T00:00:00")
    assert "valid_from" in assert_error(r, 422, "invalid_input")["detail"]
    assert_error(_grant(admin, ids["official_b"], ids["SOB"], legal_basis="  "), 422,
                 "invalid_input")
    # Unknown user or agency: 404; revoking a mandate never granted: 404.
    assert_error(_grant(admin, str(uuid.uuid4()), ids["SOB"]), 404, "user_not_found")
    assert_error(_grant(admin, ids["official_b"], str(uuid.uuid4())), 404, "agency_not_found")
    assert_error(_revoke(admin, ids["official_b"], ids["SOB"]), 404, "not_found")
    # Nothing was half-written.
    assert _listed(admin, limit=200) == before
