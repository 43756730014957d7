"""Leaders sign through signing services that hold their keys, end to end: the real
certomancer CSC service (authorisation bound to the exact hashes, one for a batch) and a
service that waits for the signer's confirmation (confirm, refuse, expire, late answer)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.common import Role, SigningCapacity
from docmgmt.domain.errors import CertificateNotRegisteredError
from docmgmt.kernel.db import Database
from docmgmt.outgoing import certificates, signing
from docmgmt.outgoing.follower import Pending, follow_once
from docmgmt.outgoing.signing import BatchDocument, Method, RequestStatus
from tests.api.conftest import PASSWORD, make_city, served_api
from tests.signing.conftest import PkiFixture
from tests.support import confirm_provider as confirm_fixtures
from tests.support import csc as csc_fixtures
from tests.support.confirm_provider import ConfirmService
from tests.support.csc import CscService
from tests.support.identity import admin_acting_as
from tests.support.pdfs import make_pdf
from tests.support.pg import Cluster
from tests.support.waiting import wait_until
from tests.workflow.conftest import AGENCY_CODE, SETUP, Desk, KeysFile, pki_desk

csc_server = csc_fixtures.csc_server
csc_service = csc_fixtures.csc_service
confirm_provider = confirm_fixtures.confirm_provider


def _with_signing(keys: KeysFile, entry: dict[str, Any], directory: Path) -> KeysFile:
    """The keys file with a signing service for agency SOA (and no leader keys held)."""
    config = json.loads(keys.path.read_text(encoding="utf-8"))
    config["agencies"][AGENCY_CODE]["signing"] = entry
    config["users"] = {}
    path = directory / "keys-signing.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return KeysFile(path, keys.pki)


def _register_leader_certificate(desk: Desk, username: str, pki: PkiFixture) -> str:
    """An admin uploads the test PKI leader's certificate for the user; its fingerprint."""
    cert = pki.cert("leader")
    certificates.register_for(desk.outgoing, admin_acting_as(SETUP),
                              desk[username].user_id,
                              certificate=base64.b64encode(cert.dump()).decode(),
                              chain=[base64.b64encode(pki.cert("interm").dump()).decode()])
    return str(cert.sha256.hex())


@pytest.fixture
def csc_desk(database: Database, tmp_path: Path, keys_file: KeysFile,
             csc_service: CscService) -> Iterator[Desk]:
    """Agency SOA signing through the CSC service; its leader has no key on the server."""
    keys = _with_signing(keys_file, {"type": "csc", "url": csc_service.url,
                                     "client_data": csc_service.client_data}, tmp_path)
    desk = pki_desk(database, tmp_path / "data", keys)
    try:
        yield desk
    finally:
        desk.write.close()


def test_a_csc_signature_end_to_end(csc_desk: Desk, csc_service: CscService,
                                    test_pki: PkiFixture) -> None:
    doc = csc_desk.approved("Ký qua dịch vụ CSC")
    with pytest.raises(CertificateNotRegisteredError):
        signing.sign(csc_desk.outgoing, csc_desk["leader"], doc, SigningCapacity.OWN, "", None)
    fingerprint = _register_leader_certificate(csc_desk, "leader", test_pki)
    csc_service.calls.clear()
    signing.sign(csc_desk.outgoing, csc_desk["leader"], doc, SigningCapacity.KT, "Giám đốc",
                 None)
    assert csc_desk.event_types(doc)[-3:] == ["SignatureRequested", "SignatureProvided",
                                              "Signed"]
    # One authorisation, bound to exactly the digest the request recorded (SCAL2).
    requested = next(e for e in csc_desk.write.app.history(doc)
                     if e.type.endswith("SignatureRequested"))
    (authorize,) = csc_service.called("credentials/authorize")
    assert authorize.body["hash"] == [
        base64.b64encode(bytes.fromhex(requested.payload["digest"])).decode()]
    assert len(csc_service.called("signatures/signHash")) == 1
    leader_sig = csc_desk.validate(doc)["signatures"][0]
    assert (leader_sig["intact"], leader_sig["valid"], leader_sig["trusted"]) == (True,) * 3
    assert leader_sig["signer_fingerprint"] == fingerprint


