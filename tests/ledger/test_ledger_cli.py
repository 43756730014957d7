"""`docmgmt verify` and `docmgmt ledger ...`: signed checkpoints, proofs, exit codes."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from api.cli import main
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger import bulkhash
from docmgmt.ledger.checkpoint import store_checkpoint
from docmgmt.ledger.leaf import event_leaf_hash
from docmgmt.ledger.state_leaf import StateEntry, state_root
from docmgmt.ledger.stored_tree import read_tree
from docmgmt.ledger.systemkeys import system_note_keys
from docmgmt.settings import Settings
from tests.ledger.ledger_support import catch_up, events, fill, ledgered_database, tamper
from tests.ledger.rfc9162_verifier import rfc_verify_consistency, rfc_verify_inclusion

pytestmark = pytest.mark.postgres


@pytest.fixture
def ledgered(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    ledgered_database(database, tmp_path / "data", monkeypatch)
    return database


def run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> str:
    assert main(list(argv)) == code
    return capsys.readouterr().out


def test_checkpoint_is_signed_timestamped_and_verified(
    ledgered: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    # The system signs a checkpoint of the 10 events so far.
    out = json.loads(run(capsys, "ledger", "checkpoint"))
    assert out["tree_size"] == 10
    body, _, sig_line = out["note"].partition("\n\n")
    origin, size, root_b64, time_line, state_line = body.splitlines()
    assert (origin, size) == ("docmgmt ledger", "10")
    assert base64.b64decode(root_b64).hex() == out["root_hash"]
    assert time_line.startswith("time ")
    # Format 2: the note also signs the state tree, one entry per aggregate so far.
    word, entries, state_b64 = state_line.split(" ")
    assert (word, int(entries)) == ("state", len({e[1] for e in events(ledgered)}))
    assert (out["format"], out["state_entries"]) == (2, int(entries))
    assert base64.b64decode(state_b64).hex() == out["state_root"]
    assert len(base64.b64decode(state_b64)) == 32
    assert sig_line.startswith("— docmgmt ledger ")
    # The signature checks out with the stored certificate, over the note body.
    with psycopg.connect(ledgered.owner.conninfo()) as conn:
        sig, cert_der, token = conn.execute(
            "SELECT signature, signer_certificate, timestamp_token"
            " FROM docmgmt.ledger_checkpoints").fetchone()
    cert = x509.load_der_x509_certificate(cert_der)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(sig, (body + "\n").encode(), ec.ECDSA(hashes.SHA256()))
    assert base64.b64decode(sig_line.split()[-1])[4:] == sig
    # The RFC 3161 token covers SHA-256 of the same body.
    signed = cms.ContentInfo.load(token)["content"]
    info = tsp.TSTInfo.load(signed["encap_content_info"]["content"].parsed.dump())
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(
        (body + "\n").encode()).digest()
    # Nothing new: no second checkpoint.
    assert run(capsys, "ledger", "checkpoint").strip() == "null"
    # verify checks the events against the signed root.
    verdict = run(capsys, "verify")
    assert "1 checkpoint root(s) match" in verdict
    assert "1 state root(s) match" in verdict


def test_proofs_check_out_with_the_independent_verifier(
    ledgered: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = events(ledgered)
    run(capsys, "ledger", "checkpoint")
    position, aggregate, version, topic, state = stored[6]
    proof = json.loads(run(capsys, "ledger", "prove-inclusion", str(position),
                           "--tree-size", "10"))
    leaf = event_leaf_hash(position, aggregate, version, topic, state)
    assert proof["leaf_hash"] == leaf.hex()
    assert rfc_verify_inclusion(6, 10, leaf, [bytes.fromhex(p) for p in proof["inclusion_path"]],
                                bytes.fromhex(proof["root_hash"]))
    report = json.loads(run(capsys, "verify", "--json"))
    assert report["root"] == proof["root_hash"]
    cons = json.loads(run(capsys, "ledger", "prove-consistency", "3", "10"))
    assert rfc_verify_consistency(3, 10, bytes.fromhex(cons["first_root"]),
                                  bytes.fromhex(cons["second_root"]),
                                  [bytes.fromhex(p) for p in cons["consistency_path"]])
    assert cons["second_root"] == proof["root_hash"]
    # A proof the ledger cannot give is a readable error, exit code 2.
    assert main(["ledger", "prove-consistency", "3", "11"]) == 2
    assert "holds 10 leaves" in capsys.readouterr().err


def test_every_checkpoint_is_listed_page_by_page(
    ledgered: Database, app: DocMgmt, capsys: pytest.CaptureFixture[str]
) -> None:
    # Three checkpoints, with new events recorded between them.
    sizes = [json.loads(run(capsys, "ledger", "checkpoint"))["tree_size"]]
    for code in ("LIST-A", "LIST-B"):
        fill(app, code, documents=1, comments=1)
        catch_up(ledgered, app)
        sizes.append(json.loads(run(capsys, "ledger", "checkpoint"))["tree_size"])
    assert sizes[0] < sizes[1] < sizes[2]
    # Two to a page: the first page names where the second starts, the last names none.
    first = json.loads(run(capsys, "ledger", "checkpoints", "--limit", "2"))
    assert [c["tree_size"] for c in first["checkpoints"]] == sizes[:2]
    assert first["next_after"] == sizes[1]
    second = json.loads(run(capsys, "ledger", "checkpoints", "--limit", "2",
                            "--after", str(first["next_after"])))
    assert ([c["tree_size"] for c in second["checkpoints"]], second["next_after"]) == (
        sizes[2:], None)
    every = json.loads(run(capsys, "ledger", "checkpoints", "--all", "--limit", "1"))
    assert [c["tree_size"] for c in every["checkpoints"]] == sizes
    assert all(c["signed"] and c["timestamped"] for c in every["checkpoints"])
    # The auditor asks for a consistency proof between the oldest and the newest listed.
    oldest, newest = every["checkpoints"][0], every["checkpoints"][-1]
    cons = json.loads(run(capsys, "ledger", "prove-consistency",
                          str(oldest["tree_size"]), str(newest["tree_size"])))
    assert (cons["first_root"], cons["second_root"]) == (oldest["root_hash"],
                                                         newest["root_hash"])
    assert rfc_verify_consistency(oldest["tree_size"], newest["tree_size"],
                                  bytes.fromhex(oldest["root_hash"]),
                                  bytes.fromhex(newest["root_hash"]),
                                  [bytes.fromhex(p) for p in cons["consistency_path"]])
    # A page size the ledger does not give is refused readably.
    with pytest.raises(SystemExit, match="limit must be between 1 and 1000"):
        main(["ledger", "checkpoints", "--limit", "0"])


def test_verify_exits_non_zero_and_names_the_event(
    ledgered: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    position, aggregate, version, _, _ = events(ledgered)[5]
    tamper(ledgered, "UPDATE docmgmt.docmgmt_events SET state = overlay(state placing"
           f" '\\x21'::bytea from 3 for 1) WHERE notification_id = {position}")
    # The parallel pass declines and the row-by-row pass names the event.
    out = run(capsys, "verify", "--workers", "2", code=1)
    assert out.startswith(f"FAILED: altered: position {position}, aggregate {aggregate}"
                          f" version {version}")


def test_event_and_leaf_rewritten_together_fail_the_signed_checkpoint(
    ledgered: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "ledger", "checkpoint")
    position, aggregate, version, topic, state = events(ledgered)[2]
    forged = state[:-1] + b"!"
    leaf = event_leaf_hash(position, aggregate, version, topic, forged)
    tamper(ledgered,
           f"UPDATE docmgmt.docmgmt_events SET state = '\\x{forged.hex()}'"
           f" WHERE notification_id = {position}",
           f"UPDATE docmgmt.ledger_leaves SET leaf_hash = '\\x{leaf.hex()}'"
           f" WHERE position = {position}")
    report = json.loads(run(capsys, "verify", "--json", code=1))
    assert report["problem"]["kind"] == "checkpoint"
    assert "tree size 10" in report["problem"]["detail"]


def test_verify_says_on_stderr_when_the_compiled_hashing_is_not_in_use(
    ledgered: Database, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["verify"]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(bulkhash, "ACCELERATED", False)
    monkeypatch.setattr(bulkhash, "NOT_ACCELERATED_BECAUSE", "not in this test")
    assert main(["verify", "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("OK: ")
    assert captured.err == ("note: hashing through hashlib, one call per hash (slower): the"
                            " compiled module is not in use (not in this test)\n")


@pytest.mark.parametrize("workers", ["0", "1"], ids=["after the events", "alongside"])
def test_verify_checks_old_and_new_checkpoints_and_the_signed_state(
    ledgered: Database, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    """The state roots are recomputed after the events on one connection, and alongside
    the hashing, on a connection of their own, when there are workers."""
    keys = system_note_keys(Settings())
    assert keys is not None
    stored = events(ledgered)
    # A checkpoint of the first 6 events made the old way (format 1, no state line), then
    # one of all 10 made today (format 2): both verify.
    with psycopg.connect(ledgered.app.conninfo()) as conn:
        tree = read_tree(conn).tree
        old = store_checkpoint(conn, *keys, 6, tree.root(6), datetime.now(UTC))
    assert old.state is None
    assert "\nstate " not in old.note
    run(capsys, "ledger", "checkpoint")
    verdict = run(capsys, "verify", "--workers", workers)
    assert "2 checkpoint root(s) match" in verdict
    assert "1 state root(s) match" in verdict
    # A correctly signed checkpoint whose state tree claims an aggregate's last event was
    # an earlier one (as if its latest events were left out) is named by verify.
    last: dict[uuid.UUID, StateEntry] = {}
    for position, aggregate, version, _, _ in stored[:8]:
        last[aggregate] = StateEntry(aggregate, version, position)
    victim = next(e[1] for e in reversed(stored[:8]) if e[2] >= 2)
    prior = [e for e in stored[:8] if e[1] == victim][-2]
    last[victim] = StateEntry(victim, prior[2], prior[0])
    with psycopg.connect(ledgered.app.conninfo()) as conn:
        store_checkpoint(conn, *keys, 8, tree.root(8), datetime.now(UTC),
                         state=state_root(last.values()))
    report = json.loads(run(capsys, "verify", "--json", "--workers", workers, code=1))
    assert report["problem"]["kind"] == "state-root"
    assert report["problem"]["checkpoint"] == 8
    assert "an aggregate's last version was misstated" in report["problem"]["detail"]
