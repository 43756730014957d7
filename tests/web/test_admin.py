"""The admin's pages: agencies as a tree, units, users and roles, audit mandates, calendars
and webhooks, each through the same steps as the administration routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from api.web.pages import admin as pages_admin
from docmgmt.outgoing.queries import ReadModelQueries
from tests.api.conftest import PASSWORD, Api
from tests.support.pages import Pages, text_of

NEW_PASSWORD = "another-horse-battery"


@pytest.fixture(scope="module")
def admin(pages: Callable[[str], Pages], shared_city: dict[str, Any]) -> Pages:
    """The admin's browser ('root')."""
    return pages("root")


def _agency(api: Api, code: str) -> dict[str, Any]:
    client = api.client("root")
    try:
        return next(a for a in client.get("/agencies").json() if a["code"] == code)
    finally:
        client.close()


def _user(api: Api, username: str) -> dict[str, Any]:
    client = api.client("root")
    try:
        return next(u for u in client.get("/users").json() if u["username"] == username)
    finally:
        client.close()


def test_an_official_gets_the_refusal_page(pages: Callable[[str], Pages]) -> None:
    official = pages("official_a")
    r = official.get("/app/admin")
    assert r.status_code == 403
    assert 'href="/app/admin"' not in r.text  # nor in the menu
    assert "Traceback" not in r.text
    r = official.post("/app/admin/agencies", {"code": "XX", "name": "Lạ"})
    assert r.status_code == 403


def test_agency_tree_and_units(admin: Pages, shared_api: Api,
                               shared_city: dict[str, Any]) -> None:
    # A ward under SOA, through the page.
    r = admin.post("/app/admin/agencies", {"code": "PHUONG1", "name": "UBND Phường 1",
                                           "parent_id": shared_city["SOA"]})
    assert r.status_code == 303, r.text
    ward = _agency(shared_api, "PHUONG1")
    assert ward["parent_id"] == shared_city["SOA"]
    # The tree nests it under its parent.
    page = admin.get("/app/admin").text
    soa_item = page.split(f'href="/app/admin/agencies/{shared_city["SOA"]}"', 1)[1]
    assert soa_item.index("PHUONG1") < soa_item.index("</li>\n</ul>")
    # A taken code: the message is next to the code field, the values are kept.
    r = admin.post("/app/admin/agencies", {"code": "PHUONG1", "name": "Trùng mã"})
    assert r.status_code == 409
    assert 'id="f-code-error"' in r.text
    assert 'value="Trùng mã"' in r.text
    # A unit, with the version the page showed.
    r = admin.post(f"/app/admin/agencies/{ward['id']}/units",
                   {"code": "VP", "name": "Văn phòng", "expected_version": ward["version"]})
    assert r.status_code == 303, r.text
    assert _agency(shared_api, "PHUONG1")["units"][0]["code"] == "VP"
    # A stale page: the "someone changed this" message, nothing recorded.
    r = admin.post(f"/app/admin/agencies/{ward['id']}/units",
                   {"code": "TP", "name": "Tư pháp", "expected_version": ward["version"]})
    assert r.status_code == 409, r.text
    assert "reload" in text_of(r.text).lower() or "tải lại" in text_of(r.text)
    assert len(_agency(shared_api, "PHUONG1")["units"]) == 1


def test_users_create_roles_status_password(admin: Pages, shared_api: Api,
                                            shared_city: dict[str, Any]) -> None:
    soa = shared_city["SOA"]
    form = {"username": "van.thu2", "full_name": "Lê Văn Thư", "title": "Văn thư",
            "unit_id": "", "roles": ["clerk"], "password": PASSWORD}
    r = admin.post(f"/app/admin/agencies/{soa}/users", form)
    assert r.status_code == 303, r.text
    user = _user(shared_api, "van.thu2")
    assert user["roles"] == ["clerk"]
    # A taken user name: next to the user name field, the full name kept.
    r = admin.post(f"/app/admin/agencies/{soa}/users", form)
    assert r.status_code == 409
    assert 'id="f-username-error"' in r.text
    assert 'value="Lê Văn Thư"' in r.text
    # The agency page lists the user.
    assert f'href="/app/admin/users/{user["id"]}"' in admin.get(
        f"/app/admin/agencies/{soa}").text
    # Roles: changed with the version shown; a stale one is refused.
    page = admin.get(f"/app/admin/users/{user['id']}").text
    assert 'name="expected_version" value="1"' in page
    r = admin.post(f"/app/admin/users/{user['id']}/roles",
                   {"roles": ["clerk", "leader"], "expected_version": user["version"]})
    assert r.status_code == 303, r.text
    assert _user(shared_api, "van.thu2")["roles"] == ["clerk", "leader"]
    r = admin.post(f"/app/admin/users/{user['id']}/roles",
                   {"roles": ["official"], "expected_version": user["version"]})
    assert r.status_code == 409
    assert _user(shared_api, "van.thu2")["roles"] == ["clerk", "leader"]
    # Deactivation needs the confirmation box.
    r = admin.post(f"/app/admin/users/{user['id']}/deactivate", {"reason": "Nghỉ hưu"})
    assert r.status_code == 422
    assert 'id="f-confirm-error"' in r.text
    assert _user(shared_api, "van.thu2")["active"] is True
    r = admin.post(f"/app/admin/users/{user['id']}/deactivate",
                   {"reason": "Nghỉ hưu", "confirm": "yes"})
    assert r.status_code == 303, r.text
    assert _user(shared_api, "van.thu2")["active"] is False
    r = admin.post(f"/app/admin/users/{user['id']}/reactivate",
                   {"reason": "Quay lại", "confirm": "yes"})
    assert r.status_code == 303, r.text
    assert _user(shared_api, "van.thu2")["active"] is True
    # A password too short: next to the password field; then a good one works for sign-in.
    r = admin.post(f"/app/admin/users/{user['id']}/password", {"password": "short"})
    assert r.status_code == 422
    assert 'id="f-password-error"' in r.text
    r = admin.post(f"/app/admin/users/{user['id']}/password", {"password": NEW_PASSWORD})
    assert r.status_code == 303, r.text
    shared_api.client("van.thu2", NEW_PASSWORD).close()


