"""Browser fixtures: Debian's chromium driven by Playwright over the served app.

One browser and one served app with its city for the whole package (torn down when its last
test ends, so that Playwright's event loop never outlives the browser tests). Every page a
test opens is watched: a request outside the server, a refused Content-Security-Policy or a
script error fails the test that caused it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Request,
    sync_playwright,
)
from playwright.sync_api import expect as pw_expect

from tests.api.conftest import PASSWORD, Api, make_city, served_api
from tests.support.pg import Cluster

CHROMIUM = Path(os.environ.get("DOCMGMT_CHROMIUM", "/usr/bin/chromium"))
# No background traffic of its own: the test network is closed, and any request that does
# not go to the server under test is a fault the watcher reports.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
README_SHOTS = REPO / "docs" / "screenshots"
README_HEIGHT = 1400  # the README shows the top of a long page (its timeline runs on)
LANGUAGE_COOKIE = "docmgmt_lang"
OTHER = {"vi": "en", "en": "vi"}
# Chromium's words for what the page's Content-Security-Policy refused.
CSP_REFUSAL = re.compile(r"Content Security Policy|Refused to (load|apply|execute|connect)",
                         re.IGNORECASE)
WIDE, PHONE = 1280, 360
# A page is ready for its picture once htmx has no request under way (a panel loaded on
# "load") and its eager images (the PDF's first pages) are in.
SETTLED = ("() => !document.querySelector('.htmx-request') && Array.from(document.images)"
           ".every((i) => i.loading === 'lazy' || i.complete)")

# Auto-waiting assertions answer within this; a step that takes longer is a fault to see.
pw_expect.set_options(timeout=20_000)


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    """The one browser of the browser tests (Debian's chromium; never a downloaded one)."""
    if not CHROMIUM.is_file():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: "
                    "apt-get install chromium (.ci/run does it); set DOCMGMT_CHROMIUM to use "
                    "another chromium binary", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def web(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The app served on its own database, for every browser test."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("data")) as api:
        yield api


@pytest.fixture(scope="package")
def web_city(web: Api) -> dict[str, Any]:
    """``make_city`` (SOA with official, leader, clerk; SOB with an official), plus what a
    chain across the two agencies needs: SOB's leader and clerk, a unit VHXH in SOB for
    official_b, and an auditor holding mandates for both agencies."""
    ids = make_city(web)
    admin = web.client("root")
    r = admin.post(f"/agencies/{ids['SOB']}/units", json={"code": "VHXH",
                                                          "name": "Phòng Văn hóa - Xã hội"})
    assert r.status_code == 201, r.text
    sob = next(a for a in admin.get("/agencies").json() if a["code"] == "SOB")
    ids["SOB.VHXH"] = next(u["id"] for u in sob["units"] if u["code"] == "VHXH")
    for username, full_name, roles, agency in [
            ("leader_b", "Nguyễn Văn Lãnh", ["leader"], "SOB"),
            ("clerk_b", "Trần Thị Văn Thư", ["clerk"], "SOB"),
            ("auditor", "Lê Thanh Tra", ["auditor"], "SOA")]:
        r = admin.post("/users", json={"username": username, "full_name": full_name,
                                       "password": PASSWORD, "roles": roles,
                                       "agency_id": ids[agency]})
        assert r.status_code == 201, r.text
        ids[username] = r.json()["id"]
    for agency in ("SOA", "SOB"):
        r = admin.post(f"/users/{ids['auditor']}/audit-mandates", json={
            "agency_id": ids[agency], "legal_basis": "Quyết định thanh tra số 14/QĐ-TTr"})
        assert r.status_code == 201, r.text
    admin.close()
    return ids


@dataclass
class Watch:
    """What a browser context did that the pages must never cause."""

    base: str
    requests: int = 0
    outside: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        """Note a request to anywhere but the server under test."""
        self.requests += 1
        if not (request.url == self.base or request.url.startswith(self.base + "/")):
            self.outside.append(request.url)

    def on_console(self, message: ConsoleMessage) -> None:
        """Note what the console says the CSP refused (and any other console error)."""
        if CSP_REFUSAL.search(message.text):
            self.refused.append(message.text)
        elif message.type == "error" and "Failed to load resource" not in message.text:
            # A 4xx/5xx answer is logged as "Failed to load resource"; tests look at those
            # themselves (a refused form answers 422 on purpose).
            self.errors.append(message.text)

    def on_page_error(self, error: Error) -> None:
        """Note an uncaught script error."""
        self.errors.append(str(error))

    def watch(self, page: Page) -> Page:
        """Listen to ``page``."""
        page.on("request", self.on_request)
        page.on("console", self.on_console)
        page.on("pageerror", self.on_page_error)
        return page

    def assert_clean(self) -> None:
        """Fail naming every outside request, CSP refusal and script error seen."""
        assert self.outside == [], f"requests outside the server: {self.outside}"
        assert self.refused == [], f"the Content-Security-Policy refused: {self.refused}"
        assert self.errors == [], f"script errors: {self.errors}"


class Browsers:
    """Signed-in pages, one browser context per person (cookies of their own)."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base
        self.watch = Watch(base)
        self.contexts: list[BrowserContext] = []

    def page(self, width: int = WIDE) -> Page:
        """A new, signed-out page in a context of its own."""
        context = self.browser.new_context(base_url=self.base,
                                           viewport={"width": width, "height": 900})
        # Confirmation dialogs (data-confirm) are accepted, as the person means the step.
        context.on("dialog", lambda dialog: dialog.accept())
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        return self.watch.watch(context.new_page())

    def __call__(self, username: str, lang: str = "vi", width: int = WIDE) -> Page:
        """A page signed in as ``username`` through the sign-in form, in language ``lang``
        chosen through the header's switch; it shows the home page."""
        page = self.page(width)
        page.goto("/app/login")
        page.fill("#f-username", username)
        page.fill("#f-password", PASSWORD)
        page.click("main form button[type=submit]")
        pw_expect(page).to_have_url(self.base + "/app/")
        switch_language(page, lang)
        return page

    def close(self) -> None:
        """Close every context."""
        for context in self.contexts:
            context.close()
        self.contexts.clear()


def switch_language(page: Page, lang: str) -> None:
    """Choose ``lang`` with the header's switch (when it is not already the page's)."""
    if page.locator("html").get_attribute("lang") != lang:
        page.click(f"form.language button[value={lang}]")
    pw_expect(page.locator("html")).to_have_attribute("lang", lang)


@pytest.fixture
def browsers(chromium: Browser, web: Api, web_city: dict[str, Any]) -> Iterator[Browsers]:
    """Signed-in pages for a test; every page is watched, and checked clean at the end."""
    made = Browsers(chromium, web.base)
    yield made
    made.close()
    made.watch.assert_clean()


SignedIn = Callable[..., Page]


@pytest.fixture
def signed_in(browsers: Browsers) -> SignedIn:
    """``signed_in("clerk_a", lang="en")``: a page signed in through the real form (the
    ``browsers`` of the test, for tests that need nothing else of it)."""
    return browsers


def _compress(path: Path) -> None:
    """Re-save a screenshot with a 256-colour palette (a fifth of the size, text intact)."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


class Shots:
    """Full-page screenshots of a page in both languages."""

    def __init__(self, folder: Path, base: str, readme: bool) -> None:
        self.folder = folder
        self.base = base
        self.readme = readme

    def __call__(self, page: Page, name: str, *, readme: bool = False) -> list[Path]:
        """Write ``<name>-<lang>.png`` (full page) in the page's language and in the other
        one, then load the page again in its language (what was typed in a form is lost:
        shoot first). With ``readme`` and DOCMGMT_SCREENSHOTS=1, the Vietnamese one goes to
        docs/screenshots/ instead, at most README_HEIGHT tall and compressed."""
        first = page.locator("html").get_attribute("lang") or "vi"
        written = []
        for lang in (first, OTHER[first]):
            if lang != first:
                self._reload_in(page, lang)
            page.wait_for_function(SETTLED)
            path = self.folder / f"{name}-{lang}.png"
            if self.readme and readme and lang == "vi":
                path = README_SHOTS / path.name
                path.parent.mkdir(parents=True, exist_ok=True)
                height = min(README_HEIGHT, int(page.evaluate(
                    "document.documentElement.scrollHeight")))
                page.screenshot(path=str(path), full_page=True,
                                clip={"x": 0, "y": 0, "width": WIDE, "height": height})
                _compress(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=True)
            written.append(path)
        self._reload_in(page, first)
        return written

    def _reload_in(self, page: Page, lang: str) -> None:
        # The switch's own cookie, then the same address again: the switch posts back to the
        # path without its query, and a shot must show the very page (version, filters).
        page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": lang, "url": self.base,
                                   "httpOnly": True, "sameSite": "Lax"}])
        page.reload()
        pw_expect(page.locator("html")).to_have_attribute("lang", lang)


@pytest.fixture
def shot(web: Api, tmp_path: Path) -> Shots:
    """``shot(page, "home")``: screenshots of the page in vi and en (under tmp_path; with
    DOCMGMT_SCREENSHOTS=1 the README's pictures are refreshed in docs/screenshots/)."""
    return Shots(tmp_path / "screenshots", web.base,
                 os.environ.get("DOCMGMT_SCREENSHOTS") == "1")
