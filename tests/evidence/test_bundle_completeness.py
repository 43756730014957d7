"""Evidence bundles: removed, reordered or altered content is detected or labelled."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from docmgmt.ledger.bundle_verify import load_certificate_files, verify_bundle
from tests.evidence.conftest import Bundled
from tests.evidence.test_evidence_bundle import flip, members, rewrite
from tests.evidence.test_evidence_trust import dev_root  # noqa: F401 - fixture

pytestmark = pytest.mark.postgres


def _events(files: dict[str, bytes]) -> list[str]:
    return sorted(n[7:11] for n in files if n.startswith("events/"))


def _renumber(files: dict[str, bytes], keep: list[str]) -> None:
    """Keep only the numbered events ``keep``, renumbered 0001.. as a forger would."""
    old = {n: (files.pop(f"events/{n}.json"), files.pop(f"proofs/{n}.json"))
           for n in _events(files)}
    for i, n in enumerate(keep, 1):
        event, proof = old[n]
        p = json.loads(proof)
        p["event"] = f"events/{i:04d}.json"
        files[f"events/{i:04d}.json"], files[f"proofs/{i:04d}.json"] = (
            event, json.dumps(p).encode())


def _aggregates(files: dict[str, bytes]) -> list[str]:
    return [json.loads(files[f"events/{n}.json"])["originator_id"] for n in _events(files)]


def test_removed_middle_event_fails_as_a_version_gap(bundled: Bundled, tmp_path: Path) -> None:
    files = members(bundled.zip_path)
    numbers, owners = _events(files), _aggregates(files)
    # The second event of the document aggregate, with its proof and manifest line.
    victim = [n for n, o in zip(numbers, owners, strict=True) if o == owners[0]][1]
    forged = rewrite(bundled.zip_path, tmp_path / "gap.zip",
                     lambda f: _renumber(f, [n for n in numbers if n != victim]))
    report = verify_bundle(forged)
    assert not report.ok
    # The gap shows in the versions, and the signed state tree names the version missing.
    assert [c.name for c in report.failures] == [f"versions {owners[0]}", f"state {owners[0]}"]
    assert "lacks version(s) [2]" in report.failures[0].en
    assert "the bundle holds versions [1, 3" in report.failures[1].en
    assert "events were removed" in report.explain()
    assert "PROVEN COMPLETE" not in report.explain()


def test_removed_access_log_event_fails(bundled: Bundled, tmp_path: Path) -> None:
    files = members(bundled.zip_path)
    numbers, owners = _events(files), _aggregates(files)
    log = next(o for o in owners if o != owners[0])
    victim = next(n for n, o in zip(numbers, owners, strict=True) if o == log)
    forged = rewrite(bundled.zip_path, tmp_path / "log.zip",
                     lambda f: _renumber(f, [n for n in numbers if n != victim]))
    report = verify_bundle(forged)
    assert [c.name for c in report.failures] == [f"versions {log}", f"state {log}"]


def test_reordered_events_fail(bundled: Bundled, tmp_path: Path) -> None:
    numbers = _events(members(bundled.zip_path))
    swapped = [numbers[1], numbers[0], *numbers[2:]]
    report = verify_bundle(rewrite(bundled.zip_path, tmp_path / "order.zip",
                                   lambda f: _renumber(f, swapped)))
    assert "event order" in [c.name for c in report.failures]
    assert "reordered" in report.explain()


def test_removed_latest_events_fail_against_the_signed_state(bundled: Bundled,
                                                              tmp_path: Path) -> None:
    """Versions 1..N-1 have no gap, but the checkpoint signed N as the last one."""
    files = members(bundled.zip_path)
    numbers, owners = _events(files), _aggregates(files)
    last = json.loads(files[f"events/{numbers[-1]}.json"])
    # A forger drops the newest event, its proof and its manifest line.
    report = verify_bundle(rewrite(bundled.zip_path, tmp_path / "tail.zip",
                                   lambda f: _renumber(f, numbers[:-1])))
    assert [c.name for c in report.failures] == [f"state {owners[-1]}"]
    version = last["originator_version"]
    assert (f"the signed state tree records version {version} at log position "
            f"{last['notification_id']} as its last") in report.failures[0].en
    assert "events were removed from or added to the bundle" in report.explain()
    # The two newest events of the document go the same way.
    doc_events = [n for n, o in zip(numbers, owners, strict=True) if o == owners[0]]
    report = verify_bundle(rewrite(
        bundled.zip_path, tmp_path / "tail2.zip",
        lambda f: _renumber(f, [n for n in numbers if n not in doc_events[-2:]])))
    assert f"state {owners[0]}" in [c.name for c in report.failures]


def test_removed_state_proof_or_whole_aggregate_fails(bundled: Bundled,
                                                      tmp_path: Path) -> None:
    """Dropping a state proof, or an aggregate's every event with its proof, is seen."""
    files = members(bundled.zip_path)
    numbers, owners = _events(files), _aggregates(files)
    log = next(o for o in owners if o != owners[0])
    report = verify_bundle(rewrite(bundled.zip_path, tmp_path / "nostate.zip",
                                   lambda f: f.pop(f"state/{owners[0]}.json")))
    assert [c.name for c in report.failures] == [f"state {owners[0]}"]
    assert "is missing" in report.failures[0].en

    # The access log's events and its proof all go: its id derives from the document's.
    def drop_log(f: dict[str, bytes]) -> None:
        _renumber(f, [n for n, o in zip(numbers, owners, strict=True) if o != log])
        f.pop(f"state/{log}.json")
    report = verify_bundle(rewrite(bundled.zip_path, tmp_path / "nolog.zip", drop_log))
    assert [c.name for c in report.failures] == [f"state {log}"]
    # A proof that the log is absent cannot be forged from the document's own entry.
    def absent(f: dict[str, bytes]) -> None:
        drop_log(f)
        entry = json.loads(f[f"state/{owners[0]}.json"])
        f[f"state/{log}.json"] = json.dumps({"aggregate_id": log, "present": False,
                                             "neighbours": [entry]}).encode()
    report = verify_bundle(rewrite(bundled.zip_path, tmp_path / "absent.zip", absent))
    assert [c.name for c in report.failures] == [f"state {log}"]
    assert "neighbours do not show" in report.failures[0].en


