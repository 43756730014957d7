"""The CSC provider against a real CSC API v1 service (certomancer-csc-dummy) on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA256

from signing.errors import SigningProviderError
from signing.providers.csc import ClientCredentialsToken, CscProvider
from signing.remote import AnswerStatus, HashToSign, ProviderCredential, SignerAccount
from tests.signing.conftest import PkiFixture
from tests.support.csc import CscService
from tests.support.server import free_port

AN = SignerAccount("an.nguyen", "Nguyễn Văn An")
LATER = datetime(2099, 1, 1, tzinfo=UTC)


def _hashes(count: int) -> list[HashToSign]:
    return [HashToSign(f"req-{i}", hashlib.sha256(f"document {i}".encode()).digest(),
                       f"Công văn {i}") for i in range(count)]


def _leader(provider: CscProvider, test_pki: PkiFixture) -> ProviderCredential:
    by_certificate = {c.certificate: c for c in provider.credentials(AN)}
    return by_certificate[test_pki.cert("leader").dump()]


def _verify(certificate: bytes, digest: bytes, signature: bytes) -> None:
    public = x509.load_der_x509_certificate(certificate).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, digest, padding.PKCS1v15(), Prehashed(SHA256()))


def test_the_leader_signs_three_hashes_with_one_authorisation_bound_to_them(
        csc_service: CscService, test_pki: PkiFixture) -> None:
    provider = CscProvider(csc_service.url, client_data=csc_service.client_data)
    # The leader's credentials come with their chains.
    credential = _leader(provider, test_pki)
    assert credential.chain == (test_pki.cert("interm").dump(), test_pki.root.dump())
    [listing] = csc_service.called("credentials/list")
    assert listing.body["userID"] == "an.nguyen"
    assert {c.body["certificates"] for c in csc_service.called("credentials/info")} == {"chain"}
    # Three documents are signed with one authorisation.
    hashes = _hashes(3)
    submission = provider.submit(AN, credential, hashes, expires_at=LATER)
    assert submission.answers is not None
    assert [a.request_id for a in submission.answers] == ["req-0", "req-1", "req-2"]
    for answer, item in zip(submission.answers, hashes, strict=True):
        assert answer.status is AnswerStatus.SIGNED
        assert answer.signature is not None
        _verify(credential.certificate, item.digest, answer.signature)
    [authorize] = csc_service.called("credentials/authorize")
    assert authorize.body["numSignatures"] == 3
    assert authorize.body["hash"] == [base64.b64encode(h.digest).decode() for h in hashes]
    [sign] = csc_service.called("signatures/signHash")
    assert sign.body["hashAlgo"] == "2.16.840.1.101.3.4.2.1"
    assert sign.body["signAlgo"] == "1.2.840.113549.1.1.11"
    assert sign.body["SAD"]


def test_a_hash_the_authorisation_does_not_cover_is_refused_by_the_service(
        csc_service: CscService, test_pki: PkiFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    provider = CscProvider(csc_service.url, client_data=csc_service.client_data)
    credential = _leader(provider, test_pki)
    authorised, other = _hashes(2)
    # A provider that authorises one hash but then asks for another one's signature.
    from signing.providers import csc

    real = csc.request_json

    def swap_hash(service: str, method: str, url: str, **kwargs: object) -> object:
        body = kwargs.get("body")
        if isinstance(body, dict) and url.endswith("signatures/signHash"):
            kwargs["body"] = {**body, "hash": [base64.b64encode(other.digest).decode()]}
        return real(service, method, url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(csc, "request_json", swap_hash)
    with pytest.raises(SigningProviderError,
                       match=r"^CSC POST /csc/v1/signatures/signHash was refused \(HTTP 400\)"):
        provider.submit(AN, credential, [authorised], expires_at=LATER)


def test_the_service_down_is_a_provider_error(test_pki: PkiFixture) -> None:
    provider = CscProvider(f"http://127.0.0.1:{free_port()}/csc/v1", timeout=2)
    with pytest.raises(SigningProviderError,
                       match=r"^CSC POST /csc/v1/credentials/list: the service cannot be "
                             r"reached \(ConnectionRefusedError\)$"):
        provider.credentials(AN)


def test_an_oauth_token_is_fetched_once_and_sent_as_bearer(
        csc_service: CscService, test_pki: PkiFixture) -> None:
    csc_service.require_token = True
    token = ClientCredentialsToken(csc_service.token_url, csc_service.client_id,
                                   lambda: csc_service.client_secret)
    provider = CscProvider(csc_service.url, client_data=csc_service.client_data, token=token)
    credential = _leader(provider, test_pki)
    submission = provider.submit(AN, credential, _hashes(1), expires_at=LATER)
    assert submission.answers is not None
    assert submission.answers[0].status is AnswerStatus.SIGNED
    # One token for every call, kept until it expires.
    assert len(csc_service.tokens) == 1
    assert {c.authorization for c in csc_service.calls} == {f"Bearer {csc_service.tokens[0]}"}


def test_an_expired_token_is_fetched_again(csc_service: CscService) -> None:
    now = [datetime(2025, 6, 16, tzinfo=UTC)]
    csc_service.token_lifetime = 300
    token = ClientCredentialsToken(csc_service.token_url, csc_service.client_id,
                                   lambda: csc_service.client_secret, clock=lambda: now[0])
    first = token.get()
    assert token.get() == first
    now[0] += timedelta(seconds=280)
    assert token.get() != first
    assert len(csc_service.tokens) == 2


def test_without_a_token_or_with_a_wrong_secret_nothing_is_signed(
        csc_service: CscService, test_pki: PkiFixture) -> None:
    csc_service.require_token = True
    with pytest.raises(SigningProviderError, match=r"refused \(HTTP 401\): invalid_token$"):
        CscProvider(csc_service.url, client_data=csc_service.client_data).credentials(AN)
    wrong = ClientCredentialsToken(csc_service.token_url, csc_service.client_id,
                                   lambda: "not-the-secret")
    with pytest.raises(SigningProviderError, match=r"^CSC OAuth POST /oauth2/token was "
                                                   r"refused \(HTTP 401\): invalid_client$"
                       ) as caught:
        CscProvider(csc_service.url, token=wrong).credentials(AN)
    assert "not-the-secret" not in str(caught.value)


def test_an_ec_key_signs_with_ecdsa_in_der_form(
        csc_service: CscService, test_pki: PkiFixture) -> None:
    provider = CscProvider(csc_service.url, client_data=csc_service.client_data)
    by_certificate = {c.certificate: c for c in provider.credentials(AN)}
    credential = by_certificate[test_pki.cert("seal").dump()]
    [item] = _hashes(1)
    submission = provider.submit(AN, credential, [item], expires_at=LATER)
    assert submission.answers is not None
    signature = submission.answers[0].signature
    assert signature is not None
    [sign] = csc_service.called("signatures/signHash")
    assert sign.body["signAlgo"] == "1.2.840.10045.4.3.2"
    public = x509.load_der_x509_certificate(credential.certificate).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, item.digest, ec.ECDSA(Prehashed(SHA256())))
