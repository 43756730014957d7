"""The providers over keys the server holds: the development PKI's and the keys file's."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA256

from signing.errors import KeyBackendError, SigningProviderError
from signing.keys import Pkcs11KeyBackend, sign_digest
from signing.port import AgencyIdentity, SignerIdentity
from signing.registry import ConfiguredKeyRegistry
from signing.remote import AnswerStatus, HashToSign, SignerAccount
from signing.service import DevKeyRegistry
from tests.signing.conftest import P12_PASSWORD, PkiFixture, SoftHsmToken

AGENCY = AgencyIdentity(UUID(int=7), "SOA", "Sở Thông tin và Truyền thông A")
AN = SignerAccount("an.nguyen", "Nguyễn Văn An")
LATER = datetime(2099, 1, 1, tzinfo=UTC)
DIGEST = hashlib.sha256(b"the signed attributes").digest()


def test_the_development_provider_signs_with_the_issued_development_key(
        tmp_path: Path) -> None:
    registry = DevKeyRegistry(tmp_path / "devpki")
    provider = registry.provider(AGENCY)
    assert provider is not None
    assert (provider.name, provider.development) == ("development", True)
    assert registry.provider(AGENCY) is provider
    [credential] = provider.credentials(AN)
    # The certificate is that of the key issued to the leader.
    issued = registry.leader_key(SignerIdentity(UUID(int=1), "an.nguyen", "Nguyễn Văn An",
                                                "Giám đốc"), AGENCY)
    assert credential.certificate == issued.certificate.dump()
    assert "OU=DEVELOPMENT — NOT FOR PRODUCTION" in issued.info().subject
    submission = provider.submit(AN, credential, [HashToSign("r1", DIGEST, "CV 1")],
                                 expires_at=LATER)
    assert submission.answers is not None
    [answer] = submission.answers
    assert answer.status is AnswerStatus.SIGNED
    assert answer.signature is not None
    public = x509.load_der_x509_certificate(credential.certificate).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(answer.signature, DIGEST, ec.ECDSA(Prehashed(SHA256())))


def test_another_credential_is_not_signed_with_the_held_key(tmp_path: Path) -> None:
    registry = DevKeyRegistry(tmp_path / "devpki")
    provider = registry.provider(AGENCY)
    assert provider is not None
    [other] = provider.credentials(SignerAccount("binh.tran", "Trần Văn Bình"))
    with pytest.raises(SigningProviderError, match=r"not the key held for an\.nguyen"):
        provider.submit(AN, other, [HashToSign("r1", DIGEST, "CV 1")], expires_at=LATER)


def _keys_file(tmp_path: Path, test_pki: PkiFixture, signing: dict[str, object]) -> Path:
    root = tmp_path / "root.pem"
    root.write_bytes(test_pki.root.dump())
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({
        "trust_roots": [str(root)],
        "agencies": {"SOA": {"signing": signing}, "SOB": {}},
        "users": {"an.nguyen": {"type": "pkcs12", "path": str(test_pki.p12("leader")),
                                "password_env": "AN_P12_PASSWORD"}},
    }), encoding="utf-8")
    return path


def test_the_server_key_provider_signs_with_the_key_under_users(
        tmp_path: Path, test_pki: PkiFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AN_P12_PASSWORD", P12_PASSWORD.decode())
    registry = ConfiguredKeyRegistry(_keys_file(tmp_path, test_pki, {"type": "server"}))
    # SOB names no service: the leaders' keys under "users" sign, as before services.
    implicit = registry.provider(AgencyIdentity(UUID(int=8), "SOB", "B"))
    assert implicit is not None
    assert implicit.name == "server"
    provider = registry.provider(AGENCY)
    assert provider is not None
    assert (provider.name, provider.development) == ("server", False)
    [credential] = provider.credentials(AN)
    assert credential.certificate == test_pki.cert("leader").dump()
    submission = provider.submit(AN, credential, [HashToSign("r1", DIGEST, "CV 1")],
                                 expires_at=LATER)
    assert submission.answers is not None
    signature = submission.answers[0].signature
    assert signature is not None
    public = x509.load_der_x509_certificate(credential.certificate).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, DIGEST, padding.PKCS1v15(), Prehashed(SHA256()))
    with pytest.raises(SigningProviderError, match="nothing to poll"):
        provider.poll(submission.transaction_id, ["r1"])


def test_the_configured_csc_and_confirm_providers(
        tmp_path: Path, test_pki: PkiFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    csc = ConfiguredKeyRegistry(_keys_file(tmp_path, test_pki, {
        "type": "csc", "url": "http://127.0.0.1:9/csc/v1"})).provider(AGENCY)
    assert csc is not None
    assert csc.name == "csc"
    confirm = ConfiguredKeyRegistry(_keys_file(tmp_path, test_pki, {
        "type": "confirm", "url": "http://127.0.0.1:9", "client_id": "docmgmt",
        "secret_env": "SOA_CONFIRM_SECRET"})).provider(AGENCY)
    assert confirm is not None
    assert confirm.name == "confirm"
    # The secret is read when the service is called, and named if it is missing.
    monkeypatch.delenv("SOA_CONFIRM_SECRET", raising=False)
    with pytest.raises(SigningProviderError,
                       match=r"'SOA_CONFIRM_SECRET' \(secret_env\) is not set"):
        confirm.credentials(AN)


def test_sign_digest_refuses_a_mechanism_the_key_does_not_have(test_pki: PkiFixture) -> None:
    with pytest.raises(KeyBackendError, match="cannot make a sha256_ecdsa signature"):
        sign_digest(test_pki.leader, DIGEST, "sha256_ecdsa")


def test_a_key_on_a_token_signs_a_digest(test_pki: PkiFixture,
                                         softhsm_token: SoftHsmToken) -> None:
    backend = Pkcs11KeyBackend(softhsm_token.module, softhsm_token.label,
                               softhsm_token.key_label, softhsm_token.pin)
    try:
        signature = sign_digest(backend, DIGEST, "sha256_rsa")
    finally:
        backend.close()
    key = x509.load_der_x509_certificate(test_pki.cert("leader").dump()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, DIGEST, padding.PKCS1v15(), Prehashed(SHA256()))


def test_an_agency_with_no_service_and_no_keys_has_no_provider(
        tmp_path: Path, test_pki: PkiFixture) -> None:
    path = _keys_file(tmp_path, test_pki, {"type": "server"})
    config = json.loads(path.read_text(encoding="utf-8"))
    config["users"] = {}
    path.write_text(json.dumps(config), encoding="utf-8")
    registry = ConfiguredKeyRegistry(path)
    assert registry.provider(AgencyIdentity(UUID(int=8), "SOB", "B")) is None
