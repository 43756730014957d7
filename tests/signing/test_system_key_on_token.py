"""Ledger checkpoints signed with a system key on a token (SoftHSM2 over PKCS#11).

SoftHSM2 is required: without it the token fixture fails with "apt-get install softhsm2".
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509 as pyca_x509
from pydantic import SecretStr

from docmgmt.domain.errors import InvalidInputError
from docmgmt.ledger.bundle_verify import load_crls
from docmgmt.ledger.checkpoint import (
    ORIGIN,
    StoredCheckpoint,
    check_checkpoint,
    key_id,
    note_body,
    signed_note,
)
from docmgmt.ledger.devkeys import PyHankoNoteTimestamper
from docmgmt.ledger.revocation import fetch_crls
from docmgmt.ledger.systemkeys import BackendNoteSigner, system_note_keys
from docmgmt.settings import Settings
from signing.devpki import dev_timestamper, init_dev_pki
from tests.ledger.trust_support import issue, name
from tests.signing.conftest import PkiFixture, SoftHsmToken

PIN_ENV = "TEST_LEDGER_HSM_PIN"


def production(keys_file: Path) -> Settings:
    return Settings(mode="production", database_url=SecretStr("postgresql://u@h/db"),
                    jwt_secret=SecretStr("x" * 40), keys_file=keys_file)


def test_a_checkpoint_signed_on_the_token_verifies(
    softhsm_token: SoftHsmToken, test_pki: PkiFixture, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({
        "tsa_url": "http://127.0.0.1:9/tsa",
        "system": {"type": "pkcs11", "module": str(softhsm_token.module),
                   "token_label": softhsm_token.label, "key_label": softhsm_token.key_label,
                   "pin_env": PIN_ENV}}))
    # The PIN comes from the environment, never from the file.
    with pytest.raises(InvalidInputError, match=PIN_ENV):
        system_note_keys(production(keys_file))
    monkeypatch.setenv(PIN_ENV, softhsm_token.pin)
    keys = system_note_keys(production(keys_file))
    assert keys is not None
    signer = keys[0]
    assert isinstance(signer, BackendNoteSigner)
    try:
        assert signer.certificate_der == test_pki.cert("leader").dump()
        when = datetime.now(UTC)
        root = hashlib.sha256(b"root").digest()
        body = note_body(ORIGIN, 7, root, when)
        signature = signer.sign(body.encode())
    finally:
        signer.close()
    note = signed_note(body, signer.name, key_id(signer.name, signer.public_key_der),
                       signature)
    tsa = PyHankoNoteTimestamper(dev_timestamper(init_dev_pki(tmp_path / "pki", "SYS", "S")))
    token = tsa.timestamp(hashlib.sha256(body.encode()).digest())
    good = StoredCheckpoint(7, root, when, note, signature, signer.certificate_der, token)
    assert check_checkpoint(good).problem is None
    # The token's signature is over this note only.
    other = StoredCheckpoint(8, root, when, note.replace("\n7\n", "\n8\n", 1), signature,
                             signer.certificate_der, token)
    assert check_checkpoint(other).problem is not None


def test_production_crls_come_from_the_certificates_distribution_points(
    test_pki: PkiFixture, caplog: pytest.LogCaptureFixture,
) -> None:
    # The certomancer PKI answers CRLs over HTTP on 127.0.0.1, as a CA's server would.
    leader = pyca_x509.load_der_x509_certificate(test_pki.cert("leader").dump())
    pem = fetch_crls([leader, leader])  # each URL once
    crls = load_crls(pem)
    assert len(crls) == 1
    assert crls[0].issuer == leader.issuer
    # A distribution point that does not answer is logged and left out.
    root = issue(name("Root"), ca=True)
    unreachable = issue(name("Leaf"), root, crl_url="http://127.0.0.1:9/root.crl")
    assert fetch_crls([unreachable[1]]) == b""
    assert "http://127.0.0.1:9/root.crl could not be fetched" in caplog.text
