"""Logging in, bearer tokens, and what happens to the tokens of a disabled account."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from docmgmt.identity.secrets import with_jwt_secret
from tests.api.conftest import PASSWORD, Api, Logins, new_user
from tests.api.support import assert_error


def _token(api: Api, sub: str, *, secret: str | None = None, issuer: str | None = None,
           expires_in: timedelta = timedelta(minutes=5)) -> str:
    now = datetime.now(UTC)
    claims = {"sub": sub, "iss": issuer or api.settings.jwt_issuer, "iat": now, "nbf": now,
              "exp": now + expires_in, "sgen": 0}
    return jwt.encode(claims, secret or _secret(api), algorithm="HS256")


def _secret(api: Api) -> str:
    """The secret the served app signs with (its data folder's own, in development)."""
    secret = with_jwt_secret(api.settings).jwt_secret
    assert secret is not None
    return secret.get_secret_value()


def test_login_returns_a_bearer_token_for_me(
    shared_api: Api, shared_city: dict[str, Any]
) -> None:
    api, city = shared_api, shared_city
    # The official logs in with the password form.
    client = api.client()
    r = client.post("/auth/token", data={"username": "official_a", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == api.settings.jwt_ttl_minutes * 60
    # The token names the account and expires when it says it does.
    claims = jwt.decode(token["access_token"], _secret(api),
                        algorithms=["HS256"], issuer=api.settings.jwt_issuer)
    assert claims["sub"] == city["official_a"]
    assert claims["exp"] - claims["iat"] == token["expires_in"]
    # With it, /me describes the account.
    r = client.get("/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["id"] == city["official_a"]
    assert me["username"] == "official_a"
    assert me["full_name"] == "Official A"
    assert me["agency_id"] == city["SOA"]
    assert me["roles"] == ["official"]
    assert me["unit_id"] is None
    assert me["version"] == 1


def test_usernames_are_case_insensitive_at_login(
    shared_api: Api, shared_city: dict[str, Any]
) -> None:
    r = shared_api.client().post("/auth/token",
                                 data={"username": "  Official_A ", "password": PASSWORD})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("official_a", PASSWORD + "x", id="wrong-password"),
        pytest.param("nobody", PASSWORD, id="unknown-user"),
        pytest.param("x", PASSWORD, id="malformed-username"),
    ],
)
def test_bad_credentials_are_refused_alike(
    shared_api: Api, shared_city: dict[str, Any], username: str, password: str
) -> None:
    r = shared_api.client().post("/auth/token", data={"username": username, "password": password})
    body = assert_error(r, 401, "invalid_credentials")
    # One message for every case, so the answer does not reveal which usernames exist.
    assert body["detail"] == "wrong username or password"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "access_token" not in body


def test_login_without_a_password_field_is_invalid_request(shared_api: Api) -> None:
    r = shared_api.client().post("/auth/token", data={"username": "root"})
    body = assert_error(r, 422, "invalid_request")
    assert any(e["loc"] == ["body", "password"] for e in body["detail"])


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda api, uid: None, id="missing"),
        pytest.param(lambda api, uid: "Bearer not-a-jwt", id="garbage"),
        pytest.param(lambda api, uid: "Basic cm9vdDpwdw==", id="not-bearer"),
        pytest.param(lambda api, uid: "Bearer " + _token(api, uid, expires_in=timedelta(
            minutes=-1)), id="expired"),
        pytest.param(lambda api, uid: "Bearer " + _token(api, uid, secret="x" * 48),
                     id="foreign-secret"),
        pytest.param(lambda api, uid: "Bearer " + _token(api, uid, issuer="someone-else"),
                     id="foreign-issuer"),
        pytest.param(lambda api, uid: "Bearer " + _token(
            api, "6f1b8a52-54a8-4a3b-9a8e-1e2f3d4c5b6a"), id="unknown-user"),
        pytest.param(lambda api, uid: "Bearer " + _token(api, "root"), id="sub-not-a-uuid"),
    ],
)
def test_requests_without_a_valid_token_are_401(
    shared_api: Api, shared_city: dict[str, Any], make_header: Any
) -> None:
    header = make_header(shared_api, shared_city["official_a"])
    headers = {"Authorization": header} if header else {}
    for path in ("/me", "/documents", "/agencies", "/users"):
        r = shared_api.client().get(path, headers=headers)
        assert_error(r, 401, "not_authenticated")
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_a_fresh_token_made_with_the_servers_secret_is_accepted(
    shared_api: Api, shared_city: dict[str, Any]
) -> None:
    # The control for the cases above: the same recipe with valid claims works.
    r = shared_api.client().get("/me", headers={
        "Authorization": "Bearer " + _token(shared_api, shared_city["official_a"])})
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "official_a"


def test_a_token_accepted_before_is_refused_once_it_expires(
    shared_api: Api, shared_city: dict[str, Any]
) -> None:
    # The signature check is remembered per token; the expiry must still be checked on
    # every request.
    token = _token(shared_api, shared_city["official_a"], expires_in=timedelta(seconds=4))
    client = shared_api.client()
    assert client.get("/me", headers={"Authorization": "Bearer " + token}).status_code == 200
    time.sleep(5.1)
    r = client.get("/me", headers={"Authorization": "Bearer " + token})
    assert_error(r, 401, "not_authenticated")


def test_a_deactivated_user_is_locked_out_at_once(
    shared_api: Api, shared_city: dict[str, Any], login: Logins
) -> None:
    admin = login("root")
    username, user_id = new_user(admin, shared_city["SOA"], ["official"])
    # The official is logged in and working.
    official = shared_api.client(username)
    assert official.get("/me").status_code == 200
    assert official.get("/documents").status_code == 200
    # The admin disables the account.
    r = admin.post(f"/users/{user_id}/deactivate", json={"reason": "chuyển công tác"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": user_id, "version": 2}
    # The token already issued stops working on the next request.
    assert_error(official.get("/me"), 401, "not_authenticated")
    assert_error(official.get("/documents"), 401, "not_authenticated")
    # Logging in again is refused with the same answer as a wrong password.
    r = shared_api.client().post("/auth/token", data={"username": username, "password": PASSWORD})
    body = assert_error(r, 401, "invalid_credentials")
    assert body["detail"] == "wrong username or password"
    # The admin's user list shows the account as inactive; disabling it twice is a conflict.
    users = {u["username"]: u for u in admin.get("/users").json()}
    assert users[username]["active"] is False
    assert users["official_a"]["active"] is True
    r = admin.post(f"/users/{user_id}/deactivate", json={"reason": "again"})
    assert_error(r, 409, "invalid_state")