def test_users_are_listed_a_page_at_a_time_by_name(
        admin: Pages, shared_api: Api, shared_city: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    root = shared_api.client("root")
    try:
        for name in ("pager_1", "pager_2"):
            r = root.post("/users", json={"username": name, "full_name": name,
                                          "password": PASSWORD, "roles": ["official"],
                                          "agency_id": shared_city["SOB"]})
            assert r.status_code == 201, r.text
    finally:
        root.close()
    monkeypatch.setattr(pages_admin, "USERS_PAGE", 2)

    async def every_user(*args: object) -> None:
        raise AssertionError("the page loaded every user of the agency")

    monkeypatch.setattr(ReadModelQueries, "list_users", every_user)
    path, seen = f"/app/admin/agencies/{shared_city['SOB']}", []
    while path:
        r = admin.get(path)
        assert r.status_code == 200, r.text
        seen.append(re.findall(r'href="/app/admin/users/[0-9a-f-]{36}">([^<]+)</a>', r.text))
        nxt = re.search(r'<a href="([^"]+)" rel="next"', r.text)
        path = nxt.group(1).replace("&amp;", "&") if nxt else ""
    # SOB's three users, two on the first page, none of SOA's.
    assert seen == [["official_b", "pager_1"], ["pager_2"]]
    assert "Về trang đầu" in text_of(r.text)


def test_audit_mandates_granted_and_revoked(admin: Pages, shared_api: Api,
                                            shared_city: dict[str, Any]) -> None:
    soa, sob = shared_city["SOA"], shared_city["SOB"]
    r = admin.post(f"/app/admin/agencies/{soa}/users", {
        "username": "thanh.tra", "full_name": "Phạm Thanh Tra", "title": "Thanh tra viên",
        "roles": ["auditor"], "password": PASSWORD})
    assert r.status_code == 303, r.text
    auditor = _user(shared_api, "thanh.tra")["id"]
    r = admin.post(f"/app/admin/users/{auditor}/mandates", {
        "agency_id": sob, "legal_basis": "Quyết định 5/QĐ-TTr",
        "valid_from": "", "valid_to": "2099-12-31T17:00"})
    assert r.status_code == 303, r.text
    client = shared_api.client("thanh.tra")
    try:
        mandates = client.get(f"/users/{auditor}/audit-mandates").json()
        assert [(m["agency_id"], m["in_force"]) for m in mandates] == [(sob, True)]
        # The term's end was typed in Vietnam time: 17:00 +07:00 is 10:00 UTC.
        assert mandates[0]["valid_to"].startswith("2099-12-31T10:00:00")
        # Granted again while in force: the refusal next to the agency field.
        r = admin.post(f"/app/admin/users/{auditor}/mandates", {
            "agency_id": sob, "legal_basis": "Lần hai"})
        assert r.status_code == 409
        assert 'id="f-agency_id-error"' in r.text
        assert "Quyết định 5/QĐ-TTr" in text_of(admin.get(f"/app/admin/users/{auditor}").text)
        r = admin.post(f"/app/admin/users/{auditor}/mandates/{sob}/revoke",
                       {"reason": "Kết thúc thanh tra"})
        assert r.status_code == 303, r.text
        assert client.get(f"/users/{auditor}/audit-mandates").json()[0]["in_force"] is False
    finally:
        client.close()


def test_calendar_days_added_and_removed(admin: Pages, shared_api: Api,
                                         shared_city: dict[str, Any]) -> None:
    sob = shared_city["SOB"]
    page = admin.get(f"/app/admin/agencies/{sob}/calendar")
    assert page.status_code == 200
    version = re.search(r'name="expected_version" value="(\d+)"', page.text)
    assert version
    r = admin.post(f"/app/admin/agencies/{sob}/calendar", {
        "day": "2026-12-24", "kind": "off", "action": "add",
        "expected_version": version.group(1)})
    assert r.status_code == 303, r.text
    page = admin.get(f"/app/admin/agencies/{sob}/calendar").text
    assert 'datetime="2026-12-24"' in page
    # The old page's version is stale now.
    r = admin.post(f"/app/admin/agencies/{sob}/calendar", {
        "day": "2026-12-26", "kind": "makeup", "action": "add",
        "expected_version": version.group(1)})
    assert r.status_code == 409
    newer = re.search(r'name="expected_version" value="(\d+)"', page)
    assert newer
    r = admin.post(f"/app/admin/agencies/{sob}/calendar", {
        "day": "2026-12-26", "kind": "makeup", "action": "add",
        "expected_version": newer.group(1)})
    assert r.status_code == 303, r.text
    page = admin.get(f"/app/admin/agencies/{sob}/calendar").text
    newest = re.search(r'name="expected_version" value="(\d+)"', page)
    assert newest
    r = admin.post(f"/app/admin/agencies/{sob}/calendar", {
        "day": "2026-12-24", "kind": "off", "action": "remove",
        "expected_version": newest.group(1)})
    assert r.status_code == 303, r.text
    page = admin.get(f"/app/admin/agencies/{sob}/calendar").text
    assert 'datetime="2026-12-24"' not in page
    assert 'datetime="2026-12-26"' in page


def test_webhooks_created_refused_and_cancelled(admin: Pages, shared_api: Api,
                                                shared_city: dict[str, Any]) -> None:
    sob = shared_city["SOB"]
    path = f"/app/admin/agencies/{sob}/webhooks"
    # A private address: refused next to the URL field, the URL kept, nothing recorded.
    r = admin.post(path, {"url": "https://10.0.0.7/hook", "kinds": ["received"]})
    assert r.status_code == 422, r.text
    assert 'id="f-url-error"' in r.text
    assert 'value="https://10.0.0.7/hook"' in r.text
    root = shared_api.client("root")
    try:
        assert root.get(f"/agencies/{sob}/webhooks").json() == []
        r = admin.post(path, {"url": "https://hooks.so-b.invalid/docmgmt",
                              "kinds": ["received", "recalled"]})
        assert r.status_code == 200, r.text
        secret = re.search(r"<code[^>]*>([0-9a-f]{64})</code>", r.text)
        assert secret
        hooks = root.get(f"/agencies/{sob}/webhooks").json()
        assert [(h["url"], h["kinds"]) for h in hooks] == [
            ("https://hooks.so-b.invalid/docmgmt", ["received", "recalled"])]
        hook = hooks[0]["id"]
        listing = admin.get(path).text
        assert "hooks.so-b.invalid" in listing
        assert secret.group(1) not in listing  # the secret is never shown again
        assert admin.get(f"{path}/{hook}").status_code == 200
        r = admin.post(f"{path}/{hook}/cancel", {"reason": ""})
        assert r.status_code == 422
        r = admin.post(f"{path}/{hook}/cancel", {"reason": "", "confirm": "yes"})
        assert r.status_code == 303, r.text
        assert root.get(f"/agencies/{sob}/webhooks").json() == []
    finally:
        root.close()


def test_csrf_is_required(admin: Pages, shared_city: dict[str, Any]) -> None:
    r = admin.post("/app/admin/agencies", {"code": "CSRF", "name": "Không"}, token="bad")
    assert r.status_code == 403


def test_place_name_set_on_the_agency_page(admin: Pages, shared_api: Api,
                                           shared_city: dict[str, Any]) -> None:
    r = admin.post("/app/admin/agencies", {"code": "HAICHAU", "name": "UBND Phường Hải Châu",
                                           "parent_id": shared_city["SOA"]})
    assert r.status_code == 303, r.text
    ward = _agency(shared_api, "HAICHAU")
    page = f"/app/admin/agencies/{ward['id']}"
    r = admin.post(f"{page}/place-name",
                   {"place_name": "Hải Châu", "expected_version": ward["version"]})
    assert r.status_code == 303, r.text
    assert _agency(shared_api, "HAICHAU")["version"] == ward["version"] + 1
    # The page shows the place name now recorded, in its field.
    assert 'value="Hải Châu"' in admin.get(page).text
    # An empty place name is refused next to its field.
    r = admin.post(f"{page}/place-name",
                   {"place_name": " ", "expected_version": ward["version"] + 1})
    assert r.status_code == 422, r.text
    assert 'id="f-place_name-error"' in r.text
