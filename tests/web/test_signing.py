"""The leader's signature through the pages: the signing panel (shown to the leader on an
approved document only), the development service, the agent's JSON calls, an uploaded
signed PDF, batches and their result page, certificates (the leader's and the admin's),
refusals next to the form, and CSRF."""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from tests.api.conftest import PASSWORD, Api, Logins, login  # noqa: F401 - the API-side fixture
from tests.support.devkeys import DevKey, leader_key, seal_key
from tests.support.pages import Pages, text_of
from tests.support.pdfs import make_pdf

JSON = {"Accept": "application/json"}


def _approved(login: Logins, summary: str) -> tuple[str, int]:  # noqa: F811
    """A document the official drafted and the leader approved; its id and version."""
    official, leader = login("official_a"), login("leader_a")
    r = official.post("/documents", data={"summary": summary, "doc_type": "CV"}, files={
        "file": ("d.pdf", make_pdf(1, text=f"{summary}-{uuid.uuid4()}"), "application/pdf")})
    assert r.status_code == 201, r.text
    doc = r.json()["id"]
    assert official.post(f"/documents/{doc}/submit", json={}).status_code == 200
    r = leader.post(f"/documents/{doc}/approve", json={})
    assert r.status_code == 200, r.text
    return doc, _read(leader, doc)["version"]


