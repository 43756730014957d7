"""The local signing agent over SoftHSM2: the JSON API for one origin, the confirm page, PINs."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding

from api.cli import build_parser
from signing.agent import page
from signing.agent.server import normalise_origin
from signing.agent.token import PinLockedError
from tests.agent.conftest import EC_ID, LEADER_ID, ORIGIN, Agent
from tests.signing.conftest import PkiFixture
from tests.support.softhsm import SoftHsmToken

WRONG_PIN = "98765-wrong"


def items(n: int) -> list[dict[str, str]]:
    """N digests to sign, each with its document's line."""
    return [{"id": f"req-{i}", "label": f"Công văn số {i}/UBND-VP",
             "digest": base64.b64encode(hashlib.sha256(f"doc {i}".encode()).digest()).decode()}
            for i in range(n)]


def ask(agent: Agent, n: int = 1) -> dict[str, Any]:
    """The docmgmt page asks the agent to sign N digests; the job's answer."""
    response = agent.api.post("/v1/sign", json={"certificate_id": LEADER_ID, "items": items(n)})
    assert response.status_code == 202, response.text
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    body: dict[str, Any] = response.json()
    assert body["confirm_url"] == f"{agent.url}/confirm/{body['job_id']}"
    return body


def job(agent: Agent, job_id: str) -> dict[str, Any]:
    """The job as the docmgmt page polls it."""
    response = agent.api.get(f"/v1/sign/{job_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_verifies(test_pki: PkiFixture, asked: list[dict[str, str]],
                    signatures: list[dict[str, str]]) -> None:
    """Each signature is the leader key's PKCS#1 v1.5 over its item's digest."""
    public = pyca_x509.load_der_x509_certificate(test_pki.cert("leader").dump()).public_key()
    assert [s["id"] for s in signatures] == [i["id"] for i in asked]
    for item, sig in zip(asked, signatures, strict=True):
        public.verify(base64.b64decode(sig["signature"]), base64.b64decode(item["digest"]),
                      padding.PKCS1v15(), Prehashed(SHA256()))  # type: ignore[union-attr]


def test_status_names_the_token(agent: Agent, softhsm_token: SoftHsmToken) -> None:
    response = agent.api.get("/v1/status")
    assert response.status_code == 200
    body = response.json()
    assert body["token_label"] == softhsm_token.label
    assert body["token_present"] is True
    assert body["version"]
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_certificates_come_from_the_token_with_their_chain(agent: Agent,
                                                           test_pki: PkiFixture) -> None:
    response = agent.api.get("/v1/certificates")
    assert response.status_code == 200
    [listed] = response.json()["certificates"]  # the CA certificate is chain, not a signer
    assert listed["id"] == LEADER_ID
    assert listed["label"] == "leader"
    assert base64.b64decode(listed["certificate"]) == test_pki.cert("leader").dump()
    assert [base64.b64decode(c) for c in listed["chain"]] == [test_pki.cert("interm").dump()]


def test_a_batch_of_three_is_signed_with_one_pin(agent: Agent, test_pki: PkiFixture,
                                                 softhsm_token: SoftHsmToken) -> None:
    # The docmgmt page asks for three signatures.
    asked = ask(agent, 3)
    assert job(agent, asked["job_id"]) == {"status": "pending", "signatures": []}
    # The leader opens the confirm page: it says who asks and lists what is signed.
    page = agent.page.get(asked["confirm_url"])
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in page.text
    assert ORIGIN in page.text
    assert '<html lang="vi">' in page.text  # Vietnamese first
    for entry in items(3):
        assert entry["label"] in page.text
        assert base64.b64decode(entry["digest"]).hex()[:16] in page.text
    # One PIN entry signs all three.
    done = agent.confirm(asked["confirm_url"], action="sign", pin=softhsm_token.pin)
    assert done.status_code == 200
    assert "Signed: 3 document(s)" in done.text
    result = job(agent, asked["job_id"])
    assert result["status"] == "signed"
    assert_verifies(test_pki, items(3), result["signatures"])


