"""`docmgmt verify` checks every checkpoint's signature and timestamp and names a bad one."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    pkcs12,
)

from api.cli import main
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger.checkpoint import write_checkpoint
from docmgmt.ledger.devkeys import Pkcs12NoteSigner, PyHankoNoteTimestamper
from docmgmt.ledger.state_tree import state_as_of
from docmgmt.ledger.stored_tree import read_tree
from docmgmt.ledger.verify import verify_log
from signing.devpki import DevPki
from tests.ledger.ledger_support import catch_up, fill, tamper
from tests.ledger.trust_support import crl, issue, name

pytestmark = pytest.mark.postgres
Keys = tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper]


@pytest.fixture
def checkpointed(database: Database, app: DocMgmt, system_keys: Keys) -> Database:
    """Checkpoints at tree sizes 10 and 20 over a caught-up ledger."""
    for code in ("SOA", "SOB"):
        fill(app, code)
        catch_up(database, app)
        assert write_checkpoint(database.app.conninfo(), *system_keys) is not None
    return database


def test_a_checkpoint_continued_from_a_frontier_has_the_full_root(
    database: Database, app: DocMgmt, system_keys: Keys
) -> None:
    fill(app, "SOA")
    catch_up(database, app)
    first = write_checkpoint(database.app.conninfo(), *system_keys)
    assert first is not None
    assert first.frontier is not None
    fill(app, "SOB", documents=2, comments=3)
    catch_up(database, app)
    second = write_checkpoint(database.app.conninfo(), *system_keys,
                              frontier=first.frontier)
    assert second is not None
    with psycopg.connect(database.app.conninfo()) as conn:
        whole = read_tree(conn)
        states = state_as_of(conn, whole.last_position or 0)
    assert (second.tree_size, second.root_hash) == (whole.size, whole.tree.root())
    # The state tree carried over from the first checkpoint has the root of a fresh one.
    assert second.state == (states.size, states.root())
    assert first.state is not None
    assert first.state[0] < states.size
    assert second.tree_size == 19
    # Nothing new since: no third checkpoint, from the frontier or from scratch.
    assert write_checkpoint(database.app.conninfo(), *system_keys,
                            frontier=second.frontier) is None
    assert write_checkpoint(database.app.conninfo(), *system_keys) is None


def row(db: Database, size: int) -> tuple[str, bytes, bytes]:
    with psycopg.connect(db.owner.conninfo()) as conn:
        found = conn.execute("SELECT note, signature, timestamp_token"
                             " FROM docmgmt.ledger_checkpoints WHERE tree_size = %s",
                             (size,)).fetchone()
    assert found is not None
    return found[0], bytes(found[1]), bytes(found[2])


def problem_of(db: Database) -> tuple[str, int | None, str]:
    """The problem verify names, the same in process and with checkpoint checks and
    hashing in two worker processes."""
    found = []
    for workers in (0, 2):
        problem = verify_log(db.app.conninfo(), workers=workers).problem
        assert problem is not None
        found.append((problem.kind, problem.checkpoint, problem.detail))
    assert found[0] == found[1]
    return found[0]


def test_signed_checkpoints_verify_with_their_timestamp_times(checkpointed: Database) -> None:
    report = verify_log(checkpointed.app.conninfo())
    assert report.ok, report.summary()
    assert verify_log(checkpointed.app.conninfo(), workers=2).as_dict() == report.as_dict()
    assert (report.checkpoints_checked, report.checkpoints_signed) == (2, 2)
    assert sorted(report.timestamp_times) == [10, 20]
    now = datetime.now(UTC)
    assert all(now - timedelta(minutes=5) < t <= now for t in report.timestamp_times.values())
    assert "2 checkpoint signature(s) and timestamp(s) valid" in report.summary()
    assert "newest checkpoint (tree size 20) timestamped" in report.summary()


def test_an_edited_note_is_named(checkpointed: Database) -> None:
    # Someone moves the checkpoint's time back a year in the note text.
    assert "\ntime 20" in row(checkpointed, 10)[0]
    tamper(checkpointed, "UPDATE docmgmt.ledger_checkpoints"
           " SET note = replace(note, E'\\ntime 20', E'\\ntime 19') WHERE tree_size = 10")
    kind, size, _ = problem_of(checkpointed)
    assert (kind, size) == ("checkpoint-note", 10)


def test_a_forged_signature_is_named(checkpointed: Database) -> None:
    # The signature bytes and the note's signature line are changed consistently, so only
    # the cryptographic check can notice.
    note, signature, _ = row(checkpointed, 20)
    forged = signature[:-1] + bytes([signature[-1] ^ 1])
    body, _, line = note.partition("\n\n")
    head, _, blob = line.rstrip("\n").rpartition(" ")
    kid = base64.b64decode(blob)[:4]
    new_note = f"{body}\n\n{head} {base64.b64encode(kid + forged).decode()}\n"
    tamper(checkpointed,
           f"UPDATE docmgmt.ledger_checkpoints SET signature = '\\x{forged.hex()}',"
           f" note = '{new_note}' WHERE tree_size = 20")
    kind, size, detail = problem_of(checkpointed)
    assert (kind, size) == ("checkpoint-signature", 20)
    assert "does not verify" in detail


def test_a_signature_column_out_of_step_with_the_note_is_named(checkpointed: Database) -> None:
    tamper(checkpointed, "UPDATE docmgmt.ledger_checkpoints SET signature = NULL"
           " WHERE tree_size = 10")
    assert problem_of(checkpointed)[:2] == ("checkpoint-signature", 10)


def test_a_swapped_timestamp_token_is_named(checkpointed: Database) -> None:
    # The token of checkpoint 10 is put on checkpoint 20: validly signed, wrong imprint.
    _, _, token = row(checkpointed, 10)
    tamper(checkpointed, f"UPDATE docmgmt.ledger_checkpoints SET timestamp_token ="
           f" '\\x{token.hex()}' WHERE tree_size = 20")
    kind, size, detail = problem_of(checkpointed)
    assert (kind, size) == ("checkpoint-timestamp", 20)
    assert "message imprint" in detail


def test_an_altered_timestamp_token_is_named(checkpointed: Database) -> None:
    # A serial number inside the signed TSTInfo changes: the TSA signature breaks.
    _, _, token = row(checkpointed, 10)
    info = cms.ContentInfo.load(token)
    encap = info["content"]["encap_content_info"]
    tst = encap["content"].parsed
    tst["serial_number"] = tst["serial_number"].native + 1
    encap["content"] = cms.ParsableOctetString(tst.dump(force=True))
    tamper(checkpointed, f"UPDATE docmgmt.ledger_checkpoints SET timestamp_token ="
           f" '\\x{info.dump(force=True).hex()}' WHERE tree_size = 10")
    kind, size, detail = problem_of(checkpointed)
    assert (kind, size) == ("checkpoint-timestamp", 10)
    assert "TSA signature" in detail


def test_the_command_exits_non_zero_naming_the_checkpoint(
    checkpointed: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOCMGMT_DATABASE_URL", checkpointed.app.url())
    monkeypatch.setenv("DOCMGMT_MIGRATION_DATABASE_URL", checkpointed.owner.url())
    monkeypatch.setenv("DOCMGMT_DATA_DIR", str(tmp_path / "data"))
    assert main(["verify"]) == 0
    capsys.readouterr()
    tamper(checkpointed, "UPDATE docmgmt.ledger_checkpoints SET timestamp_token = NULL"
           " WHERE tree_size = 20")
    assert main(["verify"]) == 1
    assert capsys.readouterr().out.startswith(
        "FAILED: checkpoint-timestamp: checkpoint at tree size 20:")


def test_the_signer_s_intermediates_are_stored_and_link_it_to_its_root(
    database: Database, app: DocMgmt, system_pki: tuple[Any, Any, DevPki], tmp_path: Path,
) -> None:
    # A system key issued by an intermediate CA, both in its PKCS#12 file.
    root = issue(name("Ledger Root CA"), ca=True)
    intermediate = issue(name("Ledger Issuing CA"), root, ca=True)
    leaf = issue(name("docmgmt ledger"), intermediate)
    p12 = tmp_path / "system.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"system", leaf[0], leaf[1], [intermediate[1]], BestAvailableEncryption(b"pw")))
    signer = Pkcs12NoteSigner(p12, b"pw")
    assert signer.chain_pem == intermediate[1].public_bytes(Encoding.PEM)
    fill(app, "SOA")
    catch_up(database, app)
    written = write_checkpoint(database.app.conninfo(), signer, system_pki[1])
    assert written is not None
    assert written.signer_chain == signer.chain_pem
    # The TSA is the development one: trust its root too.
    tsa_root = x509.load_pem_x509_certificate(system_pki[2].root_cert_path.read_bytes())
    report = verify_log(database.app.conninfo(), [root[1], tsa_root])
    assert report.ok, report.summary()
    assert [(t.name, t.ok) for t in report.trust] == [
        ("checkpoint signer trust", True), ("timestamp authority trust", True)]
    # Without the stored intermediate the signer cannot be linked to the root.
    tamper(database, "UPDATE docmgmt.ledger_checkpoints SET signer_chain = NULL")
    problem = verify_log(database.app.conninfo(), [root[1], tsa_root]).problem
    assert problem is not None
    assert (problem.kind, problem.checkpoint) == ("checkpoint-signer-trust", 10)



def test_a_checkpoint_signed_by_a_revoked_key_fails_the_trust_check(
    database: Database, app: DocMgmt, system_pki: tuple[Any, Any, DevPki], tmp_path: Path,
) -> None:
    root = issue(name("Ledger Root CA"), ca=True)
    leaf = issue(name("docmgmt ledger"), root)
    p12 = tmp_path / "system.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"system", leaf[0], leaf[1], None, BestAvailableEncryption(b"pw")))
    crl_file = tmp_path / "root.crl"
    tsa_root = x509.load_pem_x509_certificate(system_pki[2].root_cert_path.read_bytes())
    fill(app, "SOA")
    catch_up(database, app)

    def checkpoint_with(revoked: dict[int, datetime]) -> None:
        crl_file.write_bytes(crl(root, revoked).public_bytes(Encoding.DER))
        signer = Pkcs12NoteSigner(p12, b"pw", crl_files=[crl_file])
        assert write_checkpoint(database.app.conninfo(), signer, system_pki[1]) is not None

    # Not revoked when the first checkpoint was made: the CRL stored with it says so.
    checkpoint_with({})
    report = verify_log(database.app.conninfo(), [root[1], tsa_root])
    assert report.ok, report.summary()
    assert "CN=docmgmt ledger,C=VN is not revoked according to the CRL of CN=Ledger Root" \
        in report.trust[0].en
    # The TSA's issuer published no CRL here: its revocation was not checked, and it says so.
    assert "was not checked: no CRL of its issuer" in report.trust[1].en
    # The key is revoked; the next checkpoint stores the CRL that says so, and fails.
    fill(app, "SOB", documents=1, comments=0)
    catch_up(database, app)
    checkpoint_with({leaf[1].serial_number: datetime.now(UTC) - timedelta(minutes=5)})
    problem = verify_log(database.app.conninfo(), [root[1], tsa_root]).problem
    assert problem is not None
    assert (problem.kind, problem.checkpoint) == ("checkpoint-signer-trust", 12)
    assert "CN=docmgmt ledger,C=VN was revoked on" in problem.detail