def test_clean_bundle_is_proven_complete(bundled: Bundled) -> None:
    """Every aggregate's events are 1..last of its signed entry: the verdict says so."""
    report = verify_bundle(bundled.zip_path)
    assert report.ok, report.explain()
    explained = report.explain()
    assert "PROVEN COMPLETE up to the checkpoint" in explained
    assert "ĐÃ CHỨNG MINH ĐẦY ĐỦ" in explained
    assert "[NOT PROVEN]" not in explained
    assert sum(c.name.startswith("state ") for c in report.checks) == 2


def test_altered_checkpoint_summary_fails(bundled: Bundled, tmp_path: Path) -> None:
    def change(f: dict[str, bytes]) -> None:
        summary = json.loads(f["checkpoint/checkpoint.json"])
        summary["tree_size"] += 1
        f["checkpoint/checkpoint.json"] = json.dumps(summary).encode()
    report = verify_bundle(rewrite(bundled.zip_path, tmp_path / "cp.zip", change))
    assert [c.name for c in report.failures] == ["summary checkpoint/checkpoint.json"]


LABELLED = ("README.txt", "verify/bundle_verify.py")
TRUST_ONLY = ("checkpoint/chain.pem", "checkpoint/crls.pem")


def test_every_carried_file_altered_is_detected_or_labelled(
    bundled: Bundled, tmp_path: Path, dev_root: Path,  # noqa: F811 - fixture
) -> None:
    names = [n for n in members(bundled.zip_path) if n != "manifest.json"]
    assert {"checkpoint/checkpoint.json", "checkpoint/timestamp.tst"} <= set(names)
    for name in names:
        def change(f: dict[str, bytes], name: str = name) -> None:
            f[name] = flip(f[name], len(f[name]) // 2)
        one = rewrite(bundled.zip_path, tmp_path / "one.zip", change)
        report = verify_bundle(one)
        if name in TRUST_ONLY:
            assert "chain.pem and checkpoint/crls.pem are read only then" in report.explain()
            report = verify_bundle(one, load_certificate_files([dev_root]))
            assert not report.ok, name
        elif name in LABELLED or name.startswith("reports/"):
            assert report.ok, name
            assert ("UNVERIFIED INFORMATION" if name.startswith("reports/")
                    else "INFORMATION ONLY") in report.explain(), name
        else:
            assert not report.ok, name
            assert report.failures[0].en, name
    # The manifest itself: a changed listing, tree size or document id fails.
    files = members(bundled.zip_path)
    manifest = files["manifest.json"]
    for needle in (b'"sha256":"', b'"tree_size":', b'"document_id":"'):
        at = manifest.index(needle) + len(needle) + 1
        with zipfile.ZipFile(tmp_path / "manifest.zip", "w") as zf:
            for n, d in files.items():
                zf.writestr(n, flip(d, at) if n == "manifest.json" else d)
        assert not verify_bundle(tmp_path / "manifest.zip").ok, needle