def _read(api: httpx.Client, doc: str) -> dict[str, Any]:
    r = api.get(f"/documents/{doc}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _json(browser: Pages, path: str, data: dict[str, Any]) -> httpx.Response:
    """What signing.js sends: a form body, the CSRF token in a header, JSON back."""
    return browser.http.post(path, data=data,
                             headers=JSON | {"X-CSRF-Token": browser.token})


@pytest.fixture(scope="module")
def key(shared_api: Api, shared_city: dict[str, Any]) -> DevKey:
    """leader_a's development key (what their token holds)."""
    return leader_key(shared_api.settings.pki_dir, shared_city["SOA"], "SOA", "Sở A",
                      "leader_a", "Leader A")


@pytest.fixture(scope="module", autouse=True)
def registered(pages: Callable[[str], Pages], key: DevKey) -> DevKey:
    """The key's certificate registered by leader_a through the page (possession), before
    any test of the module runs: signing through the development service registers the
    same certificate on first use, and this registration would then be a duplicate."""
    leader = pages("leader_a")
    issued = _json(leader, "/app/certificates/challenge", {})
    assert issued.status_code == 200, issued.text
    challenge = issued.json()
    r = _json(leader, "/app/certificates", {
        "certificate": key.certificate_b64, "chain": "[]",
        "challenge": challenge["challenge"],
        "signature": base64.b64encode(key.sign(base64.b64decode(challenge["digest"]))).decode()})
    assert r.status_code == 200, r.text
    assert r.json()["redirect"] == "/app/certificates?notice=certificate_registered"
    return key


def test_the_panel_shows_to_a_leader_on_an_approved_document_only(
        pages: Callable[[str], Pages], login: Logins) -> None:  # noqa: F811
    doc, _ = _approved(login, "Bảng ký chỉ hiện cho lãnh đạo")
    page = pages("leader_a").get(f"/app/documents/{doc}")
    assert page.status_code == 200
    text = text_of(page.text)
    for words in ("Ký qua dịch vụ ký số", "Ký bằng USB token trên máy của tôi",
                  "Tải lên tệp đã ký", "chữ ký chỉ dùng để thử nghiệm"):
        assert words in text
    assert "signing.js" in page.text
    # The agent's way needs the script: it starts disabled, and says why without it.
    assert re.search(r'value="agent" disabled data-needs-script', page.text)
    assert "<noscript>" in page.text
    # The CSP lets the script reach the agent, and nothing else.
    assert "connect-src 'self' http://127.0.0.1:47300;" in page.headers[
        "content-security-policy"]
    # An official sees no panel; nor does the leader on a draft.
    assert "Cách ký" not in text_of(pages("official_a").get(f"/app/documents/{doc}").text)
    r = pages("official_a").post("/app/documents/new", {"summary": "Dự thảo", "doc_type": "CV"},
                                 files={"file": ("d.pdf", make_pdf(1), "application/pdf")})
    draft = r.headers["location"].split("?")[0]
    assert "Cách ký" not in text_of(pages("leader_a").get(draft).text)
    # The official's POST is refused (the step checks, not the hiding).
    r = pages("official_a").post(f"/app/documents/{doc}/signature-requests",
                                 {"method": "provider"})
    assert r.status_code == 403


def test_a_stale_page_gets_the_stale_message(pages: Callable[[str], Pages],
                                             login: Logins) -> None:  # noqa: F811
    doc, version = _approved(login, "Trang cũ")
    r = pages("leader_a").post(f"/app/documents/{doc}/signature-requests", {
        "method": "provider", "expected_version": str(version - 1)})
    assert r.status_code == 409
    assert "Có người đã thay đổi" in text_of(r.text) or "thay đổi" in text_of(r.text)
    assert _read(login("leader_a"), doc)["version"] == version


def test_the_agent_flow_signs_with_the_registered_certificate(
        pages: Callable[[str], Pages], login: Logins, registered: DevKey) -> None:  # noqa: F811
    leader = pages("leader_a")
    assert registered.fingerprint[:16] in leader.get("/app/certificates").text
    doc, version = _approved(login, "Ký qua USB token")
    # signing.js opens the request and reads the digest.
    r = _json(leader, f"/app/documents/{doc}/signature-requests", {
        "method": "agent", "capacity": "own", "principal_title": "",
        "certificate_fingerprint": registered.fingerprint, "expected_version": str(version)})
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["status"] == "pending"
    # While it waits, the page shows the request, its expiry and a cancel button.
    text = text_of(leader.get(f"/app/documents/{doc}").text)
    assert "Đang chờ chữ ký" in text
    assert "Hủy yêu cầu ký" in text
    # The agent signs the digest; the page posts the value.
    value = base64.b64encode(registered.sign(base64.b64decode(state["digest"]))).decode()
    r = _json(leader, f"/app/documents/{doc}/signature-requests/{state['request_id']}/signature",
              {"signature": value})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "signed"
    assert _read(login("leader_a"), doc)["status"] == "signed"
    # A replayed answer is refused in plain words.
    r = _json(leader, f"/app/documents/{doc}/signature-requests/{state['request_id']}/signature",
              {"signature": value})
    assert r.status_code == 409
    assert r.json()["error"] == "signature_request_closed"
    assert "không còn chờ xử lý" in r.json()["message"]


def test_the_leader_signs_through_the_development_service(
        pages: Callable[[str], Pages], login: Logins,  # noqa: F811
        registered: DevKey) -> None:
    doc, version = _approved(login, "Ký qua dịch vụ phát triển")
    r = pages("leader_a").post(f"/app/documents/{doc}/signature-requests", {
        "method": "provider", "capacity": "KT", "principal_title": "Giám đốc",
        "expected_version": str(version)})
    assert r.status_code == 303, text_of(r.text)
    assert r.headers["location"] == f"/app/documents/{doc}?notice=signed"
    document = _read(login("leader_a"), doc)
    assert (document["status"], document["signing_capacity"]) == ("signed", "KT")
    # The development key's certificate was registered through the agent's way before.
    text = text_of(pages("leader_a").get("/app/certificates").text)
    assert "Tôi tự đăng ký (khóa đã ký chuỗi xác thực)" in text


def test_a_signature_by_another_key_is_refused_next_to_the_form(
        shared_api: Api, shared_city: dict[str, Any], pages: Callable[[str], Pages],
        login: Logins, registered: DevKey) -> None:  # noqa: F811
    leader = pages("leader_a")
    doc, version = _approved(login, "Ký bằng khoá khác")
    state = _json(leader, f"/app/documents/{doc}/signature-requests", {
        "method": "agent", "certificate_fingerprint": registered.fingerprint,
        "expected_version": str(version)}).json()
    other = seal_key(shared_api.settings.pki_dir, shared_city["SOA"], "SOA", "Sở A")
    wrong = base64.b64encode(other.sign(base64.b64decode(state["digest"]))).decode()
    r = _json(leader, f"/app/documents/{doc}/signature-requests/{state['request_id']}/signature",
              {"signature": wrong})
    assert r.status_code == 422
    assert r.json()["error"] == "signature_mismatch"
    # signing.js then shows the document with the refusal above the sign form.
    page = leader.get(f"/app/documents/{doc}?request={state['request_id']}")
    text = text_of(page.text)
    assert "không được tạo bằng khóa của chứng thư số đã chọn" in text
    assert "Cách ký" in text  # the form again, to sign anew
    assert _read(login("leader_a"), doc)["status"] == "approved"
    # A certificate that is not registered is refused before anything is prepared.
    r = _json(leader, f"/app/documents/{doc}/signature-requests", {
        "method": "agent", "certificate_fingerprint": other.fingerprint})
    assert r.status_code == 422
    assert r.json()["error"] == "certificate_not_registered"


def _sign_whole(prepared: bytes, key: DevKey) -> bytes:
    signer = signers.SimpleSigner.load_pkcs12(str(key.p12), passphrase=key.password)
    assert signer is not None
    out = io.BytesIO()
    signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(prepared)),
                     signers.PdfSignatureMetadata(field_name="lanh_dao"), signer=signer,
                     output=out)
    return out.getvalue()


