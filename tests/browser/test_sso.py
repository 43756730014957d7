"""Single sign-on in a real browser: a person signs in at the provider's page, works, and
signs out (at docmgmt and at the provider); the cookie she had is dead afterwards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.api.conftest import PASSWORD, Api, served_api
from tests.browser.conftest import WIDE, Watch
from tests.support.oidc import Provider, running_provider, sso_settings
from tests.support.pg import Cluster


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    """The city's single sign-on provider (the test one, on 127.0.0.1)."""
    with running_provider() as running:
        yield running


@pytest.fixture(scope="module")
def sso_web(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory,
            provider: Provider) -> Iterator[Api]:
    """docmgmt served with single sign-on through ``provider``."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("data"),
                    **sso_settings(provider)) as api:
        admin = api.client("root")
        r = admin.post("/agencies", json={"code": "SOSSO", "name": "Sở Nội vụ"})
        assert r.status_code == 201, r.text
        r = admin.post("/users", json={"username": "hoa.sso", "full_name": "Phạm Thị Hoa",
                                       "password": PASSWORD, "roles": ["official"],
                                       "agency_id": r.json()["id"]})
        assert r.status_code == 201, r.text
        yield api


def _no_cdn(route: Route) -> None:
    route.abort()  # the provider's page asks a CDN for its style sheet: no network here


def test_a_person_signs_in_at_the_provider_and_signs_out(
        chromium: Browser, sso_web: Api, provider: Provider, tmp_path: Path) -> None:
    provider.set_user("sub-hoa", preferred_username="hoa.sso")
    context = chromium.new_context(base_url=sso_web.base,
                                   viewport={"width": WIDE, "height": 900})
    context.route("https://cdn.jsdelivr.net/**", _no_cdn)
    watch = Watch(sso_web.base)
    page = watch.watch(context.new_page())
    try:
        # Hoa opens docmgmt and chooses single sign-on.
        page.goto("/app/login")
        page.screenshot(path=str(tmp_path / "sso-login.png"))
        page.get_by_role("link", name="Đăng nhập bằng tài khoản một lần (SSO)").click()
        # The provider's page: she signs in there (the test provider asks for a subject).
        expect(page).to_have_url(re.compile(re.escape(provider.issuer) + "/oauth2/authorize"))
        page.get_by_placeholder("sub").fill("sub-hoa")
        page.get_by_role("button", name="Authorize").click()
        # Back at docmgmt, signed in as her own account.
        expect(page).to_have_url(sso_web.base + "/app/")
        expect(page.locator(".who")).to_have_text("Phạm Thị Hoa")
        page.screenshot(path=str(tmp_path / "sso-home.png"))
        cookie = next(c for c in context.cookies() if c["name"] == "docmgmt_session")
        # She signs out: docmgmt ends her session, the provider ends its own and sends her
        # back to the sign-in page.
        page.get_by_role("button", name="Đăng xuất").click()
        expect(page).to_have_url(re.compile(re.escape(provider.issuer)
                                            + "/oauth2/end_session"))
        page.get_by_role("button", name="End session").click()
        expect(page).to_have_url(sso_web.base + "/app/login")
        expect(page.get_by_role("link", name="Đăng nhập bằng tài khoản một lần (SSO)")) \
            .to_be_visible()
        # The cookie she had, put back into a browser, opens nothing.
        context.add_cookies([_as_cookie(cookie)])
        page.goto("/app/")
        expect(page).to_have_url(re.compile(re.escape(sso_web.base) + "/app/login"))
    finally:
        context.close()
    # Nothing refused by the pages' policy (the sign-out form may end at the provider);
    # every request outside docmgmt went to the provider (or its aborted CDN).
    assert watch.refused == [], watch.refused
    assert watch.errors == [], watch.errors
    assert all(url.startswith((provider.issuer, "https://cdn.jsdelivr.net/"))
               for url in watch.outside), watch.outside


def _as_cookie(cookie: Any) -> Any:
    return {k: cookie[k] for k in ("name", "value", "domain", "path", "httpOnly",
                                   "sameSite", "secure")}
