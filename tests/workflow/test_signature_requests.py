"""The leader's signature as a recorded process, on the development PKI: requests, answers
from the leader's own key (here a PKCS#12 key loaded by the test, as the agent would use a
token), refusals, expiry, replays, uploads and batches."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.common import Role, SigningCapacity
from docmgmt.domain.errors import (
    CertificateNotRegisteredError,
    PermissionDeniedError,
    SignatureRequestClosedError,
    SignatureRequestExpiredError,
)
from docmgmt.outgoing import approval, certificates, signing
from docmgmt.outgoing.signing import BatchDocument, BatchSignature, Method, RequestStatus
from signing.errors import SignatureMismatchError, SignedPdfRefusedError
from tests.support.devkeys import DevKey
from tests.support.devkeys import leader_key as dev_leader_key
from tests.support.devkeys import seal_key as dev_seal_key
from tests.workflow.conftest import Desk


def leader_key(desk: Desk, username: str = "leader") -> DevKey:
    """The development PKI's key of a leader (what their token would hold)."""
    agency = desk.agency
    return dev_leader_key(desk.write.settings.pki_dir, str(agency.agency_id), agency.code,
                          agency.name, username, desk.write.app.find_user(username).full_name)


def seal_key(desk: Desk) -> DevKey:
    """Another key of the same PKI (the agency seal): trusted, but not the leader's."""
    agency = desk.agency
    return dev_seal_key(desk.write.settings.pki_dir, str(agency.agency_id), agency.code,
                        agency.name)


def register(desk: Desk, key: DevKey, username: str = "leader") -> None:
    """The leader proves possession of the key by signing the server's challenge."""
    ctx, who = desk.outgoing, desk[username]
    issued = certificates.issue_challenge(ctx, who)
    certificates.register_own(
        ctx, who, certificate=base64.b64encode(key.certificate).decode(), chain=[],
        challenge=issued["challenge"],
        signature=base64.b64encode(key.sign(base64.b64decode(issued["digest"]))).decode())


def agent_request(desk: Desk, doc: UUID, key: DevKey) -> signing.SignatureRequestState:
    """A request answered by the leader's agent, with the registered certificate."""
    return signing.request_signature(
        desk.outgoing, desk["leader"], doc, method=Method.AGENT, capacity=SigningCapacity.KT,
        principal_title="Giám đốc", certificate_fingerprint=key.fingerprint,
        expected_version=None)


def tail(desk: Desk, doc: UUID, n: int) -> list[str]:
    """The document's last ``n`` event types (views and downloads left out)."""
    return [t for t in desk.event_types(doc) if t != "Viewed"][-n:]


@pytest.fixture
def key(dev_desk: Desk) -> DevKey:
    """The leader's key, registered to them by proof of possession."""
    found = leader_key(dev_desk)
    register(dev_desk, found)
    return found


def test_agent_signature_is_checked_embedded_and_recorded(dev_desk: Desk, key: DevKey) -> None:
    doc = dev_desk.approved("Công văn ký qua USB token")
    state = agent_request(dev_desk, doc, key)
    assert state.status is RequestStatus.PENDING
    assert state.mechanism == "sha256_ecdsa"  # development keys are P-256
    assert state.certificate["fingerprint_sha256"] == key.fingerprint
    # The document is unchanged until the signature comes back.
    assert dev_desk.document(doc).status.value == "approved"
    done = signing.answer_signature(dev_desk.outgoing, dev_desk["leader"], doc,
                                    state.request_id, key.sign(base64.b64decode(state.digest)))
    assert done.status is RequestStatus.SIGNED
    assert tail(dev_desk, doc, 3) == ["SignatureRequested", "SignatureProvided", "Signed"]
    leader_sig = dev_desk.validate(doc)["signatures"][0]
    assert leader_sig["bottom_line"] == "valid", leader_sig
    assert leader_sig["signer_fingerprint"] == key.fingerprint
    assert leader_sig["reason"] == "KT. GIÁM ĐỐC"


def test_a_signature_by_another_key_is_refused_and_only_the_refusal_recorded(
        dev_desk: Desk, key: DevKey) -> None:
    doc = dev_desk.approved("Ký bằng khoá khác")
    state = agent_request(dev_desk, doc, key)
    wrong = seal_key(dev_desk).sign(base64.b64decode(state.digest))
    with pytest.raises(SignatureMismatchError):
        signing.answer_signature(dev_desk.outgoing, dev_desk["leader"], doc, state.request_id,
                                 wrong)
    assert tail(dev_desk, doc, 2) == ["SignatureRequested", "SignatureRefused"]
    assert dev_desk.document(doc).status.value == "approved"
    # The request is over: even the right signature now is a replay.
    right = key.sign(base64.b64decode(state.digest))
    with pytest.raises(SignatureRequestClosedError):
        signing.answer_signature(dev_desk.outgoing, dev_desk["leader"], doc, state.request_id,
                                 right)
    ended = signing.request_state(dev_desk.outgoing, dev_desk["leader"], doc, state.request_id)
    assert (ended.status, ended.reason) == (RequestStatus.REFUSED, "signature_mismatch")