def test_a_csc_batch_of_20_takes_one_authorisation_and_one_failure_stays_alone(
        csc_desk: Desk, csc_service: CscService, test_pki: PkiFixture) -> None:
    _register_leader_certificate(csc_desk, "leader", test_pki)
    docs = [csc_desk.approved(f"Lô CSC {n}") for n in range(19)]
    returned = csc_desk.draft("Chưa trình duyệt")
    csc_service.calls.clear()
    result = signing.request_batch(
        csc_desk.outgoing, csc_desk["leader"],
        [BatchDocument(d) for d in docs[:10]] + [BatchDocument(returned)]
        + [BatchDocument(d) for d in docs[10:]],
        method=Method.PROVIDER, capacity=SigningCapacity.OWN, principal_title="",
        certificate_fingerprint=None)
    (authorize,) = csc_service.called("credentials/authorize")
    assert authorize.body["numSignatures"] == 19
    assert len(authorize.body["hash"]) == 19
    statuses = {i.document_id: (i.state.status if i.state else i.error_code)
                for i in result.items}
    assert statuses.pop(returned) == "invalid_state"
    assert set(statuses.values()) == {RequestStatus.SIGNED}
    assert {csc_desk.document(d).status.value for d in docs} == {"signed"}


@pytest.fixture
def confirm_desk(database: Database, tmp_path: Path, keys_file: KeysFile,
                 confirm_provider: ConfirmService,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    """Agency SOA signing through a service that waits for the signer's confirmation."""
    monkeypatch.setenv("TEST_CONFIRM_SECRET", confirm_provider.secret)
    keys = _with_signing(keys_file, {"type": "confirm", "url": confirm_provider.url,
                                     "client_id": "docmgmt",
                                     "secret_env": "TEST_CONFIRM_SECRET"}, tmp_path)
    desk = pki_desk(database, tmp_path / "data", keys)
    desk.person(confirm_fixtures.USERNAME, "Nguyễn Văn An", "Giám đốc", Role.LEADER)
    _register_leader_certificate(desk, confirm_fixtures.USERNAME, keys.pki)
    try:
        yield desk
    finally:
        desk.write.close()


def _request(desk: Desk, doc: Any) -> signing.SignatureRequestState:
    state = signing.request_signature(
        desk.outgoing, desk[confirm_fixtures.USERNAME], doc, method=Method.PROVIDER,
        capacity=SigningCapacity.OWN, principal_title="", certificate_fingerprint=None,
        expected_version=None)
    assert state.status is RequestStatus.PENDING
    return state


def _state(desk: Desk, doc: Any, state: signing.SignatureRequestState
           ) -> signing.SignatureRequestState:
    return signing.request_state(desk.outgoing, desk[confirm_fixtures.USERNAME], doc,
                                 state.request_id)


def test_the_signer_confirms_on_the_phone(confirm_desk: Desk,
                                          confirm_provider: ConfirmService) -> None:
    doc = confirm_desk.approved("Xác nhận trên điện thoại")
    state = _request(confirm_desk, doc)
    assert _state(confirm_desk, doc, state).status is RequestStatus.PENDING
    confirm_provider.confirm(confirm_provider.only().transaction_id)
    assert _state(confirm_desk, doc, state).status is RequestStatus.SIGNED
    assert confirm_desk.event_types(doc)[-3:] == ["SignatureRequested", "SignatureProvided",
                                                  "Signed"]


def test_the_signer_refuses(confirm_desk: Desk, confirm_provider: ConfirmService) -> None:
    doc = confirm_desk.approved("Người ký từ chối")
    state = _request(confirm_desk, doc)
    confirm_provider.refuse(confirm_provider.only().transaction_id)
    ended = _state(confirm_desk, doc, state)
    assert (ended.status, ended.reason) == (RequestStatus.REFUSED, "refused_by_signer")
    assert confirm_desk.document(doc).status.value == "approved"


def test_the_service_gives_up(confirm_desk: Desk, confirm_provider: ConfirmService) -> None:
    doc = confirm_desk.approved("Dịch vụ hết chờ")
    state = _request(confirm_desk, doc)
    confirm_provider.expire(confirm_provider.only().transaction_id)
    assert _state(confirm_desk, doc, state).status is RequestStatus.EXPIRED
    assert confirm_desk.event_types(doc)[-1] == "SignatureExpired"


def test_a_late_confirmation_after_expiry_signs_nothing(
        confirm_desk: Desk, confirm_provider: ConfirmService) -> None:
    doc = confirm_desk.approved("Xác nhận muộn")
    state = _request(confirm_desk, doc)
    later = datetime.now(VIETNAM_TZ) + timedelta(
        minutes=confirm_desk.outgoing.request_minutes + 1)
    confirm_desk.at(lambda: later)
    confirm_provider.answer_late(confirm_provider.only().transaction_id)
    assert _state(confirm_desk, doc, state).status is RequestStatus.EXPIRED
    assert "Signed" not in confirm_desk.event_types(doc)


def test_a_dishonest_service_answering_with_another_key_is_refused(
        confirm_desk: Desk, confirm_provider: ConfirmService, test_pki: PkiFixture) -> None:
    doc = confirm_desk.approved("Dịch vụ trả chữ ký sai khoá")
    state = _request(confirm_desk, doc)
    confirm_provider.confirm(confirm_provider.only().transaction_id,
                             key=test_pki.private_key("seal"))
    ended = _state(confirm_desk, doc, state)
    assert (ended.status, ended.reason) == (RequestStatus.REFUSED, "signature_mismatch")
    assert "Signed" not in confirm_desk.event_types(doc)


def test_the_follower_records_an_expiry_nobody_looked_at(
        confirm_desk: Desk, confirm_provider: ConfirmService) -> None:
    doc = confirm_desk.approved("Không ai theo dõi")
    state = _request(confirm_desk, doc)
    signer = confirm_desk[confirm_fixtures.USERNAME]
    pending = [Pending(doc, signer.agency_id, state.request_id, signer.user_id)]
    assert follow_once(confirm_desk.outgoing, pending) == 1
    assert confirm_desk.event_types(doc)[-1] == "SignatureRequested"  # still waiting
    later = datetime.now(VIETNAM_TZ) + timedelta(
        minutes=confirm_desk.outgoing.request_minutes + 1)
    confirm_desk.at(lambda: later)
    follow_once(confirm_desk.outgoing, pending)
    assert confirm_desk.event_types(doc)[-1] == "SignatureExpired"


def test_a_confirmation_is_recorded_with_the_page_closed(
        pg_cluster: Cluster, tmp_path: Path, keys_file: KeysFile,
        confirm_provider: ConfirmService, monkeypatch: pytest.MonkeyPatch,
        test_pki: PkiFixture) -> None:
    """Served as in production: the leader asks, confirms on the phone, and nobody polls;
    the server's follower reads the pending request from the read model and records it."""
    monkeypatch.setenv("TEST_CONFIRM_SECRET", confirm_provider.secret)
    keys = _with_signing(keys_file, {"type": "confirm", "url": confirm_provider.url,
                                     "client_id": "docmgmt",
                                     "secret_env": "TEST_CONFIRM_SECRET"}, tmp_path)
    with served_api(pg_cluster, tmp_path / "data", keys_file=keys.path) as api:
        ids = make_city(api)
        admin = api.client("root")
        r = admin.post("/users", json={
            "username": confirm_fixtures.USERNAME, "full_name": "Nguyễn Văn An",
            "password": PASSWORD, "roles": ["leader"], "agency_id": ids["SOA"]})
        assert r.status_code == 201, r.text
        r = admin.post(f"/users/{r.json()['id']}/certificates", json={
            "certificate": base64.b64encode(test_pki.cert("leader").dump()).decode(),
            "chain": [base64.b64encode(test_pki.cert("interm").dump()).decode()]})
        assert r.status_code == 201, r.text
        official, leader = api.client("official_a"), api.client(confirm_fixtures.USERNAME)
        r = official.post("/documents", data={"summary": "Ký khi đã đóng trang",
                                              "doc_type": "CV"},
                          files={"file": ("cv.pdf", make_pdf(1, text="cv"),
                                          "application/pdf")})
        doc = r.json()["id"]
        assert official.post(f"/documents/{doc}/submit", json={}).status_code == 200
        assert leader.post(f"/documents/{doc}/approve", json={}).status_code == 200
        r = leader.post(f"/documents/{doc}/signature-requests", json={"method": "provider"})
        assert (r.status_code, r.json()["status"]) == (201, "pending"), r.text
        confirm_provider.confirm(confirm_provider.only().transaction_id)
        wait_until(lambda: official.get(f"/documents/{doc}").json()["status"] == "signed",
                   what="the follower to record the confirmed signature")
        history = [h["type"].split(".")[-1]
                   for h in official.get(f"/documents/{doc}/history").json()]
        assert history[-3:] == ["SignatureRequested", "SignatureProvided", "Signed"]
