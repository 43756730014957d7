"""Administration over HTTP: agencies, units, accounts, roles and passwords."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import PASSWORD, Api, Logins, new_user
from tests.api.support import assert_error, draft


def _code() -> str:
    return "CQ" + uuid.uuid4().hex[:6].upper()


def _agency(admin: httpx.Client, code: str, name: str = "Sở Nội vụ") -> dict[str, Any]:
    r = admin.post("/agencies", json={"code": code, "name": name})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def _login_status(api: Api, username: str, password: str) -> int:
    r = api.client().post("/auth/token", data={"username": username, "password": password})
    return r.status_code


# --- agencies and units ---------------------------------------------------------------


def test_admin_registers_an_agency_and_its_units(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    admin = login("root")
    # The admin registers an agency under a parent; codes are normalised to upper case.
    code = _code()
    r = admin.post("/agencies", json={"code": f" {code.lower()} ", "name": "Sở Tài chính",
                                      "parent_id": shared_city["SOA"]})
    assert r.status_code == 201, r.text
    agency = r.json()
    assert agency["version"] == 1
    # A unit is added against the version just read (If-Match), then one with the body field.
    r = admin.post(f"/agencies/{agency['id']}/units", json={"code": "vp", "name": "Văn phòng"},
                   headers={"If-Match": '"1"'})
    assert r.status_code == 201, r.text
    assert r.json() == {"id": agency["id"], "version": 2}
    r = admin.post(f"/agencies/{agency['id']}/units",
                   json={"code": "KHTC", "name": "Phòng Kế hoạch", "expected_version": 2})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 3
    # A third unit based on the stale version 1 is refused and not added.
    r = admin.post(f"/agencies/{agency['id']}/units", json={"code": "TT", "name": "Thanh tra"},
                   headers={"If-Match": '"1"'})
    body = assert_error(r, 409, "stale_version")
    assert "version 3" in body["detail"]
    # Any signed-in user sees the agency and exactly its two units in the address book.
    r = login("clerk_a").get("/agencies")
    assert r.status_code == 200, r.text
    listed = {a["code"]: a for a in r.json()}
    assert listed[code]["name"] == "Sở Tài chính"
    assert listed[code]["parent_id"] == shared_city["SOA"]
    assert listed[code]["version"] == 3
    assert sorted(u["code"] for u in listed[code]["units"]) == ["KHTC", "VP"]
    assert [u["code"] for u in listed["SOA"]["units"]] == ["VP"]
    assert listed["SOB"]["units"] == []


def test_duplicates_are_conflicts(shared_api: Api, login: Logins) -> None:
    admin = login("root")
    code = _code()
    agency = _agency(admin, code)
    # The same code in another case is the same agency.
    r = admin.post("/agencies", json={"code": code.lower(), "name": "Khác"})
    assert_error(r, 409, "already_exists")
    # A unit code is unique within its agency.
    r = admin.post(f"/agencies/{agency['id']}/units", json={"code": "VP", "name": "Văn phòng"})
    assert r.status_code == 201, r.text
    r = admin.post(f"/agencies/{agency['id']}/units", json={"code": "vp", "name": "Khác"})
    assert_error(r, 409, "already_exists")
    # A username is unique whatever its case.
    username, _ = new_user(admin, agency["id"], ["clerk"])
    r = admin.post("/users", json={"username": username.upper(), "full_name": "Trùng",
                                   "password": PASSWORD, "roles": ["clerk"],
                                   "agency_id": agency["id"]})
    assert_error(r, 409, "already_exists")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"code": "X1", "name": "   "}, 422, "invalid_input", id="blank-name"),
        pytest.param({"code": "A B", "name": "Sở"}, 422, "invalid_input", id="code-with-space"),
        pytest.param({"code": "", "name": "Sở"}, 422, "invalid_input", id="empty-code"),
        pytest.param({"code": "X" * 33, "name": "Sở"}, 422, "invalid_input", id="long-code"),
        pytest.param({"name": "Sở"}, 422, "invalid_request", id="missing-code"),
        pytest.param({"code": "X2", "name": "Sở", "parent_id": "nope"}, 422, "invalid_request",
                     id="parent-not-uuid"),
        pytest.param({"code": "X3", "name": "Sở", "parent_id": str(uuid.uuid4())}, 404,
                     "agency_not_found", id="unknown-parent"),
    ],
)
def test_bad_agency_input(
    shared_api: Api, login: Logins, body: dict[str, Any], status: int, code: str
) -> None:
    r = login("root").post("/agencies", json=body)
    assert_error(r, status, code)
    assert body.get("code") not in {a["code"] for a in login("root").get("/agencies").json()}


def test_bad_unit_requests(shared_api: Api, login: Logins) -> None:
    admin = login("root")
    agency = _agency(admin, _code())
    url = f"/agencies/{agency['id']}/units"
    assert_error(admin.post(f"/agencies/{uuid.uuid4()}/units", json={"code": "VP", "name": "V"}),
                 404, "agency_not_found")
    assert_error(admin.post(url, json={"code": "VP", "name": ""}), 422, "invalid_input")
    assert_error(admin.post(url, json={"code": "VP"}), 422, "invalid_request")
    assert_error(admin.post(url, json={"code": "VP", "name": "V"}, headers={"If-Match": "abc"}),
                 422, "invalid_input")
    # The header and the body must agree on the version the caller read.
    r = admin.post(url, json={"code": "VP", "name": "V", "expected_version": 2},
                   headers={"If-Match": '"1"'})
    assert_error(r, 422, "invalid_input")
    # None of these added a unit.
    listed = {a["id"]: a for a in admin.get("/agencies").json()}
    assert listed[agency["id"]]["units"] == []
    assert listed[agency["id"]]["version"] == 1


# --- accounts -------------------------------------------------------------------------


def test_admin_creates_an_account_that_can_log_in(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    admin = login("root")
    agency = _agency(admin, _code())
    r = admin.post(f"/agencies/{agency['id']}/units", json={"code": "VP", "name": "Văn phòng"})
    assert r.status_code == 201, r.text
    unit_id = next(u["id"] for a in admin.get("/agencies").json() if a["id"] == agency["id"]
                   for u in a["units"])
    # The admin creates a leader in the unit.
    username = "lan." + uuid.uuid4().hex[:6]
    r = admin.post("/users", json={
        "username": username, "full_name": "Trần Thị Lan", "password": "mat-khau-ban-dau",
        "roles": ["leader", "official"], "agency_id": agency["id"], "unit_id": unit_id,
        "title": "Chánh Văn phòng",
    })
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    user_id = r.json()["id"]
    # The leader logs in with the initial password and sees their account.
    me = shared_api.client(username, "mat-khau-ban-dau").get("/me").json()
    assert me == {"id": user_id, "username": username, "full_name": "Trần Thị Lan",
                  "title": "Chánh Văn phòng", "agency_id": agency["id"], "unit_id": unit_id,
                  "roles": ["leader", "official"], "version": 1}


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        pytest.param({"password": "short"}, 422, "invalid_request", id="short-password"),
        pytest.param({"roles": ["superuser"]}, 422, "invalid_request", id="unknown-role"),
        pytest.param({"roles": []}, 422, "invalid_input", id="no-roles"),
        pytest.param({"username": "a b"}, 422, "invalid_input", id="username-with-space"),
        pytest.param({"username": "ab"}, 422, "invalid_input", id="username-too-short"),
        pytest.param({"full_name": "  "}, 422, "invalid_input", id="blank-full-name"),
        pytest.param({"agency_id": str(uuid.uuid4())}, 404, "agency_not_found",
                     id="unknown-agency"),
        pytest.param({"unit_id": str(uuid.uuid4())}, 404, "unit_not_found", id="unknown-unit"),
        pytest.param({"agency_id": None}, 422, "invalid_request", id="missing-agency"),
    ],
)
def test_bad_account_input_creates_nothing(
    shared_api: Api, login: Logins, shared_city: dict[str, Any], change: dict[str, Any],
    status: int, code: str,
) -> None:
    admin = login("root")
    body = {"username": "new_" + uuid.uuid4().hex[:6], "full_name": "Người Mới",
            "password": PASSWORD, "roles": ["clerk"], "agency_id": shared_city["SOB"]} | change
    body = {k: v for k, v in body.items() if v is not None}
    assert_error(admin.post("/users", json=body), status, code)
    assert body["username"] not in {u["username"] for u in admin.get("/users").json()}


def test_who_sees_which_accounts(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    admin = login("root")
    # The admin sees every agency's accounts, or one agency's on request.
    everyone = {u["username"]: u for u in admin.get("/users").json()}
    assert {"root", "official_a", "leader_a", "clerk_a", "official_b"} <= set(everyone)
    assert everyone["official_a"]["roles"] == ["official"]
    assert everyone["official_a"]["agency_id"] == shared_city["SOA"]
    assert all("password" not in key for u in everyone.values() for key in u)
    r = admin.get("/users", params={"agency_id": shared_city["SOA"]})
    assert r.status_code == 200, r.text
    in_a = {u["username"] for u in r.json()}
    assert {"official_a", "leader_a", "clerk_a"} <= in_a
    assert "official_b" not in in_a
    assert "root" not in in_a
    assert all(u["agency_id"] == shared_city["SOA"] for u in r.json())
    # Anyone else sees only their own agency, even when asking for another.
    for username, agency in [("clerk_a", "SOA"), ("official_b", "SOB")]:
        for params in ({}, {"agency_id": shared_city["SOA" if agency == "SOB" else "SOB"]}):
            r = login(username).get("/users", params=params)
            assert r.status_code == 200, r.text
            assert r.json(), "an agency always lists at least the caller"
            assert {u["agency_id"] for u in r.json()} == {shared_city[agency]}
    assert_error(admin.get("/users", params={"agency_id": "nope"}), 422, "invalid_request")


def test_admin_changes_roles_and_the_next_request_uses_them(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    admin = login("root")
    username, user_id = new_user(admin, shared_city["SOA"], ["official"])
    official = shared_api.client(username)
    assert draft(official).status_code == 201
    # The admin makes the official an auditor, quoting the version read (1).
    r = admin.put(f"/users/{user_id}/roles", json={"roles": ["auditor"]},
                  headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": user_id, "version": 2}
    # The token of before is ended; logged in again, the auditor reads documents but may
    # no longer draft them.
    assert_error(official.get("/me"), 401, "not_authenticated")
    official = shared_api.client(username)
    assert official.get("/me").json()["roles"] == ["auditor"]
    assert official.get("/documents").status_code == 200
    assert_error(draft(official), 403, "permission_denied")
    # A change based on the old version is refused; bad roles are refused.
    r = admin.put(f"/users/{user_id}/roles", json={"roles": ["leader"]},
                  headers={"If-Match": '"1"'})
    assert_error(r, 409, "stale_version")
    r = admin.put(f"/users/{user_id}/roles", json={"roles": ["leader"], "expected_version": 1})
    assert_error(r, 409, "stale_version")
    assert_error(admin.put(f"/users/{user_id}/roles", json={"roles": ["boss"]}), 422,
                 "invalid_request")
    assert_error(admin.put(f"/users/{user_id}/roles", json={"roles": []}), 422, "invalid_input")
    assert_error(admin.put(f"/users/{uuid.uuid4()}/roles", json={"roles": ["clerk"]}), 404,
                 "user_not_found")
    assert official.get("/me").json()["roles"] == ["auditor"]
    # Roles with the body's expected_version work too.
    r = admin.put(f"/users/{user_id}/roles", json={"roles": ["clerk", "leader"],
                                                   "expected_version": 2})
    assert r.status_code == 200, r.text
    assert shared_api.client(username).get("/me").json()["roles"] == ["clerk", "leader"]


def test_deactivation_needs_a_reason_and_an_existing_account(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    admin = login("root")
    _, user_id = new_user(admin, shared_city["SOB"], ["clerk"])
    assert_error(admin.post(f"/users/{user_id}/deactivate", json={"reason": " "}), 422,
                 "invalid_input")
    assert_error(admin.post(f"/users/{user_id}/deactivate", json={}), 422, "invalid_request")
    assert_error(admin.post(f"/users/{uuid.uuid4()}/deactivate", json={"reason": "x"}), 404,
                 "user_not_found")
    users = {u["id"]: u for u in admin.get("/users").json()}
    assert users[user_id]["active"] is True


# --- passwords ------------------------------------------------------------------------


def test_users_change_their_own_password(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    username, user_id = new_user(login("root"), shared_city["SOA"], ["clerk"])
    clerk = shared_api.client(username)
    # The clerk picks a new password.
    r = clerk.put(f"/users/{user_id}/password", json={"password": "mot-mat-khau-moi"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": user_id, "version": 2}
    # Only the new one opens the account now.
    assert _login_status(shared_api, username, PASSWORD) == 401
    assert _login_status(shared_api, username, "mot-mat-khau-moi") == 200
    # The token of before is ended; a password under ten characters is refused and
    # changes nothing.
    assert_error(clerk.get("/me"), 401, "not_authenticated")
    clerk = shared_api.client(username, "mot-mat-khau-moi")
    r = clerk.put(f"/users/{user_id}/password", json={"password": "ngan"})
    assert_error(r, 422, "invalid_request")
    assert _login_status(shared_api, username, "mot-mat-khau-moi") == 200


def test_only_an_admin_sets_another_users_password(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    admin = login("root")
    username, user_id = new_user(admin, shared_city["SOA"], ["official"])
    # A leader of the same agency may not set the official's password.
    r = login("leader_a").put(f"/users/{user_id}/password", json={"password": "bi-chiem-quyen"})
    body = assert_error(r, 403, "permission_denied")
    assert "admin" in body["detail"]
    assert _login_status(shared_api, username, "bi-chiem-quyen") == 401
    assert _login_status(shared_api, username, PASSWORD) == 200
    # The admin resets it: the new password works, the old one no longer does.
    r = admin.put(f"/users/{user_id}/password", json={"password": "dat-lai-boi-admin"})
    assert r.status_code == 200, r.text
    assert _login_status(shared_api, username, "dat-lai-boi-admin") == 200
    assert _login_status(shared_api, username, PASSWORD) == 401
    # Resetting an account that does not exist is a 404.
    r = admin.put(f"/users/{uuid.uuid4()}/password", json={"password": "dat-lai-boi-admin"})
    assert_error(r, 404, "user_not_found")


def test_a_deactivated_account_stays_locked_after_a_password_reset(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    admin = login("root")
    username, user_id = new_user(admin, shared_city["SOA"], ["clerk"])
    r = admin.post(f"/users/{user_id}/deactivate", json={"reason": "nghỉ hưu"})
    assert r.status_code == 200, r.text
    # The reset is refused for a disabled account, and logging in stays impossible.
    r = admin.put(f"/users/{user_id}/password", json={"password": "mat-khau-moi-123"})
    assert_error(r, 409, "invalid_state")
    assert _login_status(shared_api, username, "mat-khau-moi-123") == 401
    assert _login_status(shared_api, username, PASSWORD) == 401


# --- only admins administer -----------------------------------------------------------


@pytest.mark.parametrize("username", ["official_a", "leader_a", "clerk_a"])
def test_non_admins_are_refused_every_admin_command(
    shared_api: Api, login: Logins, shared_city: dict[str, Any], username: str
) -> None:
    client = login(username)
    target = shared_city["official_b"]
    requests = [
        ("POST", "/agencies", {"code": _code(), "name": "Sở Lạ"}),
        ("POST", f"/agencies/{shared_city['SOA']}/units", {"code": "PX", "name": "Phòng X"}),
        ("POST", "/users", {"username": "x_" + uuid.uuid4().hex[:6], "full_name": "X",
                            "password": PASSWORD, "roles": ["admin"],
                            "agency_id": shared_city["SOA"]}),
        ("PUT", f"/users/{target}/roles", {"roles": ["admin"]}),
        ("POST", f"/users/{target}/deactivate", {"reason": "không thích"}),
        ("PUT", f"/users/{target}/password", {"password": "chiem-tai-khoan"}),
    ]
    for method, url, body in requests:
        assert_error(client.request(method, url, json=body), 403, "permission_denied")
    # Nothing changed: no new agency, unit or user, and official_b is untouched.
    admin = login("root")
    agencies = {a["code"]: a for a in admin.get("/agencies").json()}
    assert requests[0][2]["code"] not in agencies
    assert [u["code"] for u in agencies["SOA"]["units"]] == ["VP"]
    users = {u["username"]: u for u in admin.get("/users").json()}
    assert requests[2][2]["username"] not in users
    assert users["official_b"]["roles"] == ["official"]
    assert users["official_b"]["active"] is True
    assert _login_status(shared_api, "official_b", PASSWORD) == 200


def test_admin_sets_the_place_name_before_the_date(shared_api: Api, login: Logins) -> None:
    admin = login("root")
    agency = _agency(admin, _code())
    path = f"/agencies/{agency['id']}/place-name"
    r = admin.put(path, json={"place_name": "Thành phố Hồ Chí Minh"},
                  headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": agency["id"], "version": 2}
    # A stale version is refused; a clerk may not set it; an empty name is invalid.
    assert_error(admin.put(path, json={"place_name": "Hải Châu", "expected_version": 1}),
                 409, "stale_version")
    assert login("clerk_a").put(path, json={"place_name": "Hải Châu"}).status_code == 403
    assert_error(admin.put(path, json={"place_name": "  "}), 422, "invalid_input")
    listed = {a["id"]: a for a in login("clerk_a").get("/agencies").json()}
    assert listed[agency["id"]]["version"] == 2
