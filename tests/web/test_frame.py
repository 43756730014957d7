"""The pages' frame: sign-in, sessions, CSRF, languages, errors, and what a page may load."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from tests.api.conftest import PASSWORD, Api
from tests.support.pages import CSRF_FIELD, Pages, csrf_token, text_of


def test_root_and_pages_ask_to_sign_in(shared_api: Api) -> None:
    anonymous = Pages(shared_api.base)
    assert anonymous.get("/").headers["location"] == "/app/"
    r = anonymous.get("/app/")
    assert r.status_code == 303
    assert r.headers["location"] == "/app/login?next=/app/"
    login = anonymous.get("/app/login")
    assert login.status_code == 200
    assert "Đăng nhập" in text_of(login.text)  # Vietnamese unless the reader chooses
    assert login.headers["content-language"] == "vi"


def test_sign_in_sets_a_guarded_cookie_and_opens_home(
        shared_api: Api, shared_city: dict[str, object]) -> None:
    browser = Pages(shared_api.base)
    r = browser.sign_in("leader_a", PASSWORD)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "docmgmt_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    home = browser.get("/app/")
    assert home.status_code == 200
    assert "Việc đang chờ bạn" in text_of(home.text)
    assert "Chờ duyệt" in text_of(home.text)  # a leader's queue
    assert "Chờ đóng dấu" not in text_of(home.text)  # a clerk's queue


def test_wrong_password_is_told_next_to_the_field(
        shared_api: Api, shared_city: dict[str, object]) -> None:
    browser = Pages(shared_api.base)
    r = browser.sign_in("leader_a", "not-the-password")
    assert r.status_code == 401
    assert 'id="f-password-error"' in r.text
    assert "Sai tên đăng nhập hoặc mật khẩu." in text_of(r.text)
    assert "docmgmt_session" not in r.headers.get("set-cookie", "")


def test_a_form_without_the_session_token_is_refused(
        pages: Callable[[str], Pages]) -> None:
    browser = pages("official_a")
    r = browser.post("/app/logout", token="forged")
    assert r.status_code == 403
    assert "Biểu mẫu đã hết hạn" in text_of(r.text)
    assert browser.get("/app/").status_code == 200  # still signed in
    sign_in = Pages(browser.http.base_url.__str__())
    r = sign_in.http.post("/app/login", data={"username": "official_a", "password": PASSWORD,
                                               CSRF_FIELD: "guess"})
    assert r.status_code == 403


def test_language_switch_is_remembered(shared_api: Api, shared_city: dict[str, object]) -> None:
    browser = Pages(shared_api.base)
    browser.sign_in("clerk_a", PASSWORD)
    r = browser.post("/app/language", {"language": "en", "next": "/app/"})
    assert r.status_code == 303
    assert "docmgmt_lang=en" in r.headers["set-cookie"]
    home = browser.get("/app/")
    assert home.headers["content-language"] == "en"
    assert "What waits for you" in text_of(home.text)
    assert "To seal" in text_of(home.text)
    browser.post("/app/language", {"language": "vi", "next": "/app/"})
    assert "Việc đang chờ bạn" in text_of(browser.get("/app/").text)


def test_unknown_page_is_a_page_not_json(pages: Callable[[str], Pages]) -> None:
    r = pages("official_a").get("/app/no-such-page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy" in text_of(r.text)


def test_control_character_in_a_form_is_shown_not_answered_in_json(
        pages: Callable[[str], Pages]) -> None:
    r = pages("official_a").get("/app/", params={"notice": "a\x07b"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")


def test_page_policy_and_assets_stay_on_the_server(pages: Callable[[str], Pages]) -> None:
    browser = pages("official_a")
    home = browser.get("/app/")
    csp = home.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "script-src 'self'" in csp
    addresses = re.findall(r'(?:src|href|action)="([^"]+)"', home.text)
    assert addresses
    for address in addresses:
        if address.startswith("#"):
            continue
        assert address.startswith("/"), address
        assert not address.startswith("//"), address
        if address.startswith("/app/static/") or address.startswith("/app/vendor/"):
            asset = browser.get(address)
            assert asset.status_code == 200, address
            assert "immutable" in asset.headers["cache-control"]
            assert b"http://" not in asset.content.replace(b"http://www.w3.org", b"")
    assert browser.get("/app/vendor/not-a-package.js").status_code == 404
    assert browser.get("/app/static/..%2Fsession.py").status_code == 404


def test_api_errors_stay_json(shared_api: Api) -> None:
    r = httpx.get(shared_api.base + "/documents")
    assert r.status_code == 401
    assert r.json()["error"] == "not_authenticated"
    assert csrf_token('<input name="csrf_token" value="x">') == "x"


def test_search_box_for_everyone_who_reads_documents(
        pages: Callable[[str], Pages]) -> None:
    from api.web.render import SEARCHERS
    from docmgmt.domain.common import Role
    from docmgmt.outgoing.context import DOCUMENT_READERS

    # The search serves whoever may read some of the agency's documents, each within
    # what they may read; an administrator reads none, and sees no box.
    assert set(DOCUMENT_READERS) == SEARCHERS
    assert Role.ADMIN not in SEARCHERS
    assert 'id="top-search"' in pages("official_a").get("/app/").text
    assert 'id="top-search"' in pages("leader_a").get("/app/").text
