"""A leader signs from the web page through the signing agent on their own computer: the
agent (`docmgmt agent`) serves a SoftHSM2 token holding the leader's development key, the
leader registers its certificate by proof of possession, signs one document, then a batch
with one PIN entry. The PIN is typed in the agent's own window, never in our page."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from playwright.sync_api import Browser, Page
from playwright.sync_api import expect as pw_expect

from signing.agent.server import AgentServer, normalise_origin
from tests.api.conftest import Api, make_city, served_api
from tests.browser.conftest import Browsers, Watch
from tests.support.agent import serve_agent
from tests.support.devkeys import DevKey, leader_key
from tests.support.pdfs import make_pdf
from tests.support.pg import Cluster
from tests.support.server import free_port
from tests.support.softhsm import SOFTHSM_MODULE, SoftHsmToken

PIN = "246810"


def _token_with(key: DevKey, tmp: Path) -> SoftHsmToken:
    """A fresh SoftHSM2 token holding ``key`` (not extractable) and its certificate."""
    util = shutil.which("softhsm2-util")
    if util is None or not SOFTHSM_MODULE.exists():
        pytest.fail("SoftHSM2 is missing: apt-get install softhsm2", pytrace=False)
    import pkcs11
    from pkcs11.util.ec import decode_ec_private_key
    from pkcs11.util.x509 import decode_x509_certificate

    if "SOFTHSM2_CONF" not in os.environ:
        (tmp / "tokens").mkdir(parents=True)
        conf = tmp / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {tmp / 'tokens'}\n"
                        "objectstore.backend = file\nlog.level = ERROR\n")
        os.environ["SOFTHSM2_CONF"] = str(conf)
    label = f"leader-{uuid.uuid4().hex[:8]}"
    subprocess.run([util, "--init-token", "--free", "--label", label, "--pin", PIN,
                    "--so-pin", "13579"], check=True, capture_output=True, timeout=60)
    lib = pkcs11.lib(str(SOFTHSM_MODULE))
    if label not in {t.label for t in lib.get_tokens()}:
        lib.reinitialize()
    der = key.private.private_bytes(Encoding.DER, PrivateFormat.TraditionalOpenSSL,
                                    NoEncryption())
    with lib.get_token(token_label=label).open(rw=True, user_pin=PIN) as session:
        session.create_object({**decode_ec_private_key(der),
                               pkcs11.Attribute.TOKEN: True, pkcs11.Attribute.PRIVATE: True,
                               pkcs11.Attribute.SENSITIVE: True,
                               pkcs11.Attribute.EXTRACTABLE: False,
                               pkcs11.Attribute.SIGN: True,
                               pkcs11.Attribute.LABEL: "Leader A", pkcs11.Attribute.ID: b"\x07"})
        session.create_object({**decode_x509_certificate(key.certificate),
                               pkcs11.Attribute.TOKEN: True,
                               pkcs11.Attribute.LABEL: "Leader A", pkcs11.Attribute.ID: b"\x07"})
    return SoftHsmToken(module=SOFTHSM_MODULE, label=label, pin=PIN, key_label="Leader A")


@dataclass
class Desk:
    """The served app whose pages may reach the agent, the agent, and the city."""

    api: Api
    agent: AgentServer
    ids: dict[str, Any]


@pytest.fixture(scope="module")
def desk(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """The agent on a free port (its origin set once the app's address is known) and an app
    whose pages' CSP names that agent."""
    data = tmp_path_factory.mktemp("data")
    # The app's development PKI issues leader_a's key; the token gets a copy of it.
    placeholder = SoftHsmToken(SOFTHSM_MODULE, "none", PIN, "none")
    with serve_agent("http://127.0.0.1:1", placeholder) as agent, \
            served_api(pg_cluster, data, agent_url=f"http://127.0.0.1:{agent.port}") as api:
        ids = make_city(api)
        key = leader_key(api.settings.pki_dir, ids["SOA"], "SOA", "Sở A", "leader_a",
                         "Leader A")
        token = _token_with(key, tmp_path_factory.mktemp("softhsm"))
        from signing.agent.token import Token

        agent.config.token = Token(token.module, token.label)
        agent.config.origin = normalise_origin(api.base)
        yield Desk(api, agent, ids)


class AgentWatch(Watch):
    """The pages may reach the agent too (the CSP allows it); nothing else outside."""

    agent: str = ""

    def on_request(self, request: Any) -> None:
        """Note a request to anywhere but the server and the agent."""
        if self.agent and request.url.startswith(self.agent + "/"):
            self.requests += 1
            return
        super().on_request(request)


@contextlib.contextmanager
def signed_in_leader(chromium: Browser, api: Api, agent_url: str) -> Iterator[Page]:
    """leader_a signed in, in Vietnamese; every page watched and checked clean."""
    browsers = Browsers(chromium, api.base)
    watch = AgentWatch(api.base)
    watch.agent = agent_url
    browsers.watch = watch
    yield browsers("leader_a")
    browsers.close()
    watch.assert_clean()


@pytest.fixture
def leader(chromium: Browser, desk: Desk) -> Iterator[Page]:
    """leader_a of the desk whose agent runs."""
    with signed_in_leader(chromium, desk.api, f"http://127.0.0.1:{desk.agent.port}") as page:
        yield page


def _approved(api: Api, summary: str) -> str:
    official, boss = api.client("official_a"), api.client("leader_a")
    try:
        return _approve(official, boss, summary)
    finally:
        official.close()
        boss.close()


def _approve(official: httpx.Client, boss: httpx.Client, summary: str) -> str:
    r = official.post("/documents", data={"summary": summary, "doc_type": "CV"}, files={
        "file": ("d.pdf", make_pdf(1, text=f"{summary}-{uuid.uuid4()}"), "application/pdf")})
    assert r.status_code == 201, r.text
    doc = str(r.json()["id"])
    assert official.post(f"/documents/{doc}/submit", json={}).status_code == 200
    assert boss.post(f"/documents/{doc}/approve", json={}).status_code == 200
    return doc


def _status(api: Api, doc: str) -> str:
    client = api.client("leader_a")
    try:
        return str(client.get(f"/documents/{doc}").json()["status"])
    finally:
        client.close()


def _confirm(popup: Page, pin: str, count: int) -> None:
    """In the agent's own window: read the list, type the PIN once, sign."""
    popup.wait_for_load_state()
    pw_expect(popup.locator("tbody tr")).to_have_count(count)
    popup.fill("#pin", pin)
    popup.click("button[name=action][value=sign]")
    popup.wait_for_load_state()
    popup.close()


def test_the_leader_registers_the_token_then_signs_one_and_a_batch(
        leader: Page, desk: Desk) -> None:
    page = leader
    # The leader registers the certificate on the token: the agent signs the challenge.
    page.click("nav >> text=Chứng thư số của tôi")
    page.get_by_role("button", name="Đọc chứng thư số trên token").click()
    pw_expect(page.locator("#f-agent-certificate option")).to_have_count(1)
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Đăng ký chứng thư số này").click()
    _confirm(opened.value, PIN, 1)
    pw_expect(page).to_have_url(desk.api.base + "/app/certificates?notice=certificate_registered")
    pw_expect(page.locator("table.certificates")).to_contain_text("Tôi tự đăng ký")

    # # One approved document, signed through the agent from its page.
    doc = _approved(desk.api, "Công văn ký bằng USB token qua trình duyệt")
    page.goto(f"/app/documents/{doc}")
    page.get_by_label("Ký bằng USB token trên máy của tôi").check()
    pw_expect(page.locator("#f-agent-certificate option:not([disabled])")).to_have_count(1)
    with page.expect_popup() as opened:
        page.locator("#sign-form button[type=submit]").click()
    _confirm(opened.value, PIN, 1)
    pw_expect(page).to_have_url(f"{desk.api.base}/app/documents/{doc}?notice=signed")
    assert _status(desk.api, doc) == "signed"

    # Two more, signed as a batch from the "to sign" list with one PIN entry.
    docs = [_approved(desk.api, f"Văn bản ký hàng loạt qua token {n}") for n in range(2)]
    page.goto("/app/documents?status=approved")
    for d in docs:
        page.locator(f"#pick-{d}").check()
    page.get_by_label("Ký bằng USB token trên máy của tôi").check()
    pw_expect(page.locator("#f-agent-certificate option:not([disabled])")).to_have_count(1)
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Ký các văn bản đã chọn").click()
    _confirm(opened.value, PIN, 2)
    pw_expect(page.locator("main")).to_contain_text("Đã ký 2 trên 2 văn bản.")
    assert [_status(desk.api, d) for d in docs] == ["signed", "signed"]


def test_without_the_agent_the_page_says_so(
        chromium: Browser, pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> None:
    # An app of its own, whose agent address nothing answers on the leader's computer (the
    # module's other tests sign through the desk's running agent).
    port = free_port()
    with served_api(pg_cluster, tmp_path_factory.mktemp("agentless"),
                    agent_url=f"http://127.0.0.1:{port}") as api:
        make_city(api)
        doc = _approved(api, "Agent không chạy")
        with signed_in_leader(chromium, api, f"http://127.0.0.1:{port}") as leader:
            leader.goto(f"/app/documents/{doc}")
            leader.get_by_label("Ký bằng USB token trên máy của tôi").check()
            pw_expect(leader.locator("[data-agent-status]")).to_contain_text(
                f"không phản hồi tại http://127.0.0.1:{port}")
