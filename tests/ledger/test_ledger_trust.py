"""`docmgmt verify --trust-root` and `docmgmt ledger dev-root`: who signed the checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from api.cli import main
from docmgmt.kernel.db import Database
from docmgmt.ledger.bundle_verify import NOT_CHECKED_EN, NOT_CHECKED_VI
from tests.ledger.ledger_support import ledgered_database, tamper
from tests.ledger.trust_support import issue, name, pem_file, resign

pytestmark = pytest.mark.postgres


@pytest.fixture
def ledgered(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    """Ten events in the ledger and one checkpoint signed with the development keys."""
    ledgered_database(database, tmp_path / "data", monkeypatch)
    assert main(["ledger", "checkpoint"]) == 0
    return database


def run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> str:
    assert main(list(argv)) == code
    return capsys.readouterr().out


def test_the_development_root_is_exported_and_verify_checks_against_it(
    ledgered: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # The user asks for the development root, to a file ...
    root = tmp_path / "dev-root.pem"
    assert main(["ledger", "dev-root", "--out", str(root)]) == 0
    made = tmp_path / "data" / "pki" / "SYSTEM" / "root-ca.pem"
    assert root.read_bytes() == made.read_bytes()
    assert str(made) in capsys.readouterr().err
    # ... or on stdout.
    assert run(capsys, "ledger", "dev-root").encode() == made.read_bytes()
    # verify checks both certificates of the checkpoint against it.
    out = run(capsys, "verify", "--trust-root", str(root))
    assert out.startswith("OK: 10 events")
    assert "[PASS] checkpoint signer trust" in out
    assert "[PASS] timestamp authority trust" in out
    assert "mốc kiểm tra tại kích thước cây 10" in out
    assert "[NOT CHECKED]" not in out
    report = json.loads(run(capsys, "verify", "--json", "--trust-root", str(root)))
    assert report["ok"]
    assert report["trust_checked"]
    assert [(t["name"], t["ok"]) for t in report["trust"]] == [
        ("checkpoint signer trust", True), ("timestamp authority trust", True)]


def test_without_a_root_verify_says_the_certificates_were_not_checked(
    ledgered: Database, capsys: pytest.CaptureFixture[str],
) -> None:
    out = run(capsys, "verify")
    assert out.startswith("OK: 10 events")
    assert "[NOT CHECKED] trust anchor" in out
    assert NOT_CHECKED_EN in out
    assert NOT_CHECKED_VI in out
    report = json.loads(run(capsys, "verify", "--json"))
    assert report["ok"]
    assert not report["trust_checked"]
    assert report["trust"] == []


def test_an_unrelated_root_fails_verify(
    ledgered: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    other = pem_file(tmp_path / "other.pem", issue(name("Some Other Root CA"), ca=True)[1])
    out = run(capsys, "verify", "--trust-root", str(other), code=1)
    assert out.startswith("FAILED: checkpoint-signer-trust: checkpoint at tree size 10: "
                          "the checkpoint signer's certificate")
    assert "which is not one of the trusted roots" in out
    assert "[FAIL] checkpoint signer trust" in out
    assert "[FAIL] timestamp authority trust" in out
    assert "không được tin cậy" in out


def test_a_re_signed_checkpoint_passes_its_signature_but_not_the_trust_check(
    ledgered: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "dev-root.pem"
    assert main(["ledger", "dev-root", "--out", str(root)]) == 0
    # Someone with database access re-signs the checkpoint with a key of their own.
    with psycopg.connect(ledgered.owner.conninfo()) as conn:
        row = conn.execute("SELECT note FROM docmgmt.ledger_checkpoints").fetchone()
    assert row is not None
    signer = issue(name("docmgmt ledger"))
    note, signature = resign(row[0], signer)
    der = signer[1].public_bytes(Encoding.DER)
    tamper(ledgered, "UPDATE docmgmt.ledger_checkpoints SET"
           f" note = '{note}', signature = '\\x{signature.hex()}',"
           f" signer_certificate = '\\x{der.hex()}'")
    # The signature check alone cannot tell: the note verifies with the stored certificate.
    assert run(capsys, "verify").startswith("OK: 10 events")
    # Against the trust root it fails, and says which certificate and why.
    report = json.loads(run(capsys, "verify", "--json", "--trust-root", str(root), code=1))
    assert report["problem"]["kind"] == "checkpoint-signer-trust"
    assert report["problem"]["checkpoint"] == 10
    assert "issued by CN=docmgmt ledger,C=VN, which is none of the trusted roots" in (
        report["problem"]["detail"])
    assert [(t["name"], t["ok"]) for t in report["trust"]] == [
        ("checkpoint signer trust", False), ("timestamp authority trust", True)]
    assert "[FAIL] checkpoint signer trust" in run(
        capsys, "verify", "--trust-root", str(root), code=1)


def test_unreadable_roots_and_production_are_refused(
    ledgered: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN NOTHING-----\n")
    assert main(["verify", "--trust-root", str(junk)]) == 2
    assert "junk.pem: not a readable PEM or DER certificate" in capsys.readouterr().err
    keys_file = tmp_path / "keys.json"
    keys_file.write_text("{}")
    monkeypatch.setenv("DOCMGMT_KEYS_FILE", str(keys_file))
    with pytest.raises(SystemExit, match="keys file's system key"):
        main(["ledger", "dev-root"])

