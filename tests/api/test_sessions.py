"""Sessions: a password change, reset, deactivation or role change ends older tokens."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import PASSWORD, Api, Logins, new_user
from tests.api.support import assert_error
from tests.support.server import serve

NEW_PASSWORD = "another-long-passphrase"


def _token(api: Api, username: str, password: str = PASSWORD) -> str:
    r = api.client().post("/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _me(base: str, token: str) -> httpx.Response:
    return httpx.get(base + "/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_own_password_change_ends_older_tokens(
    shared_api: Api, shared_city: dict[str, Any], login: Logins
) -> None:
    username, user_id = new_user(login("root"), shared_city["SOA"], ["official"])
    # The official is logged in twice (office PC and phone).
    pc, phone = _token(shared_api, username), _token(shared_api, username)
    assert _me(shared_api.base, phone).status_code == 200
    # From the PC, they change their password.
    r = httpx.put(f"{shared_api.base}/users/{user_id}/password", json={"password": NEW_PASSWORD},
                  headers={"Authorization": f"Bearer {pc}"}, timeout=30)
    assert r.status_code == 200, r.text
    # Both tokens issued before the change are refused on the very next request.
    assert_error(_me(shared_api.base, phone), 401, "not_authenticated")
    assert_error(_me(shared_api.base, pc), 401, "not_authenticated")
    # A token from the new password works.
    assert _me(shared_api.base, _token(shared_api, username, NEW_PASSWORD)).status_code == 200


def test_admin_reset_ends_older_tokens(
    shared_api: Api, shared_city: dict[str, Any], login: Logins
) -> None:
    username, user_id = new_user(login("root"), shared_city["SOA"], ["official"])
    old = _token(shared_api, username)
    r = login("root").put(f"/users/{user_id}/password", json={"password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    assert_error(_me(shared_api.base, old), 401, "not_authenticated")
    assert _me(shared_api.base, _token(shared_api, username, NEW_PASSWORD)).status_code == 200


def test_role_change_ends_older_tokens(
    shared_api: Api, shared_city: dict[str, Any], login: Logins
) -> None:
    username, user_id = new_user(login("root"), shared_city["SOA"], ["official", "clerk"])
    old = _token(shared_api, username)
    r = login("root").put(f"/users/{user_id}/roles", json={"roles": ["official"]})
    assert r.status_code == 200, r.text
    assert_error(_me(shared_api.base, old), 401, "not_authenticated")
    # Logging in again gives a token with the new roles.
    r = _me(shared_api.base, _token(shared_api, username))
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["official"]


def test_deactivation_and_reactivation(
    shared_api: Api, shared_city: dict[str, Any], login: Logins
) -> None:
    admin = login("root")
    username, user_id = new_user(admin, shared_city["SOA"], ["official"])
    old = _token(shared_api, username)
    r = admin.post(f"/users/{user_id}/deactivate", json={"reason": "nghỉ phép dài hạn"})
    assert r.status_code == 200, r.text
    assert_error(_me(shared_api.base, old), 401, "not_authenticated")
    # Only an admin reactivates.
    r = login("official_a").post(f"/users/{user_id}/reactivate", json={"reason": "trở lại"})
    assert_error(r, 403, "permission_denied")
    r = admin.post(f"/users/{user_id}/reactivate", json={"reason": "trở lại làm việc"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": user_id, "version": 3}
    # The account is listed as active, logs in again, but the token of before stays dead.
    users = {u["username"]: u for u in admin.get("/users").json()}
    assert users[username]["active"] is True
    assert_error(_me(shared_api.base, old), 401, "not_authenticated")
    assert _me(shared_api.base, _token(shared_api, username)).status_code == 200
    # Reactivating an active account is a conflict; the history shows the event.
    r = admin.post(f"/users/{user_id}/reactivate", json={"reason": "again"})
    assert_error(r, 409, "invalid_state")


def test_the_last_active_admin_stays(
    shared_api: Api, shared_city: dict[str, Any], login: Logins
) -> None:
    admin = login("root")
    root_id = next(u["id"] for u in admin.get("/users").json() if u["username"] == "root")
    # Root is the only admin: it can neither demote nor disable itself.
    r = admin.put(f"/users/{root_id}/roles", json={"roles": ["official"]})
    body = assert_error(r, 409, "last_admin")
    assert "last active admin" in body["detail"]
    r = admin.post(f"/users/{root_id}/deactivate", json={"reason": "thử"})
    assert_error(r, 409, "last_admin")
    # With a second admin, root may step down to admin + official, and the second admin may
    # then be disabled only while root still holds the admin role.
    second, second_id = new_user(admin, shared_city["SOA"], ["admin"], prefix="admin")
    r = admin.put(f"/users/{root_id}/roles", json={"roles": ["admin", "official"]})
    assert r.status_code == 200, r.text
    admin = shared_api.client("root")  # the role change ended root's older token
    other = shared_api.client(second)
    r = other.put(f"/users/{root_id}/roles", json={"roles": ["official"]})
    assert r.status_code == 200, r.text
    # Now the second admin is the last one.
    r = other.post(f"/users/{second_id}/deactivate", json={"reason": "thử"})
    assert_error(r, 409, "last_admin")
    r = other.put(f"/users/{root_id}/roles", json={"roles": ["admin"]})
    assert r.status_code == 200, r.text
    login._clients.pop("root", None)


def test_two_admins_demoting_each_other_at_once_leave_one(
    api: Api, city: dict[str, Any]
) -> None:
    import threading

    root = api.client("root")
    a_name, a_id = new_user(root, city["SOA"], ["admin"], prefix="adm")
    root_id = next(u["id"] for u in root.get("/users").json() if u["username"] == "root")
    a = api.client(a_name)
    results: dict[str, int] = {}
    barrier = threading.Barrier(2)

    def demote(name: str, client: httpx.Client, target: str) -> None:
        barrier.wait()
        results[name] = client.put(f"/users/{target}/roles",
                                   json={"roles": ["official"]}).status_code

    threads = [threading.Thread(target=demote, args=("root", root, a_id)),
               threading.Thread(target=demote, args=("a", a, root_id))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # One demotion wins; the other is refused (409 last_admin, or 401 if the winner's
    # change ended the loser's token first): one admin is left either way.
    assert sorted(results.values())[0] == 200, results
    assert sorted(results.values())[1] in (401, 409), results
    admins = [u for u in api.client("root" if results["a"] != 200 else a_name).get("/users")
              .json() if "admin" in u["roles"] and u["active"]]
    assert len(admins) == 1, admins


def test_tokens_end_across_api_processes(api: Api, city: dict[str, Any]) -> None:
    # A second API server on the same database: what one server writes, the other obeys.
    username, user_id = new_user(api.client("root"), city["SOA"], ["official"])
    old = _token(api, username)
    with serve(api.settings) as other:
        assert _me(other, old).status_code == 200
        r = api.client("root").put(f"/users/{user_id}/password",
                                   json={"password": NEW_PASSWORD})
        assert r.status_code == 200, r.text
        assert_error(_me(other, old), 401, "not_authenticated")