def test_an_upload_through_the_page(pages: Callable[[str], Pages], login: Logins,  # noqa: F811
                                    registered: DevKey) -> None:
    leader = pages("leader_a")
    doc, version = _approved(login, "Tải lên tệp đã ký")
    r = leader.post(f"/app/documents/{doc}/signature-requests", {
        "method": "upload", "expected_version": str(version)})
    assert r.status_code == 303, text_of(r.text)
    page = leader.get(f"/app/documents/{doc}").text
    found = re.search(r'href="(/app/documents/[^"]+/signature-requests/([^/"]+))/pdf"', page)
    assert found, "no download link for the prepared PDF"
    base = found.group(1)
    prepared = leader.get(f"{base}/pdf")
    assert prepared.status_code == 200
    assert prepared.content.startswith(b"%PDF")
    # An unsigned file is refused next to the file field; nothing is signed.
    r = leader.post(f"{base}/signed-pdf", files={
        "file": ("x.pdf", prepared.content, "application/pdf")})
    assert r.status_code == 422
    assert 'id="f-signed_file-error"' in r.text or "Cách ký" in text_of(r.text)
    assert _read(login("leader_a"), doc)["status"] == "approved"
    # The leader's software signs the prepared file whole; the page accepts it.
    r = leader.post(f"/app/documents/{doc}/signature-requests", {
        "method": "upload", "expected_version": str(_read(login("leader_a"), doc)["version"])})
    assert r.status_code == 303, text_of(r.text)
    page = leader.get(f"/app/documents/{doc}").text
    base = re.search(r'href="(/app/documents/[^"]+/signature-requests/[^/"]+)/pdf"', page)
    assert base
    prepared = leader.get(f"{base.group(1)}/pdf").content
    r = leader.post(f"{base.group(1)}/signed-pdf", files={
        "file": ("signed.pdf", _sign_whole(prepared, registered), "application/pdf")})
    assert r.status_code == 303, text_of(r.text)
    assert r.headers["location"] == f"/app/documents/{doc}?notice=signed"
    assert _read(login("leader_a"), doc)["status"] == "signed"


def test_a_batch_and_its_result_page(pages: Callable[[str], Pages],
                                     login: Logins) -> None:  # noqa: F811
    leader = pages("leader_a")
    docs = [_approved(login, f"Ký hàng loạt {n}") for n in range(2)]
    # The "to sign" list offers the checkboxes and the batch form.
    listed = leader.get("/app/documents?status=approved").text
    assert "Ký các văn bản đã chọn" in text_of(listed)
    assert f'value="{docs[0][0]}:{docs[0][1]}"' in listed
    # One chosen document is no longer approved by the time the batch runs.
    gone, _ = _approved(login, "Đã ký trước")
    assert leader.post(f"/app/documents/{gone}/signature-requests",
                       {"method": "provider"}).status_code == 303
    chosen = [f"{d}:{v}" for d, v in docs] + [f"{gone}:"]
    r = leader.post("/app/signature-batches", {"documents": chosen, "method": "provider"})
    assert r.status_code == 200, text_of(r.text)
    text = text_of(r.text)
    assert "Đã ký 2 trên 3 văn bản." in text
    assert "Ký hàng loạt 0" in text
    assert "Đã ký trước" in text
    assert "Không thể thực hiện bước này ở trạng thái hiện tại của văn bản" in text or \
        "Chưa ký" in text
    for doc, _ in docs:
        assert _read(login("leader_a"), doc)["status"] == "signed"
    # A batch of nothing is refused with a message, nothing recorded.
    r = leader.post("/app/signature-batches", {"method": "provider"})
    assert r.status_code == 422


