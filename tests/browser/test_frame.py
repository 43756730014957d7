"""The pages' frame in a real browser: sign-in by keyboard, home in both languages, the
remembered language, the header on a phone, and nothing loaded from outside the server."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.api.conftest import PASSWORD
from tests.browser.conftest import PHONE, Browsers, Shots, SignedIn, switch_language


def test_sign_in_by_keyboard_tells_a_wrong_password_next_to_the_field(
        browsers: Browsers, shot: Shots) -> None:
    page = browsers.page()
    page.goto("/app/login")
    # The first Tab reaches the skip link; the form's first field has the focus already.
    expect(page.locator("#f-username")).to_be_focused()
    page.keyboard.type("leader_a")
    page.keyboard.press("Tab")
    expect(page.locator("#f-password")).to_be_focused()
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    error = page.locator("#f-password-error")
    expect(error).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")
    expect(page.locator("#f-password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-password")).to_have_attribute("aria-describedby",
                                                          "f-password-error")
    expect(page.locator("#f-username")).to_have_value("leader_a")  # what was typed stays
    shot(page, "sign-in-refused")
    # Again, right this time: Enter sends the form, home opens.
    page.locator("#f-password").focus()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(browsers.base + "/app/")
    expect(page.locator("h1")).to_have_text("Việc đang chờ bạn")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(browsers.base + "/app/#main")


def test_an_english_reader_is_told_in_english(browsers: Browsers) -> None:
    page = browsers.page()
    page.goto("/app/login")
    switch_language(page, "en")  # the sign-in page has the switch too
    page.fill("#f-username", "leader_a")
    page.fill("#f-password", "not-the-password")
    page.keyboard.press("Enter")
    expect(page.locator("#f-password-error")).to_have_text("Wrong user name or password.")
    page.fill("#f-password", PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("What waits for you")


def test_home_in_vietnamese_and_in_english(signed_in: SignedIn, shot: Shots) -> None:
    vi = signed_in("clerk_a")
    expect(vi.locator("html")).to_have_attribute("lang", "vi")
    expect(vi.locator("h1")).to_have_text("Việc đang chờ bạn")
    expect(vi.locator(".tiles")).to_contain_text("Chờ đóng dấu")  # a clerk's queue
    shot(vi, "home-clerk")
    en = signed_in("leader_a", lang="en")
    expect(en.locator("h1")).to_have_text("What waits for you")
    expect(en.locator(".tiles")).to_contain_text("To approve")  # a leader's queue
    expect(en.locator(".tiles")).not_to_contain_text("To seal")
    expect(en.locator("form.language button[value=en]")).to_have_attribute("aria-pressed",
                                                                           "true")


def _nav_paths(page: Page) -> list[str]:
    return [str(a.get_attribute("href")) for a in page.locator("header nav a").all()]


def test_the_language_chosen_is_remembered_across_pages_and_sign_ins(
        browsers: Browsers) -> None:
    page = browsers("official_a", lang="en")
    for path in _nav_paths(page):
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/app/")
    page.click("header .account button[type=submit].link")  # sign out
    expect(page).to_have_url(browsers.base + "/app/login")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("#f-username", "official_a")
    page.fill("#f-password", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("What waits for you")
    switch_language(page, "vi")
    page.reload()
    expect(page.locator("h1")).to_have_text("Việc đang chờ bạn")


def test_the_header_fits_a_360_pixel_phone(signed_in: SignedIn, shot: Shots) -> None:
    page = signed_in("clerk_a", width=PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    for selector in ("header .brand", "header nav a >> nth=-1", "#top-search",
                     "header .account button.link", "form.language button[value=en]"):
        box = page.locator(selector).bounding_box()
        assert box is not None, f"{selector} is not shown"
        assert box["x"] >= 0, (selector, box)
        assert box["x"] + box["width"] <= PHONE, (selector, box)
    shot(page, "home-phone")
    page.click("form.language button[value=en]")  # the switch is reachable and works
    expect(page.locator("h1")).to_have_text("What waits for you")


def test_every_page_of_each_role_stays_on_the_server(browsers: Browsers) -> None:
    for username in ("official_a", "leader_a", "clerk_a", "auditor", "root"):
        page = browsers(username)
        for path in _nav_paths(page):
            page.goto(path)
    assert browsers.watch.requests > 20  # the watch did see the traffic
    browsers.watch.assert_clean()


def test_the_watch_sees_what_the_policy_refuses(browsers: Browsers) -> None:
    page = browsers.page()
    page.goto("/app/login")
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate("document.body.insertAdjacentHTML('beforeend', "
                      "'<p style=\"color: red\">inline</p>')")
    assert browsers.watch.refused, "an inline style was refused unseen"
    browsers.watch.refused.clear()