def test_a_wrong_pin_is_shown_and_the_right_one_then_signs(
        agent: Agent, test_pki: PkiFixture, softhsm_token: SoftHsmToken,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    asked = ask(agent, 2)
    # The leader mistypes the PIN: the page says so, nothing is signed, the PIN is not echoed.
    wrong = agent.confirm(asked["confirm_url"], action="sign", pin=WRONG_PIN)
    assert wrong.status_code == 422
    assert "Wrong PIN" in wrong.text
    assert "failed attempts: 1" in wrong.text
    assert WRONG_PIN not in wrong.text
    assert job(agent, asked["job_id"]) == {"status": "pending", "signatures": []}
    # The retry with the right PIN signs.
    right = agent.confirm(asked["confirm_url"], action="sign", pin=softhsm_token.pin)
    assert right.status_code == 200
    result = job(agent, asked["job_id"])
    assert result["status"] == "signed"
    assert_verifies(test_pki, items(2), result["signatures"])
    assert WRONG_PIN not in caplog.text
    assert f"pin={softhsm_token.pin}" not in caplog.text


def test_a_locked_pin_fails_the_job_and_says_so(agent: Agent,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # SoftHSM2 never locks a PIN: the token's answer is played by the Token object.
    def locked(*_: object) -> list[bytes]:
        raise PinLockedError("the token's PIN is locked")

    monkeypatch.setattr(agent.server.config.token, "sign", locked)
    asked = ask(agent)
    page = agent.confirm(asked["confirm_url"], action="sign", pin="1234")
    assert "PIN is locked" in page.text
    assert job(agent, asked["job_id"]) == {"status": "failed", "error": "pin_locked",
                                           "signatures": []}


def test_refuse_signs_nothing(agent: Agent, softhsm_token: SoftHsmToken) -> None:
    asked = ask(agent)
    page = agent.confirm(asked["confirm_url"], action="refuse")
    assert page.status_code == 200
    assert "You refused to sign" in page.text
    # A late Sign on the refused job changes nothing.
    agent.page.post(asked["confirm_url"], data={"action": "sign", "pin": softhsm_token.pin})
    assert job(agent, asked["job_id"]) == {"status": "refused", "signatures": []}


def test_the_confirm_form_needs_its_csrf_token_and_its_own_origin(
        agent: Agent, softhsm_token: SoftHsmToken) -> None:
    asked = ask(agent)
    forged = agent.page.post(asked["confirm_url"],
                             data={"csrf": "guess", "action": "sign", "pin": softhsm_token.pin})
    assert forged.status_code == 403
    csrf = re.search(r'name="csrf" value="([^"]+)"', agent.page.get(asked["confirm_url"]).text)
    assert csrf is not None
    # The docmgmt page itself never posts the PIN form, even knowing the token.
    from_site = agent.api.post(asked["confirm_url"], data={
        "csrf": csrf.group(1), "action": "sign", "pin": softhsm_token.pin})
    assert from_site.status_code == 403
    assert job(agent, asked["job_id"])["status"] == "pending"


@pytest.mark.parametrize("origin", ["https://evil.example", "https://docmgmt.example.gov.vn.evil",
                                    "http://docmgmt.example.gov.vn", "null", None])
def test_another_origin_is_refused_without_cors(agent: Agent, origin: str | None) -> None:
    headers = {"Origin": origin} if origin else {}
    for method, path in (("GET", "/v1/status"), ("GET", "/v1/certificates"),
                         ("POST", "/v1/sign")):
        response = agent.page.request(method, path, headers=headers,
                                      json={"certificate_id": LEADER_ID, "items": items(1)})
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "origin_refused"
        assert not any(h.startswith("access-control-") for h in response.headers)
    preflight = agent.page.options("/v1/sign", headers={
        **headers, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403
    assert not any(h.startswith("access-control-") for h in preflight.headers)


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1:1", "docmgmt.example.gov.vn",
                                  "127.0.0.1.nip.io:{port}"])
def test_a_wrong_host_is_refused(agent: Agent, host: str) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 under its own name.
    response = agent.api.get("/v1/status", headers={"Host": host.format(port=agent.server.port)})
    assert response.status_code == 403
    assert response.json()["error"] == "host_refused"
    assert "access-control-allow-origin" not in response.headers
    by_name = agent.api.get("/v1/status", headers={"Host": f"localhost:{agent.server.port}"})
    assert by_name.status_code == 200


def test_preflight_answers_the_configured_origin(agent: Agent) -> None:
    response = agent.api.options("/v1/sign", headers={
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Private-Network": "true"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"


def test_a_job_expires(agent: Agent, softhsm_token: SoftHsmToken) -> None:
    asked = ask(agent)
    page = agent.page.get(asked["confirm_url"])
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    # The leader comes back after five minutes.
    agent.clock.advance(timedelta(minutes=5, seconds=1))
    assert job(agent, asked["job_id"]) == {"status": "failed", "error": "expired",
                                           "signatures": []}
    late = agent.page.post(asked["confirm_url"], headers={"Origin": agent.url}, data={
        "csrf": csrf.group(1), "action": "sign", "pin": softhsm_token.pin, "lang": "en"})
    assert "has expired" in late.text
    assert job(agent, asked["job_id"])["status"] == "failed"
    # Later still, the job is forgotten.
    agent.clock.advance(timedelta(minutes=5))
    assert agent.api.get(f"/v1/sign/{asked['job_id']}").status_code == 404
    assert agent.page.get(asked["confirm_url"]).status_code == 404


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b"{not json", "application/json", 400, "invalid_json"),
    (b'{"certificate_id": "01"}', "application/json", 422, "invalid_request"),
    (b'[1, 2]', "application/json", 422, "invalid_request"),
    (b'{"certificate_id": "01", "items": [{"id": "a", "label": "x", "digest": "AAAA"}]}',
     "application/json", 422, "invalid_digest"),
    (b'{"certificate_id": "ff", "items": [{"id": "a", "label": "x", "digest": "'
     + base64.b64encode(bytes(32)) + b'"}]}', "application/json", 422, "certificate_not_found"),
    (b'{"certificate_id": "01", "items": []}', "text/plain", 415, "unsupported_media_type"),
    (b'{"pad": "' + b"x" * 300_000 + b'"}', "application/json", 413, "too_large"),
])
def test_malformed_requests_get_clear_json_errors(agent: Agent, body: bytes, content_type: str,
                                                  status: int, code: str) -> None:
    response = agent.api.post("/v1/sign", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert "Traceback" not in response.text


def test_origins_are_compared_as_browsers_send_them() -> None:
    assert normalise_origin("https://Docmgmt.example.gov.vn:443/") == ORIGIN
    assert normalise_origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    for bad in ("docmgmt.example.gov.vn", "https://x.vn/app", "ftp://x.vn", "https://u@x.vn"):
        with pytest.raises(ValueError, match="not an origin"):
            normalise_origin(bad)


def test_the_command_refuses_another_host() -> None:
    args = build_parser().parse_args(["agent", "--origin", ORIGIN, "--module", "/x.so",
                                      "--token-label", "T", "--host", "0.0.0.0"])  # noqa: S104
    with pytest.raises(SystemExit, match=r"127\.0\.0\.1 only"):
        args.func(args, None)


def test_every_string_of_the_confirm_page_is_translated() -> None:
    template = (page.HERE / "templates" / "confirm.html").read_text(encoding="utf-8")
    shown = set(re.findall(r'_\("([^"]+)"\)', template))
    assert len(shown) > 15
    vietnamese, english = page.messages("vi"), page.messages("en")
    assert shown - set(vietnamese) == set()
    assert shown - set(english) == set()
    assert all(vietnamese[m] != m for m in shown)  # really Vietnamese, not the msgid


def test_an_ec_key_signs_a_der_ecdsa_value(agent: Agent, ec_key: pyca_x509.Certificate,
                                          softhsm_token: SoftHsmToken) -> None:
    listed = {c["id"]: c for c in agent.api.get("/v1/certificates").json()["certificates"]}
    assert base64.b64decode(listed[EC_ID]["certificate"]) == ec_key.public_bytes(Encoding.DER)
    response = agent.api.post("/v1/sign", json={"certificate_id": EC_ID, "items": items(2)})
    assert response.status_code == 202
    asked = response.json()
    agent.confirm(asked["confirm_url"], action="sign", pin=softhsm_token.pin)
    result = job(agent, asked["job_id"])
    assert result["status"] == "signed"
    public = ec_key.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    for item, sig in zip(items(2), result["signatures"], strict=True):
        # verify() takes a DER ECDSA-Sig-Value: a raw r||s would not parse.
        public.verify(base64.b64decode(sig["signature"]), base64.b64decode(item["digest"]),
                      ec.ECDSA(Prehashed(SHA256())))


def test_the_command_serves_the_token(softhsm_token: SoftHsmToken) -> None:
    with socket.socket() as probe:  # a free port for the command
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "agent", "--origin", ORIGIN + "/",
         "--module", str(softhsm_token.module), "--token-label", softhsm_token.label,
         "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert command.stdout is not None
        assert f"on http://127.0.0.1:{port}" in command.stdout.readline()
        status = httpx.get(f"http://127.0.0.1:{port}/v1/status", headers={"Origin": ORIGIN})
        assert status.status_code == 200
        assert status.json()["token_present"] is True
    finally:
        command.send_signal(signal.SIGTERM)
        assert command.wait(timeout=10) == 0


def test_labels_are_shown_as_text(agent: Agent) -> None:
    hostile = [{**items(1)[0], "label": '<script>alert("x")</script>'}]
    response = agent.api.post("/v1/sign", json={"certificate_id": LEADER_ID, "items": hostile})
    page_text = agent.page.get(response.json()["confirm_url"]).text
    assert "&lt;script&gt;" in page_text
    assert "<script" not in page_text


def test_waiting_jobs_are_limited(agent: Agent) -> None:
    for _ in range(agent.server.config.jobs.max_pending):
        ask(agent)
    response = agent.api.post("/v1/sign", json={"certificate_id": LEADER_ID, "items": items(1)})
    assert response.status_code == 429
    assert response.json()["error"] == "too_many_jobs"
