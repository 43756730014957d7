"""The confirmation-shaped provider against a service of that shape served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA256

from signing.errors import SigningProviderError
from signing.providers.confirm import ConfirmProvider
from signing.remote import AnswerStatus, HashToSign, ProviderCredential, SignerAccount
from tests.signing.conftest import PkiFixture
from tests.support.confirm_provider import CREDENTIAL_ID, ConfirmService, new_secret

AN = SignerAccount("an.nguyen", "Nguyễn Văn An")
NOW = datetime(2025, 6, 16, 3, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=10)
HASHES = [HashToSign(f"req-{i}", hashlib.sha256(f"document {i}".encode()).digest(),
                     f"Công văn {i}") for i in range(2)]
IDS = [h.request_id for h in HASHES]


class Clock:
    """The provider's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A clock at the pinned moment."""
    return Clock()


def _provider(service: ConfirmService, clock: Clock, secret: str | None = None
              ) -> ConfirmProvider:
    return ConfirmProvider(service.url, client_id="docmgmt-test",
                           secret=lambda: secret or service.secret, clock=clock,
                           callback_url="http://127.0.0.1:9/signing/callback/SOA")


def _submitted(provider: ConfirmProvider) -> tuple[ProviderCredential, str]:
    [credential] = provider.credentials(AN)
    submission = provider.submit(AN, credential, HASHES, expires_at=EXPIRES)
    assert submission.answers is None
    return credential, submission.transaction_id


def test_pending_until_the_signer_confirms_then_signed(
        confirm_provider: ConfirmService, clock: Clock, test_pki: PkiFixture) -> None:
    provider = _provider(confirm_provider, clock)
    # The leader's credential comes with its certificate and chain.
    credential, transaction = _submitted(provider)
    assert credential.credential_id == CREDENTIAL_ID
    assert credential.certificate == test_pki.cert("leader").dump()
    assert credential.chain == (test_pki.cert("interm").dump(),)
    sent = confirm_provider.only()
    assert [i["label"] for i in sent.items] == ["Công văn 0", "Công văn 1"]
    assert sent.expires_at == EXPIRES.isoformat()
    assert sent.callback_url == "http://127.0.0.1:9/signing/callback/SOA"
    # Nothing yet: the signer has not opened the app.
    assert [a.status for a in provider.poll(transaction, IDS)] == [AnswerStatus.PENDING] * 2
    # The signer confirms once for both documents.
    confirm_provider.confirm(transaction)
    clock.now += timedelta(minutes=3)
    answers = provider.poll(transaction, IDS)
    public = x509.load_der_x509_certificate(credential.certificate).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    for answer, item in zip(answers, HASHES, strict=True):
        assert (answer.request_id, answer.status) == (item.request_id, AnswerStatus.SIGNED)
        assert answer.signature is not None
        public.verify(answer.signature, item.digest, padding.PKCS1v15(), Prehashed(SHA256()))


def test_refused_by_the_signer(confirm_provider: ConfirmService, clock: Clock) -> None:
    provider = _provider(confirm_provider, clock)
    _, transaction = _submitted(provider)
    confirm_provider.refuse(transaction)
    answers = provider.poll(transaction, IDS)
    assert [(a.status, a.signature) for a in answers] == [(AnswerStatus.REFUSED, None)] * 2


def test_expired_at_the_service(confirm_provider: ConfirmService, clock: Clock) -> None:
    provider = _provider(confirm_provider, clock)
    _, transaction = _submitted(provider)
    confirm_provider.expire(transaction)
    assert [a.status for a in provider.poll(transaction, IDS)] == [AnswerStatus.EXPIRED] * 2


def test_still_pending_after_expires_at_is_expired(
        confirm_provider: ConfirmService, clock: Clock) -> None:
    provider = _provider(confirm_provider, clock)
    _, transaction = _submitted(provider)
    clock.now = EXPIRES
    assert [a.status for a in provider.poll(transaction, IDS)] == [AnswerStatus.EXPIRED] * 2


def test_a_late_answer_after_expiry_is_never_a_signature(
        confirm_provider: ConfirmService, clock: Clock) -> None:
    provider = _provider(confirm_provider, clock)
    _, transaction = _submitted(provider)
    # The request expires; then the signer confirms and the service passes it on.
    clock.now = EXPIRES + timedelta(seconds=1)
    confirm_provider.answer_late(transaction)
    answers = provider.poll(transaction, IDS)
    assert [(a.status, a.signature) for a in answers] == [(AnswerStatus.EXPIRED, None)] * 2
    assert answers[0].detail == "answered after the request expired"


def test_a_request_that_has_already_expired_is_not_sent(
        confirm_provider: ConfirmService, clock: Clock) -> None:
    provider = _provider(confirm_provider, clock)
    [credential] = provider.credentials(AN)
    with pytest.raises(SigningProviderError, match="already expired"):
        provider.submit(AN, credential, HASHES, expires_at=NOW)
    assert confirm_provider.transactions == {}


def test_a_wrong_secret_is_a_provider_error_that_does_not_show_it(
        confirm_provider: ConfirmService, clock: Clock) -> None:
    wrong = new_secret()
    with pytest.raises(SigningProviderError,
                       match=r"^confirmation service GET /v1/credentials was refused "
                             r"\(HTTP 401\): unauthorized$") as caught:
        _provider(confirm_provider, clock, secret=wrong).credentials(AN)
    assert wrong not in str(caught.value)


def test_malformed_json_is_a_provider_error(
        confirm_provider: ConfirmService, clock: Clock) -> None:
    provider = _provider(confirm_provider, clock)
    _, transaction = _submitted(provider)
    confirm_provider.malformed = True
    with pytest.raises(SigningProviderError,
                       match=r"^confirmation service GET /v1/signatures/\w+ answered "
                             r"something that is not JSON$"):
        provider.poll(transaction, IDS)


def test_a_signed_item_without_a_signature_is_a_provider_error(
        confirm_provider: ConfirmService, clock: Clock) -> None:
    provider = _provider(confirm_provider, clock)
    _, transaction = _submitted(provider)
    confirm_provider.confirm(transaction)
    confirm_provider.only().signatures.clear()
    confirm_provider.view = lambda tx: {  # type: ignore[method-assign]
        "status": "signed", "items": [{"id": i, "status": "signed"} for i in IDS]}
    with pytest.raises(SigningProviderError, match=r"item req-0: expected a base64 string"):
        provider.poll(transaction, IDS)


def test_an_unknown_status_is_a_provider_error(
        confirm_provider: ConfirmService, clock: Clock) -> None:
    provider = _provider(confirm_provider, clock)
    _, transaction = _submitted(provider)
    confirm_provider.only().status = "done"
    with pytest.raises(SigningProviderError, match=r"status is not one of pending, signed"):
        provider.poll(transaction, IDS)


def test_the_service_can_call_the_callback_url(
        confirm_provider: ConfirmService, clock: Clock) -> None:
    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    provider = ConfirmProvider(
        confirm_provider.url, client_id="docmgmt-test", secret=lambda: confirm_provider.secret,
        clock=clock, callback_url=f"http://127.0.0.1:{server.server_port}/signing/callback/SOA")
    _, transaction = _submitted(provider)
    # The signer confirms; the service tells docmgmt, which then polls.
    confirm_provider.confirm(transaction)
    assert confirm_provider.notify(transaction) == 204
    thread.join(timeout=5)
    server.server_close()
    assert [json.loads(r) for r in received] == [{"transaction_id": transaction}]
