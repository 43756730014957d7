"""Which key signs checkpoints: the keys file's system key, or the development one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from docmgmt.domain.errors import InvalidInputError
from docmgmt.ledger.devkeys import LazyDevSystemKeys
from docmgmt.ledger.systemkeys import BackendNoteSigner, system_note_keys
from docmgmt.settings import Settings
from signing.devpki import init_dev_pki


def test_development_uses_the_development_key_made_on_first_use(tmp_path: Path) -> None:
    keys = system_note_keys(Settings(data_dir=tmp_path))
    assert keys is not None
    signer, stamper = keys
    assert isinstance(signer, LazyDevSystemKeys)
    assert stamper is signer
    assert not (tmp_path / "pki").exists()  # nothing is generated until a checkpoint


def test_production_uses_the_keys_file_system_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = init_dev_pki(tmp_path / "pki", "LEDGER", "Ledger test key")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({
        "trust_roots": [str(pki.root_cert_path)], "tsa_url": "http://127.0.0.1:9/tsa",
        "system": {"type": "pkcs12", "path": str(pki.seal_p12_path),
                   "password_env": "LEDGER_PW"},
    }))
    settings = Settings(mode="production", database_url=SecretStr("postgresql://u@h/db"),
                        jwt_secret=SecretStr("x" * 40), keys_file=keys_file)
    with pytest.raises(InvalidInputError, match="LEDGER_PW"):
        system_note_keys(settings)
    monkeypatch.setenv("LEDGER_PW", pki.password_for(pki.seal_p12_path).decode())
    keys = system_note_keys(settings)
    assert keys is not None
    signer, _ = keys
    assert isinstance(signer, BackendNoteSigner)
    assert len(signer.sign(b"note")) > 0
    # Without a system entry production makes no checkpoints at all.
    keys_file.write_text(json.dumps({"trust_roots": [str(pki.root_cert_path)]}))
    assert system_note_keys(settings) is None