def test_the_agent_batch_answers_each_document(
        pages: Callable[[str], Pages], login: Logins, registered: DevKey) -> None:  # noqa: F811
    leader = pages("leader_a")
    docs = [_approved(login, f"Lô qua token {n}") for n in range(2)]
    r = _json(leader, "/app/signature-batches", {
        "documents": [f"{d}:{v}" for d, v in docs], "method": "agent",
        "certificate_fingerprint": registered.fingerprint})
    assert r.status_code == 200, r.text
    batch = r.json()
    items = [{"document_id": i["document_id"], "request_id": i["request_id"],
              "signature": base64.b64encode(registered.sign(
                  base64.b64decode(i["digest"]))).decode()} for i in batch["items"]]
    items[1]["signature"] = items[0]["signature"]  # the first's value: refused
    r = leader.post(f"/app/signature-batches/{batch['batch_id']}/signatures",
                    {"items": json.dumps(items), "skipped": "[]"})
    assert r.status_code == 200, text_of(r.text)
    text = text_of(r.text)
    assert "Đã ký 1 trên 2 văn bản." in text
    assert "Từ chối" in text or "Chưa ký" in text
    assert [_read(login("leader_a"), d)["status"] for d, _ in docs] == ["signed", "approved"]


def test_certificates_by_the_admin_and_their_removal(
        shared_api: Api, shared_city: dict[str, Any], pages: Callable[[str], Pages]) -> None:
    # A leader of their own: the module's other tests sign with leader_a's registered key.
    user = shared_api.client("root").post("/users", json={
        "username": "leader_cert", "full_name": "Leader Cert", "password": PASSWORD,
        "roles": ["leader"], "agency_id": shared_city["SOA"]}).json()["id"]
    key = leader_key(shared_api.settings.pki_dir, shared_city["SOA"], "SOA", "Sở A",
                     "leader_cert", "Leader Cert")
    admin, leader = pages("root"), pages("leader_cert")
    page = admin.get(f"/app/admin/users/{user}")
    assert f"/app/admin/users/{user}/certificates" in page.text
    # Something that is not a certificate is refused next to the field.
    r = admin.post(f"/app/admin/users/{user}/certificates", {"certificate": "not base64!"})
    assert r.status_code == 422
    assert 'id="f-certificate-error"' in r.text
    # The admin uploads the leader's certificate as a DER file.
    r = admin.post(f"/app/admin/users/{user}/certificates", {"certificate": ""}, files={
        "certificate_file": ("leader.cer", key.certificate, "application/pkix-cert")})
    assert r.status_code == 303, text_of(r.text)
    listed = admin.get(f"/app/admin/users/{user}/certificates").text
    assert key.fingerprint[:16] in listed
    assert key.fingerprint[:16] in leader.get("/app/certificates").text
    # The same certificate again is refused: it is registered already.
    r = admin.post(f"/app/admin/users/{user}/certificates", {"certificate": ""}, files={
        "certificate_file": ("leader.cer", key.certificate, "application/pkix-cert")})
    assert r.status_code == 409, text_of(r.text)
    # The leader removes it; a removal without a reason is refused next to its field.
    r = leader.post(f"/app/certificates/{key.fingerprint}/remove", {"reason": ""})
    assert r.status_code == 422
    r = leader.post(f"/app/certificates/{key.fingerprint}/remove",
                    {"reason": "Token bị mất"})
    assert r.status_code == 303
    assert key.fingerprint[:16] not in leader.get("/app/certificates").text
    # An official may not open the admin's page.
    assert pages("official_a").get(f"/app/admin/users/{user}/certificates").status_code == 403


def test_csrf_is_enforced(pages: Callable[[str], Pages], login: Logins) -> None:  # noqa: F811
    doc, version = _approved(login, "CSRF")
    leader = pages("leader_a")
    for path in (f"/app/documents/{doc}/signature-requests", "/app/signature-batches",
                 "/app/certificates/challenge", "/app/certificates"):
        r = leader.post(path, {"method": "provider", "documents": [f"{doc}:{version}"]},
                        token="guess")
        assert r.status_code == 403, path
        r = leader.http.post(path, data={"method": "provider"},
                             headers=JSON | {"X-CSRF-Token": "guess"})
        assert r.status_code == 403, path
    assert _read(login("leader_a"), doc)["version"] == version
