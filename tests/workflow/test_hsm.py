"""The leader's key on an HSM: SoftHSM2 reached through PKCS#11, named in the keys file.

SoftHSM2 is required: without it the token fixture fails with "apt-get install softhsm2".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from docmgmt.domain.common import SigningCapacity
from docmgmt.kernel.db import Database
from docmgmt.outgoing.signing import sign
from signing.keys import Pkcs11KeyBackend
from signing.port import SignerIdentity
from tests.signing.conftest import PkiFixture, SoftHsmToken
from tests.workflow.conftest import Desk, pki_desk, write_keys_file

PIN_ENV = "TEST_LEADER_HSM_PIN"


@pytest.fixture
def hsm_desk(database: Database, tmp_path: Path, test_pki: PkiFixture,
             softhsm_token: SoftHsmToken, monkeypatch: pytest.MonkeyPatch,
             pinned_registry: None) -> Iterator[Desk]:
    """The write side whose keys file puts the leader's key on the SoftHSM2 token."""
    monkeypatch.setenv(PIN_ENV, softhsm_token.pin)
    on_token = {"type": "pkcs11", "module": str(softhsm_token.module),
                "token_label": softhsm_token.label, "key_label": softhsm_token.key_label,
                "pin_env": PIN_ENV}
    keys = write_keys_file(tmp_path / "keys", test_pki, monkeypatch, {"leader": on_token})
    desk = pki_desk(database, tmp_path / "data", keys)
    try:
        yield desk
    finally:
        leader = desk.write.app.get_user(desk["leader"].user_id)
        key = desk.write.signing.keys.leader_key(
            SignerIdentity(leader.id, leader.username, leader.full_name, leader.title),
            desk.agency)
        if isinstance(key, Pkcs11KeyBackend):
            key.close()
        desk.write.close()


def test_leader_signs_with_a_key_on_the_hsm(hsm_desk: Desk, test_pki: PkiFixture,
                                           softhsm_token: SoftHsmToken) -> None:
    desk = hsm_desk
    # The keys file names the token and the PIN's environment variable, never the PIN.
    keys_text = desk.write.settings.keys_file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert json.loads(keys_text)["users"]["leader"]["type"] == "pkcs11"
    assert softhsm_token.pin not in keys_text

    # The official drafts, the leader approves and signs KT. with the key on the token.
    doc = desk.approved("Công văn ký bằng HSM")
    sign(desk.outgoing, desk["leader"], doc, SigningCapacity.KT, "Giám đốc", None)
    assert desk.document(doc).status.value == "signed"

    # The key that signed is the token's.
    leader = desk.write.app.get_user(desk["leader"].user_id)
    key = desk.write.signing.keys.leader_key(
        SignerIdentity(leader.id, leader.username, leader.full_name, leader.title), desk.agency)
    assert isinstance(key, Pkcs11KeyBackend)
    assert softhsm_token.label in repr(key)

    # The signed PDF validates: the leader's certificate, trusted, not revoked, at B-LT.
    report = desk.validate(doc)
    assert report["bottom_line"] == "valid"
    (signature,) = report["signatures"]
    assert signature["field_name"] == "lanh_dao"
    assert signature["bottom_line"] == "valid", signature
    assert signature["signer_fingerprint"] == test_pki.cert("leader").sha256.hex()
    assert signature["revocation"] == "good"
    assert signature["pades_level"] == "B-LT"
    assert signature["reason"] == "KT. GIÁM ĐỐC"
    signed = desk.write.app.history(doc)[-1]
    assert signed.type.endswith("Signed")
    assert signed.payload["signature"]["certificate"]["fingerprint_sha256"] == \
        test_pki.cert("leader").sha256.hex()
