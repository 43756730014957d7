"""The whole chain across two agencies, in the browser, each step by the right role through
the pages.

Sở A drafts (a PDF dropped on the form), the leader comments, the official revises and
submits, the leader returns it, then approves and signs; the clerk numbers, seals and
dispatches it to Sở B, whose clerk checks it on arrival and registers it; Sở B's leader
assigns it, the official records progress and completes it; Sở A's clerk recalls it and Sở
B's clerk confirms the withdrawal. An auditor then reads the document's timeline, opens it
as it was at an earlier version and downloads the evidence bundle, which `docmgmt
verify-bundle` passes. Every page is shot in Vietnamese and English.

Each step waits for the page's own answer (the redirect back with the step's notice); only
what the server does in the background (delivery, recall) is waited for by reloading the
page that shows it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from api.web.i18n import catalog
from tests.api.conftest import Api
from tests.browser.conftest import PHONE, REPO, WIDE, Browsers, Shots
from tests.support.pdfs import official_pdf
from tests.support.waiting import wait_until

SUMMARY = "Kế hoạch chuyển đổi số năm 2027"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PLAN = ["Căn cứ Chương trình chuyển đổi số quốc gia; căn cứ tình hình thực tế của Sở, Sở A "
        "ban hành Kế hoạch chuyển đổi số năm 2027 như sau.",
        "1. Mục tiêu: 100% văn bản đi, văn bản đến được xử lý trên môi trường mạng, ký số "
        "và gửi nhận qua hệ thống quản lý văn bản điện tử.",
        "2. Nhiệm vụ: các phòng chuyên môn rà soát quy trình, đào tạo công chức và báo cáo "
        "kết quả thực hiện hằng quý."]
FIRST = official_pdf("Sở A", "KẾ HOẠCH", SUMMARY, PLAN, ["Sở B"])
SECOND = official_pdf("Sở A", "KẾ HOẠCH", SUMMARY,
                      [*PLAN, "3. Lộ trình: hoàn thành từng nhiệm vụ theo quý."],
                      ["Sở B"], revision_note="Dự thảo lần 2")


class Chain:
    """The people of the chain, each in a browser of their own, and how a step is taken."""

    def __init__(self, browsers: Browsers, shot: Shots, folder: Path) -> None:
        self.browsers = browsers
        self.shot = shot
        self.folder = folder
        self.base = browsers.base
        self.pages: dict[str, Page] = {}

    def __getitem__(self, username: str) -> Page:
        if username not in self.pages:
            self.pages[username] = self.browsers(username)
        return self.pages[username]

    @contextmanager
    def step(self, name: str, page: Page) -> Iterator[None]:
        """Take step ``name`` on ``page``; on failure, say where, what the page says, and
        keep a screenshot of it."""
        try:
            yield
        except Exception as exc:
            self.folder.mkdir(parents=True, exist_ok=True)
            picture = self.folder / f"FAILED-{name}.png"
            try:
                page.screenshot(path=str(picture), full_page=True)
                said = page.locator(".error-summary, .field-error, main h1").all_inner_texts()
            except Exception as again:  # the page itself is gone
                said = [f"(no page: {again})"]
            raise AssertionError(f"chain step {name!r} failed at {page.url}; the page says "
                                 f"{said}; screenshot {picture}") from exc

    def open_form(self, page: Page, action: str) -> Locator:
        """The form that posts to ``action``, opened when it sits in a closed <details>."""
        form = page.locator(f"form[action='{action}']")
        details = page.locator("details", has=form)
        if details.count() and details.first.get_attribute("open") is None:
            details.first.locator("summary").first.click()
        expect(form).to_be_visible()
        return form

    def answered(self, page: Page, path: str, notice: str) -> None:
        """Wait for the page's own answer: back on ``path`` with the step's notice."""
        expect(page).to_have_url(re.compile(re.escape(self.base + path) +
                                            r"\?notice=" + notice + "$"))
        expect(page.locator("p.notice")).to_be_visible()

    def send(self, page: Page, action: str, notice: str,
             fields: dict[str, str | dict[str, Any]] | None = None) -> None:
        """Fill the form that posts to ``action`` (selector: text, option or file), send
        it, and wait for the answer: the page it acts on, with the step's notice."""
        form = self.open_form(page, action)
        for selector, value in (fields or {}).items():
            field = form.locator(selector)
            if isinstance(value, dict):
                field.set_input_files(value)
            elif field.evaluate("(e) => e.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)
        form.locator("button[type=submit]").first.click()  # a confirmation is accepted
        self.answered(page, action.rsplit("/", 1)[0], notice)

    def reload_until(self, page: Page, path: str, shown: Callable[[], bool],
                     what: str) -> None:
        """Open ``path`` again until the server's background work shows there."""
        def look() -> bool:
            page.goto(path)
            return shown()
        wait_until(look, timeout=60, what=what)


def vi(msgid: str) -> str:
    """What a Vietnamese reader sees for ``msgid``."""
    return catalog("vi").gettext(msgid)


def _pdf(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/pdf", "buffer": data}


def test_the_whole_chain_across_two_agencies(
        browsers: Browsers, shot: Shots, web: Api, web_city: dict[str, Any],
        tmp_path: Path) -> None:
    chain = Chain(browsers, shot, tmp_path / "screenshots")
    official, leader, clerk = chain["official_a"], chain["leader_a"], chain["clerk_a"]

    # --- Sở A: draft, comment, revise, submit, return, submit, approve, sign -------------
    with chain.step("draft", official):
        official.click("header nav a[href='/app/documents']")
        official.click("a[href='/app/documents/new']")
        shot(official, "draft-new")  # before filling it in: a shot reloads the page
        form = official.locator("form[action='/app/documents/new']")
        form.locator("#f-file").set_input_files(_pdf("du-thao.pdf", FIRST))
        form.locator("#f-summary").fill(SUMMARY)
        form.locator("#f-doc_type").select_option("KH")
        form.locator("#f-urgency").select_option("urgent")
        form.locator("button[type=submit].primary").click()
        expect(official).to_have_url(re.compile(rf"/app/documents/({UUID})\?notice=created$"))
        found = re.search(UUID, official.url)
        assert found is not None
        doc = found.group(0)
        path = f"/app/documents/{doc}"
        expect(official.locator("h1")).to_have_text(SUMMARY)
        shot(official, "document-draft")

    with chain.step("comment", leader):
        leader.click("header nav a[href='/app/documents']")
        leader.click(f"a[href='{path}']")
        chain.send(leader, f"{path}/comment", "commented",
                   {"#f-text": "Bổ sung lộ trình theo từng quý."})

    with chain.step("revise", official):
        official.goto(path)
        chain.send(official, f"{path}/revise", "revised",
                   {"#f-file": _pdf("du-thao-2.pdf", SECOND), "#f-note": "Đã bổ sung lộ trình"})

    with chain.step("submit", official):
        chain.send(official, f"{path}/submit", "submitted",
                   {"#f-submit_note": "Kính trình lãnh đạo"})

    with chain.step("return", leader):
        leader.click("header nav a[href='/app/']")
        shot(leader, "home", readme=True)
        leader.click("a[href='/app/documents?status=submitted']")  # the tile "to approve"
        leader.click(f"a[href='{path}']")
        shot(leader, "document-submitted")
        chain.send(leader, f"{path}/return", "returned",
                   {"#f-comment": "Đề nghị nêu rõ kinh phí."})

    with chain.step("submit-again", official):
        official.goto(path)
        chain.send(official, f"{path}/submit", "submitted",
                   {"#f-submit_note": "Đã nêu rõ kinh phí"})

    with chain.step("approve", leader):
        leader.goto(path)
        chain.send(leader, f"{path}/approve", "approved", {"#f-approve_comment": "Đồng ý"})

    with chain.step("sign", leader):
        shot(leader, "document-to-sign")
        # The signing panel: the agency's (development) signing service is the default way.
        chain.send(leader, f"{path}/signature-requests", "signed",
                   {"#f-capacity": "own", "#f-principal_title": "Giám đốc"})

    # --- Sở A's clerk: number, seal, dispatch to Sở B -------------------------------------
    with chain.step("number", clerk):
        clerk.click("header nav a[href='/app/']")
        clerk.click("a[href='/app/documents?status=signed']")  # the tile "to number"
        clerk.click(f"a[href='{path}']")
        chain.send(clerk, f"{path}/number", "numbered")

    with chain.step("seal", clerk):
        chain.send(clerk, f"{path}/seal", "sealed")

    with chain.step("dispatch", clerk):
        details = clerk.locator("details", has=clerk.locator(f"a[href='{path}/dispatch']"))
        if details.count() and details.first.get_attribute("open") is None:
            details.first.locator("summary").first.click()
        clerk.click(f"a[href='{path}/dispatch']")
        shot(clerk, "dispatch")
        clerk.locator("#f-q").fill("so b")  # the picker finds agencies without diacritics
        clerk.locator("form[role=search] button[type=submit]").click()
        clerk.check("#r-SOB")
        clerk.locator("#f-external").fill("Báo Sài Gòn Giải Phóng")
        clerk.locator("#dispatch-form button[type=submit].primary").click()
        chain.answered(clerk, path, "dispatched")

    # --- Sở B: arrival check, register, assign, progress, complete ------------------------
    clerk_b, leader_b, official_b = chain["clerk_b"], chain["leader_b"], chain["official_b"]
    summary_link = clerk_b.locator("table a", has_text=SUMMARY)
    with chain.step("arrival-check", clerk_b):
        chain.reload_until(clerk_b, "/app/incoming?queue=received",
                           lambda: summary_link.count() > 0, "the copy to reach Sở B")
        shot(clerk_b, "incoming-to-register")
        summary_link.click()
        expect(clerk_b).to_have_url(re.compile(rf"/app/incoming/{UUID}$"))
        incoming = clerk_b.url.removeprefix(chain.base)
        # Authentic: every signature valid, every file matching the sender's digest.
        expect(clerk_b.locator("section.check p .badge.ok")).to_be_visible()
        expect(clerk_b.locator("section.check .badge.alert")).to_have_count(0)
        shot(clerk_b, "incoming-arrival-check")

    with chain.step("register", clerk_b):
        chain.send(clerk_b, f"{incoming}/register", "registered")

    with chain.step("assign", leader_b):
        leader_b.click("header nav a[href='/app/']")
        leader_b.click("a[href='/app/incoming?queue=registered']")  # the tile "to assign"
        leader_b.click(f"a[href='{incoming}']")
        chain.send(leader_b, f"{incoming}/assign", "assigned", {
            "#f-lead_unit_id": str(web_city["SOB.VHXH"]),
            "#f-lead_user_id": str(web_city["official_b"]),
            "#f-instructions": "Tham mưu triển khai tại Sở B", "#f-working_days": "5"})

    with chain.step("progress", official_b):
        official_b.reload()  # signed in before the assignment: home counts it now
        official_b.click("a[href='/app/incoming?queue=mine']")  # the tile "assigned to me"
        official_b.click(f"a[href='{incoming}']")
        chain.send(official_b, f"{incoming}/progress", "progress_recorded",
                   {"#f-note": "Đã xây dựng dự thảo kế hoạch của Sở B"})

    with chain.step("complete", official_b):
        chain.send(official_b, f"{incoming}/complete", "completed",
                   {"#f-result": "Đã ban hành kế hoạch triển khai"})
        official_b.goto(incoming)  # the page as one opens it, without the step's notice
        shot(official_b, "incoming-completed", readme=True)

    with chain.step("dashboard", leader_b):
        leader_b.click("header nav a[href='/app/dashboard']")
        expect(leader_b.locator("main svg").first).to_be_visible()  # the chart
        shot(leader_b, "dashboard", readme=True)

    # --- Sở A recalls it; Sở B confirms the withdrawal -----------------------------------
    sob_state = clerk.locator("table.recipients tr", has_text="SOB").locator(".badge")
    with chain.step("recall", clerk):
        chain.reload_until(clerk, path, lambda: sob_state.inner_text().strip() == vi(
            "Registered by the recipient"), "Sở B's registration to reach Sở A")
        shot(clerk, "document", readme=True)
        chain.send(clerk, f"{path}/recall", "recalled",
                   {"#f-reason": "Điều chỉnh nội dung kế hoạch"})

    with chain.step("confirm-withdrawal", clerk_b):
        confirm = clerk_b.locator(f"form[action='{incoming}/confirm-withdrawal']")
        chain.reload_until(clerk_b, incoming, lambda: confirm.count() > 0,
                           "the withdrawal to reach Sở B")
        shot(clerk_b, "incoming-withdrawn")
        chain.send(clerk_b, f"{incoming}/confirm-withdrawal", "withdrawal_confirmed")

    with chain.step("recall-confirmed", clerk):
        chain.reload_until(clerk, path, lambda: sob_state.inner_text().strip() == vi(
            "Recall confirmed"), "Sở B's confirmation to reach Sở A")
        shot(clerk, "document-recalled")

    with chain.step("phone", clerk):
        # The document and the incoming copy on a 360-pixel phone: nothing wider than it.
        for page, where in ((clerk, path), (clerk_b, incoming)):
            page.set_viewport_size({"width": PHONE, "height": 800})
            page.goto(where)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE, where
            shot(page, "document-phone" if page is clerk else "incoming-phone")
            page.set_viewport_size({"width": WIDE, "height": 900})

    # --- the auditor: timeline, as it was at an earlier version, evidence bundle ---------
    auditor = chain["auditor"]
    with chain.step("audit-timeline", auditor):
        auditor.click("header nav a[href='/app/audit']")
        auditor.click(f"a[href='/app/audit/agencies/{web_city['SOA']}']")
        auditor.click(f"a[href='/app/audit/documents/{doc}']")
        trail = auditor.locator("ol.audit-trail > li")
        expect(trail.first).to_be_visible()
        assert trail.count() >= 12  # every step above, and the views and downloads
        shot(auditor, "audit-timeline", readme=True)

    with chain.step("audit-as-it-was", auditor):
        auditor.click(f"a[href='/app/audit/documents/{doc}/replay']")
        auditor.locator("#f-version").fill("2")  # after the leader's comment
        auditor.locator("form.replay-form button[type=submit]").click()
        expect(auditor).to_have_url(re.compile(r"/replay\?version=2"))
        expect(auditor.locator("main h2").first).to_contain_text("2")
        # Then the first revision was the current one: its digest, not the second's.
        expect(auditor.locator("main dl.meta")).to_contain_text(SUMMARY)
        expect(auditor.locator("main dl.meta .digest")).to_have_text(
            hashlib.sha256(FIRST).hexdigest())
        shot(auditor, "audit-as-it-was")

    with chain.step("audit-evidence", auditor):
        auditor.click(f"a[href='/app/audit/documents/{doc}']")
        with auditor.expect_download() as download:
            auditor.click(f"a[href='/app/audit/documents/{doc}/evidence']")
        bundle = tmp_path / "evidence.zip"
        download.value.save_as(bundle)
        root = web.settings.pki_dir / "SYSTEM" / "root-ca.pem"
        checked = subprocess.run(
            [sys.executable, "-m", "api.cli", "verify-bundle", str(bundle),
             "--trust-root", str(root)],
            capture_output=True, text=True, timeout=300,
            env=os.environ | {"PYTHONPATH": str(REPO)})
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "VERDICT: ALL" in checked.stdout