def test_a_signature_over_another_digest_is_refused(dev_desk: Desk, key: DevKey) -> None:
    doc = dev_desk.approved("Ký trên bản tóm lược khác")
    state = agent_request(dev_desk, doc, key)
    other = key.sign(hashlib.sha256(b"another document").digest())
    with pytest.raises(SignatureMismatchError):
        signing.answer_signature(dev_desk.outgoing, dev_desk["leader"], doc, state.request_id,
                                 other)
    assert "Signed" not in dev_desk.event_types(doc)


def test_a_replayed_answer_is_refused_and_records_nothing(dev_desk: Desk, key: DevKey) -> None:
    doc = dev_desk.approved("Trả lời lặp lại")
    state = agent_request(dev_desk, doc, key)
    value = key.sign(base64.b64decode(state.digest))
    signing.answer_signature(dev_desk.outgoing, dev_desk["leader"], doc, state.request_id, value)
    before = dev_desk.event_types(doc)
    with pytest.raises(SignatureRequestClosedError):
        signing.answer_signature(dev_desk.outgoing, dev_desk["leader"], doc, state.request_id,
                                 value)
    assert dev_desk.event_types(doc) == before


def test_an_unregistered_certificate_cannot_be_used(dev_desk: Desk) -> None:
    doc = dev_desk.approved("Chứng thư chưa đăng ký")
    before = dev_desk.event_types(doc)
    with pytest.raises(CertificateNotRegisteredError):
        agent_request(dev_desk, doc, leader_key(dev_desk))
    assert dev_desk.event_types(doc) == before


def test_possession_proof_by_another_key_registers_nothing(dev_desk: Desk) -> None:
    ctx, who = dev_desk.outgoing, dev_desk["leader"]
    mine, other = leader_key(dev_desk), seal_key(dev_desk)
    issued = certificates.issue_challenge(ctx, who)
    with pytest.raises(SignatureMismatchError):
        certificates.register_own(
            ctx, who, certificate=base64.b64encode(mine.certificate).decode(), chain=[],
            challenge=issued["challenge"],
            signature=base64.b64encode(other.sign(base64.b64decode(issued["digest"]))).decode())
    assert certificates.my_certificates(ctx, who) == []


def test_a_late_answer_after_expiry_is_refused(dev_desk: Desk, key: DevKey) -> None:
    doc = dev_desk.approved("Hết hạn yêu cầu ký")
    state = agent_request(dev_desk, doc, key)
    value = key.sign(base64.b64decode(state.digest))
    later = datetime.now(VIETNAM_TZ) + timedelta(minutes=dev_desk.outgoing.request_minutes + 1)
    dev_desk.at(lambda: later)
    with pytest.raises(SignatureRequestExpiredError):
        signing.answer_signature(dev_desk.outgoing, dev_desk["leader"], doc, state.request_id,
                                 value)
    assert tail(dev_desk, doc, 2) == ["SignatureRequested", "SignatureExpired"]
    with pytest.raises(SignatureRequestClosedError):
        signing.answer_signature(dev_desk.outgoing, dev_desk["leader"], doc, state.request_id,
                                 value)
    assert dev_desk.document(doc).status.value == "approved"


def test_a_new_request_supersedes_and_a_return_cancels(dev_desk: Desk, key: DevKey) -> None:
    doc = dev_desk.approved("Yêu cầu mới thay yêu cầu cũ")
    first = agent_request(dev_desk, doc, key)
    second = agent_request(dev_desk, doc, key)
    assert first.request_id != second.request_id
    assert tail(dev_desk, doc, 3) == ["SignatureRequested", "SignatureCancelled",
                                      "SignatureRequested"]
    approval.return_for_revision(dev_desk.outgoing, dev_desk["leader"], doc, "Sửa lại", None)
    assert tail(dev_desk, doc, 2) == ["SignatureCancelled", "ReturnedForRevision"]
    ended = signing.request_state(dev_desk.outgoing, dev_desk["leader"], doc,
                                  second.request_id)
    assert ended.status is RequestStatus.CANCELLED


def test_only_the_signer_answers_their_request(dev_desk: Desk, key: DevKey) -> None:
    dev_desk.person("leader2", "Lê Văn Bình", "Giám đốc", Role.LEADER)
    doc = dev_desk.approved("Người khác trả lời")
    state = agent_request(dev_desk, doc, key)
    with pytest.raises(PermissionDeniedError):
        signing.answer_signature(dev_desk.outgoing, dev_desk["leader2"], doc, state.request_id,
                                 key.sign(base64.b64decode(state.digest)))


