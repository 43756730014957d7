"""Evidence bundles: built from real events, checked offline, every tampering explained."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from docmgmt.domain.access import access_log_id
from docmgmt.ledger.bundle_verify import add_bundle_commands, main, verify_bundle
from docmgmt.ledger.leaf import event_leaf_hash
from tests.evidence.conftest import Bundled

pytestmark = pytest.mark.postgres


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rewrite(src: Path, dst: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """Copy the bundle with ``change`` applied, re-listing the manifest as a forger would."""
    files = members(src)
    change(files)
    manifest = json.loads(files["manifest.json"])
    manifest["files"] = [{"path": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                         for n, d in sorted(files.items()) if n != "manifest.json"]
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return dst


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_clean_bundle_verifies_offline(bundled: Bundled, tmp_path: Path) -> None:
    files = members(bundled.zip_path)
    # Every event of the document and its access log is in the bundle, exactly as stored.
    doc = bundled.document_id
    with psycopg.connect(bundled.api.db.owner.conninfo()) as conn:
        stored = conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM docmgmt.docmgmt_events WHERE originator_id = ANY(%s)"
            " AND notification_id <= %s ORDER BY notification_id",
            ([doc, str(access_log_id(uuid.UUID(doc)))], bundled.last_event)).fetchall()
        leaves = conn.execute("SELECT count(*) FROM docmgmt.ledger_leaves").fetchone()
    events = [json.loads(files[n]) for n in sorted(files) if n.startswith("events/")]
    assert len(events) == len(stored) >= 7  # drafted, revised, commented; opened, 3 views
    for event, (p, a, v, t, s) in zip(events, stored, strict=True):
        assert base64.b64decode(event["state_base64"]) == bytes(s)
        proof = json.loads(files[f"proofs/{events.index(event) + 1:04d}.json"])
        assert proof["leaf_hash"] == event_leaf_hash(p, a, v, t, bytes(s)).hex()
    assert leaves is not None
    assert leaves[0] >= len(stored)
    assert {n for n in files if n.startswith("files/")} == {
        f"files/{d}.pdf" for d in bundled.files}
    assert "evidence" in {e["state_json"].get("purpose") for e in events}
    readme = files["README.txt"].decode()
    assert "Cách kiểm tra" in readme
    assert "To check it" in readme
    # The checker bundled inside runs in an isolated interpreter with no database reachable
    # and no docmgmt on the path: nothing but the zip is consulted.
    checker = tmp_path / "bundle_verify.py"
    checker.write_bytes(files["verify/bundle_verify.py"])
    assert checker.read_bytes() == Path("docmgmt/ledger/bundle_verify.py").read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCMGMT_", "PG"))}
    env |= {"PGHOST": "/nonexistent", "PGPORT": "1", "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, "-I", str(checker), str(bundled.zip_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERDICT: ALL" in done.stdout
    assert "KẾT LUẬN: ĐẠT" in done.stdout
    assert "[FAIL]" not in done.stdout
    for name in ("checkpoint signature", "timestamp imprint", "timestamp signature",
                 "event events/0001.json", "manifest", f"state {doc}",
                 f"state {access_log_id(uuid.UUID(doc))}"):
        assert f"[PASS] {name}" in done.stdout
    # The checkpoint signs every aggregate's last version: nothing was left out.
    assert "PROVEN COMPLETE up to the checkpoint" in done.stdout
    report = verify_bundle(bundled.zip_path)
    assert report.ok, report.explain()
    assert report.facts["events"] == len(stored)


def _pdf(files: dict[str, bytes]) -> str:
    name = next(n for n in sorted(files) if n.startswith("files/"))
    files[name] = flip(files[name], len(files[name]) // 2)
    return f"file {name}"


def _state(files: dict[str, bytes]) -> str:
    event = json.loads(files["events/0002.json"])
    state = base64.b64decode(event["state_base64"])
    at = state.index(b"revision")
    forged = state[:at] + b"Revision" + state[at + 8:]
    event["state_base64"] = base64.b64encode(forged).decode()
    event["state_json"] = json.loads(forged)
    files["events/0002.json"] = json.dumps(event).encode()
    return "event events/0002.json"


def _proof(files: dict[str, bytes]) -> str:
    proof = json.loads(files["proofs/0003.json"])
    first = proof["inclusion_path"][0]
    proof["inclusion_path"][0] = ("0" if first[0] != "0" else "1") + first[1:]
    files["proofs/0003.json"] = json.dumps(proof).encode()
    return "event events/0003.json"


def _note(files: dict[str, bytes]) -> str:
    note = files["checkpoint/note.txt"]
    at = note.index(b"time ") + 8
    files["checkpoint/note.txt"] = flip(note, at)
    return "checkpoint signature"


@pytest.mark.parametrize(("change", "also"), [
    (_pdf, "its content does not have the SHA-256 the event recorded"),
    (_state, "does not lead to the signed root"),
    (_proof, "does not lead to the signed root"),
    (_note, "covers a different text than this checkpoint note"),
], ids=["pdf-byte", "event-state", "proof", "checkpoint-note"])
def test_one_changed_byte_is_detected_and_explained(
    bundled: Bundled, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    change: Callable[[dict[str, bytes]], str], also: str,
) -> None:
    failed: list[str] = []
    forged = rewrite(bundled.zip_path, tmp_path / "forged.zip",
                     lambda files: failed.append(change(files)))
    report = verify_bundle(forged)
    assert not report.ok
    names = [c.name for c in report.failures]
    assert failed[0] in names, report.explain()
    text = report.explain()
    assert also in text
    assert "VERDICT: FAILED" in text
    assert "KHÔNG ĐẠT" in text
    # Only what was changed fails: the forger re-listed the manifest.
    assert "manifest" not in " ".join(names)
    # The command exits 1 and prints the same explanation.
    assert main([str(forged)]) == 1
    assert f"[FAIL] {failed[0]}" in capsys.readouterr().out


def test_unlisted_change_fails_the_manifest_and_garbage_is_a_report(
    bundled: Bundled, tmp_path: Path
) -> None:
    files = members(bundled.zip_path)
    files["README.txt"] = files["README.txt"] + b"!"
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(changed, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    assert [c.name for c in verify_bundle(changed).failures] == ["manifest:README.txt"]
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert [c.name for c in verify_bundle(junk).failures] == ["zip"]


def test_verify_bundle_command_registers_on_a_cli(bundled: Bundled,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_bundle_commands(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(["verify-bundle", str(bundled.zip_path)])
    assert args.func(args, None) == 0
    assert "VERDICT: ALL" in capsys.readouterr().out


def test_route_serves_readers_of_the_agency_only(bundled: Bundled) -> None:
    doc = bundled.document_id
    # Another agency's official is told the document does not exist.
    r = bundled.login("official_b").get(f"/documents/{doc}/evidence")
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "document_not_found"
    # A clerk of the agency (a reader) gets a zip that verifies, with the new export on it.
    r = bundled.login("clerk_a").get(f"/documents/{doc}/evidence")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.content[:2] == b"PK"
    path = Path(bundled.zip_path.parent / "again.zip")
    path.write_bytes(r.content)
    assert verify_bundle(path).ok
    assert len(members(path)) > len(members(bundled.zip_path))
    # Nobody logged out of the system gets anything.
    assert bundled.api.client().get(f"/documents/{doc}/evidence").status_code == 401
