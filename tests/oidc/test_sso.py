"""Single sign-on through a real OpenID provider on 127.0.0.1: the pages' code flow, the
API's token exchange, refusals, passwords turned off, and signing out."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.conftest import PASSWORD, Api, served_api
from tests.support.oidc import Provider, running_provider, sso_settings
from tests.support.pages import CSRF_FIELD, Pages, csrf_token, text_of
from tests.support.pg import Cluster
from tests.support.server import free_port

SSO_BUTTON_VI = "Đăng nhập bằng tài khoản một lần (SSO)"


@pytest.fixture(scope="module")
def sso_api(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory,
            oidc_provider: Provider) -> Iterator[Api]:
    """docmgmt with single sign-on through the test provider (passwords still on)."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("data"),
                    **sso_settings(oidc_provider)) as api:
        yield api


@pytest.fixture(scope="module")
def agency(sso_api: Api) -> str:
    """An agency to put accounts in."""
    admin = sso_api.client("root")
    r = admin.post("/agencies", json={"code": "SSOA", "name": "Sở A"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def make_user(api: Api, agency: str, username: str, roles: list[str]) -> str:
    """An account made by the admin, as today (SSO creates none)."""
    admin = api.client("root")
    r = admin.post("/users", json={"username": username, "full_name": username.title(),
                                   "password": PASSWORD, "roles": roles, "agency_id": agency})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def through_provider(pages: Pages, provider: Provider, sub: str,
                     next_path: str = "/app/") -> httpx.Response:
    """Press the SSO button, sign in at the provider as ``sub``, come back: the answer of
    docmgmt's callback."""
    r = pages.get("/app/login/sso", params={"next": next_path})
    assert r.status_code == 303, r.text
    authorize = r.headers["location"]
    assert authorize.startswith(provider.issuer + "/oauth2/authorize?")
    asked = parse_qs(urlsplit(authorize).query)
    # The flow carries PKCE (S256), a state and a nonce.
    assert asked["code_challenge_method"] == ["S256"]
    assert asked["state"][0]
    assert asked["nonce"][0]
    assert asked["code_challenge"][0]
    back = provider.approve(authorize, sub)
    assert back.startswith(pages.http.base_url.join("/app/login/sso/callback").__str__())
    return pages.get(back)


def session_cookie(pages: Pages) -> str | None:
    """The page session this browser holds."""
    return pages.http.cookies.get("docmgmt_session")


def test_a_matched_account_signs_in_through_the_provider_and_logout_ends_it(
        sso_api: Api, agency: str, oidc_provider: Provider) -> None:
    # An admin made Lan's account as a leader; the city's provider knows her as lan.sso.
    make_user(sso_api, agency, "lan.sso", ["leader"])
    oidc_provider.set_user("sub-lan", preferred_username="lan.sso", name="Someone Else")
    pages = Pages(sso_api.base)
    # The sign-in page offers single sign-on, in Vietnamese by default.
    assert SSO_BUTTON_VI in text_of(pages.get("/app/login").text)
    # She signs in at the provider and comes back signed in, to where she was going.
    r = through_provider(pages, oidc_provider, "sub-lan", "/app/documents")
    assert r.status_code == 303, text_of(r.text)
    assert r.headers["location"] == "/app/documents"
    token = session_cookie(pages)
    assert token
    home = pages.get("/app/")
    assert home.status_code == 200
    # She is the docmgmt account, with docmgmt's roles (nothing from the provider).
    me = httpx.get(sso_api.base + "/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "lan.sso"
    assert me.json()["roles"] == ["leader"]
    assert me.json()["full_name"] == "Lan.Sso"
    # She signs out: docmgmt ends her session and sends her to the provider's logout.
    r = pages.post("/app/logout", token=csrf_token(home.text))
    assert r.status_code == 303
    logout = urlsplit(r.headers["location"])
    assert f"{logout.scheme}://{logout.netloc}{logout.path}" == \
        oidc_provider.issuer + "/oauth2/end_session"
    hints = parse_qs(logout.query)
    assert hints["post_logout_redirect_uri"] == [sso_api.base + "/app/login"]
    assert hints["id_token_hint"][0].count(".") == 2
    assert session_cookie(pages) is None
    # The old cookie, kept by someone, no longer works anywhere.
    stale = Pages(sso_api.base)
    stale.http.cookies.set("docmgmt_session", token)
    r = stale.get("/app/")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/app/login")
    r = httpx.get(sso_api.base + "/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_an_unknown_subject_is_refused_with_no_session(
        sso_api: Api, oidc_provider: Provider) -> None:
    # The provider vouches for someone no account here matches.
    oidc_provider.set_user("sub-ghost", preferred_username="ghost.nobody")
    pages = Pages(sso_api.base)
    r = through_provider(pages, oidc_provider, "sub-ghost")
    assert r.status_code == 401
    assert "Không có tài khoản nào trong hệ thống khớp" in text_of(r.text)
    assert session_cookie(pages) is None
    # The same words in English for an English reader.
    english = Pages(sso_api.base)
    english.http.cookies.set("docmgmt_lang", "en")
    r = through_provider(english, oidc_provider, "sub-ghost")
    assert r.status_code == 401
    assert "No account in the system matches your single sign-on identity" in text_of(r.text)
    assert session_cookie(english) is None
    # The refusal is on the record of failed logins, as a refused password is.
    failed = sso_api.client("root").get("/auth/failed-logins").json()
    assert "ghost.nobody" in [f["username"] for f in failed]


def test_a_disabled_account_is_refused_with_no_session(
        sso_api: Api, agency: str, oidc_provider: Provider) -> None:
    user_id = make_user(sso_api, agency, "binh.sso", ["official"])
    r = sso_api.client("root").post(f"/users/{user_id}/deactivate",
                                    json={"reason": "chuyển công tác"})
    assert r.status_code == 200, r.text
    oidc_provider.set_user("sub-binh", preferred_username="binh.sso")
    pages = Pages(sso_api.base)
    r = through_provider(pages, oidc_provider, "sub-binh")
    assert r.status_code == 401
    assert "Tài khoản của bạn đã bị khóa" in text_of(r.text)
    assert session_cookie(pages) is None
    # Nor can an API client exchange the provider's token for one.
    id_token = oidc_provider.tokens_for("sub-binh")["id_token"]
    r = exchange(sso_api, id_token)
    assert r.status_code == 401
    assert r.json()["error"] == "sso_account_disabled"


def test_an_answer_for_another_browser_or_a_forged_state_is_refused(
        sso_api: Api, agency: str, oidc_provider: Provider) -> None:
    make_user(sso_api, agency, "chi.sso", ["official"])
    oidc_provider.set_user("sub-chi", preferred_username="chi.sso")
    # A victim's browser is handed the attacker's code (login CSRF): its flow never began.
    attacker = Pages(sso_api.base)
    authorize = attacker.get("/app/login/sso").headers["location"]
    back = oidc_provider.approve(authorize, "sub-chi")
    victim = Pages(sso_api.base)
    r = victim.get(back)
    assert r.status_code == 401
    assert session_cookie(victim) is None
    # The right browser with a state that is not its own.
    forged = back.replace("state=", "state=x")
    r = attacker.get(forged)
    assert r.status_code == 401
    assert session_cookie(attacker) is None
    # The provider refusing (the person pressed Deny) signs nobody in either.
    r = attacker.get("/app/login/sso/callback", params={"error": "access_denied",
                                                         "state": "whatever"})
    assert r.status_code == 401
    assert session_cookie(attacker) is None


def test_an_id_token_minted_for_another_sign_in_is_refused(
        sso_api: Api, agency: str, oidc_provider: Provider) -> None:
    oidc_provider.set_user("sub-giang", preferred_username="giang.sso")
    make_user(sso_api, agency, "giang.sso", ["official"])
    pages = Pages(sso_api.base)
    authorize = pages.get("/app/login/sso").headers["location"]
    # The browser's own state comes back, but the code's ID token carries another nonce
    # (a token minted for some other sign-in, replayed into this one).
    nonce = parse_qs(urlsplit(authorize).query)["nonce"][0]
    back = oidc_provider.approve(authorize.replace(f"nonce={nonce}", "nonce=replayed"),
                                 "sub-giang")
    r = pages.get(back)
    assert r.status_code == 401
    assert "Không xác minh được phản hồi" in text_of(r.text)
    assert session_cookie(pages) is None


def exchange(api: Api, token: str, token_type: str = "id_token") -> httpx.Response:  # noqa: S107
    """POST /auth/oidc/token (RFC 8693)."""
    return httpx.post(api.base + "/auth/oidc/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token,
        "subject_token_type": f"urn:ietf:params:oauth:token-type:{token_type}"}, timeout=30)


def _payload(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def _with_payload(token: str, claims: dict[str, Any]) -> str:
    head, _, signature = token.split(".")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{signature}"


def test_an_api_client_exchanges_the_providers_id_token(
        sso_api: Api, agency: str, oidc_provider: Provider) -> None:
    make_user(sso_api, agency, "dung.sso", ["clerk"])
    oidc_provider.set_user("sub-dung", preferred_username="dung.sso")
    id_token = oidc_provider.tokens_for("sub-dung")["id_token"]
    r = exchange(sso_api, id_token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    me = httpx.get(sso_api.base + "/me",
                   headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "dung.sso"
    assert me.json()["roles"] == ["clerk"]


@pytest.fixture(scope="module")
def em(sso_api: Api, agency: str, oidc_provider: Provider) -> str:
    """An account the provider's subject sub-em matches."""
    oidc_provider.set_user("sub-em", preferred_username="em.sso")
    return make_user(sso_api, agency, "em.sso", ["official"])


@pytest.mark.parametrize(("fault", "detail"), [
    ("tampered", "signature does not verify"),
    ("wrong_audience", "not issued to docmgmt"),
    ("garbage", "not a JWT signed by the provider"),
    ("unknown_subject", "no account matches"),
    ("no_claim", "has no 'preferred_username' claim"),
])
def test_a_refused_token_is_a_precise_401(
        sso_api: Api, em: str, oidc_provider: Provider, fault: str, detail: str) -> None:
    token = oidc_provider.tokens_for("sub-em")["id_token"]
    if fault == "tampered":
        # The payload changed to name the admin, the provider's signature kept.
        token = _with_payload(token, _payload(token) | {"preferred_username": "root"})
    elif fault == "wrong_audience":
        token = oidc_provider.tokens_for("sub-em", client_id="another-app")["id_token"]
    elif fault == "garbage":
        token = "not-a-token"
    elif fault == "unknown_subject":
        oidc_provider.set_user("sub-nobody", preferred_username="nobody.here")
        token = oidc_provider.tokens_for("sub-nobody")["id_token"]
    elif fault == "no_claim":
        oidc_provider.set_user("sub-bare", email="bare@example.org")
        token = oidc_provider.tokens_for("sub-bare")["id_token"]
    r = exchange(sso_api, token)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert detail in r.json()["detail"], r.json()
    assert r.json()["error"] in {"invalid_oidc_token", "sso_unknown_account"}


# --- passwords turned off, with a provider whose tokens live two seconds ---------------


@pytest.fixture(scope="module")
def short_provider() -> Iterator[Provider]:
    """A second provider whose tokens expire two seconds after they are issued."""
    with running_provider(token_max_age=timedelta(seconds=2)) as provider:
        yield provider


@pytest.fixture(scope="module")
def sso_only(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory,
             short_provider: Provider) -> Iterator[Api]:
    """docmgmt with local passwords turned off: single sign-on only."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("data"),
                    **sso_settings(short_provider, local_passwords=False)) as api:
        yield api


def test_with_local_passwords_off_only_single_sign_on_signs_in(
        sso_only: Api, short_provider: Provider) -> None:
    # The API's password login refuses, saying why.
    r = httpx.post(sso_only.base + "/auth/token",
                   data={"username": "root", "password": PASSWORD})
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "local_passwords_off"
    # The sign-in page has no password form, only the SSO button.
    pages = Pages(sso_only.base)
    page = pages.get("/app/login")
    assert 'name="password"' not in page.text
    assert SSO_BUTTON_VI in text_of(page.text)
    # A password posted anyway is refused with a message, and no session.
    r = pages.http.post("/app/login", data={"username": "root", "password": PASSWORD,
                                            CSRF_FIELD: csrf_token(page.text)})
    assert r.status_code == 403
    assert "Đăng nhập bằng mật khẩu đã bị tắt" in text_of(r.text)
    assert session_cookie(pages) is None
    # The admin signs in through the provider.
    short_provider.set_user("sub-root", preferred_username="root")
    r = through_provider(pages, short_provider, "sub-root")
    assert r.status_code == 303, text_of(r.text)
    assert session_cookie(pages)


def test_an_expired_token_is_refused(sso_only: Api, short_provider: Provider) -> None:
    short_provider.set_user("sub-root", preferred_username="root")
    id_token = short_provider.tokens_for("sub-root")["id_token"]
    time.sleep(3)
    r = exchange(sso_only, id_token)
    assert r.status_code == 401, r.text
    assert r.json() == {"error": "invalid_oidc_token", "detail": "the token has expired"}


def test_the_keycloak_realm_names_no_secret() -> None:
    """The realm shipped for docker-compose takes its client secret from the environment."""
    realm = json.loads((Path(__file__).parents[2] / "deploy" / "keycloak"
                        / "docmgmt-realm.json").read_text())
    client = next(c for c in realm["clients"] if c["clientId"] == "docmgmt")
    assert client["secret"] == "${DOCMGMT_OIDC_CLIENT_SECRET}"
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"


def test_a_provider_that_cannot_be_reached_is_said_so(
        pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> None:
    nobody = Provider(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with served_api(pg_cluster, tmp_path_factory.mktemp("data"),
                    **sso_settings(nobody)) as api:
        # The page says so in the reader's words, and keeps the password form.
        pages = Pages(api.base)
        r = pages.get("/app/login/sso")
        assert r.status_code == 503
        assert "Không kết nối được dịch vụ đăng nhập một lần" in text_of(r.text)
        assert 'name="password"' in r.text
        # An API client gets a JSON 503, not a trace.
        r = exchange(api, "a.b.c")
        assert r.status_code == 503
        assert r.json()["error"] == "sso_unavailable"