def test_the_development_provider_signs_at_once_and_registers_its_certificate(
        dev_desk: Desk) -> None:
    doc = dev_desk.approved("Ký qua dịch vụ phát triển")
    signing.sign(dev_desk.outgoing, dev_desk["leader"], doc, SigningCapacity.OWN, "", None)
    assert tail(dev_desk, doc, 3) == ["SignatureRequested", "SignatureProvided", "Signed"]
    registered = certificates.my_certificates(dev_desk.outgoing, dev_desk["leader"])
    assert [c["method"] for c in registered] == ["development"]
    leader_sig = dev_desk.validate(doc)["signatures"][0]
    assert leader_sig["signer_fingerprint"] == registered[0]["fingerprint_sha256"]


def _sign_whole(prepared: bytes, key_path: Path, password: bytes, *,
                add_page: bool = False) -> bytes:
    """What a leader's own software does: sign the whole prepared PDF in the leader field."""
    signer = signers.SimpleSigner.load_pkcs12(str(key_path), passphrase=password)
    assert signer is not None
    writer = IncrementalPdfFileWriter(io.BytesIO(prepared))
    if add_page:
        # Hidden in the same revision as the signature: a page nobody approved.
        writer.insert_page(generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (0, 0, 595, 842)]),
        }))
    out = io.BytesIO()
    signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="lanh_dao"),
                     signer=signer, output=out)
    return out.getvalue()


def test_an_uploaded_whole_signed_pdf_is_accepted_or_refused(dev_desk: Desk, key: DevKey) -> None:
    ctx, who = dev_desk.outgoing, dev_desk["leader"]
    for add_page, expected in ((True, RequestStatus.REFUSED), (False, RequestStatus.SIGNED)):
        doc = dev_desk.approved(f"Tải lên tệp đã ký {add_page}")
        state = signing.request_signature(
            ctx, who, doc, method=Method.UPLOAD, capacity=SigningCapacity.OWN,
            principal_title="", certificate_fingerprint=None, expected_version=None)
        with signing.prepared_pdf(ctx, who, doc, state.request_id) as (_, _, fh):
            prepared = fh.read()
        signed = _sign_whole(prepared, key.p12, key.password, add_page=add_page)
        if expected is RequestStatus.REFUSED:
            with pytest.raises(SignedPdfRefusedError):
                signing.upload_signed(ctx, who, doc, state.request_id, io.BytesIO(signed))
            assert tail(dev_desk, doc, 2) == ["SignatureRequested", "SignatureRefused"]
        else:
            done = signing.upload_signed(ctx, who, doc, state.request_id, io.BytesIO(signed))
            assert done.status is RequestStatus.SIGNED
            assert tail(dev_desk, doc, 2) == ["SignatureProvided", "Signed"]


def test_a_batch_through_the_provider_signs_each_and_reports_the_one_that_fails(
        dev_desk: Desk) -> None:
    docs = [dev_desk.approved(f"Văn bản ký hàng loạt {n}") for n in range(19)]
    not_approved = dev_desk.draft("Chưa được duyệt")
    wanted = [BatchDocument(d) for d in docs] + [BatchDocument(not_approved)]
    result = signing.request_batch(dev_desk.outgoing, dev_desk["leader"], wanted,
                                   method=Method.PROVIDER, capacity=SigningCapacity.OWN,
                                   principal_title="", certificate_fingerprint=None)
    by_doc = {i.document_id: i for i in result.items}
    assert by_doc[not_approved].error_code == "invalid_state"
    for doc in docs:
        item = by_doc[doc]
        assert item.state is not None, item
        assert item.state.status is RequestStatus.SIGNED, item
        assert item.state.batch_id == result.batch_id
        assert dev_desk.document(doc).status.value == "signed"
    assert "SignatureRequested" not in dev_desk.event_types(not_approved)


def test_a_batch_through_the_agent_leaves_the_others_signed(dev_desk: Desk, key: DevKey) -> None:
    docs = [dev_desk.approved(f"Lô qua USB token {n}") for n in range(3)]
    result = signing.request_batch(
        dev_desk.outgoing, dev_desk["leader"], [BatchDocument(d) for d in docs],
        method=Method.AGENT, capacity=SigningCapacity.OWN, principal_title="",
        certificate_fingerprint=key.fingerprint)
    answers = []
    for n, item in enumerate(result.items):
        assert item.state is not None
        assert item.state.status is RequestStatus.PENDING
        digest = base64.b64decode(item.state.digest)
        value = seal_key(dev_desk).sign(digest) if n == 1 else key.sign(digest)
        answers.append(BatchSignature(item.document_id, item.state.request_id, value))
    done = signing.answer_batch(dev_desk.outgoing, dev_desk["leader"], result.batch_id,
                                answers)
    codes = [(i.state.status if i.state else None, i.error_code) for i in done.items]
    assert codes == [(RequestStatus.SIGNED, ""), (None, "signature_mismatch"),
                     (RequestStatus.SIGNED, "")]
    assert [dev_desk.document(d).status.value for d in docs] == ["signed", "approved",
                                                                  "signed"]
