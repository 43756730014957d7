"""The ledger over HTTP: the latest checkpoint and proofs an outside verifier accepts."""

from __future__ import annotations

import base64
import time
from typing import Any

import psycopg
import pytest

from docmgmt.ledger.checkpoint import write_checkpoint
from docmgmt.ledger.devkeys import Pkcs12NoteSigner, PyHankoNoteTimestamper
from docmgmt.ledger.leaf import canonical_leaf
from tests.api.conftest import Api
from tests.api.support import drafted
from tests.ledger.ledger_support import events
from tests.ledger.rfc9162_verifier import (
    rfc_leaf_hash,
    rfc_verify_consistency,
    rfc_verify_inclusion,
)

pytestmark = pytest.mark.postgres
Keys = tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper]


def ledger_caught_up(api: Api) -> int:
    """Wait for the in-process ledger worker to hash every event; the number of leaves."""
    deadline = time.monotonic() + 30
    with psycopg.connect(api.db.app.conninfo(), autocommit=True) as conn:
        while True:
            found = conn.execute(
                "SELECT (SELECT max(notification_id) FROM docmgmt.docmgmt_events),"
                " (SELECT max(position) FROM docmgmt.ledger_leaves),"
                " (SELECT count(*) FROM docmgmt.ledger_leaves)").fetchone()
            assert found is not None
            if found[0] == found[1]:
                return int(found[2])
            assert time.monotonic() < deadline, "the ledger worker did not catch up"
            time.sleep(0.05)


def hashes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def test_proofs_over_http_pass_the_independent_verifier(
    api: Api, city: dict[str, Any], system_keys: Keys
) -> None:
    official = api.client("official_a")
    # Before any checkpoint there is nothing to show.
    r = official.get("/ledger/checkpoints/latest")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    # The system checkpoints everything the city's set-up recorded.
    size = ledger_caught_up(api)
    assert size >= 8
    write_checkpoint(api.db.app.conninfo(), *system_keys)
    r = official.get("/ledger/checkpoints/latest")
    assert r.status_code == 200, r.text
    cp = r.json()
    assert (cp["tree_size"], cp["signed"], cp["timestamped"]) == (size, True, True)
    origin, n, root_b64, time_line, state_line = cp["note"].partition("\n\n")[0].splitlines()
    assert (origin, int(n), root_b64) == ("docmgmt ledger", size, cp["root_hash_base64"])
    assert base64.b64decode(root_b64).hex() == cp["root_hash"]
    assert time_line.startswith("time ")
    # Format 2: the note signs the state tree the response names.
    assert cp["format"] == 2
    assert state_line == (f"state {cp['state_entries']} "
                          f"{base64.b64encode(bytes.fromhex(cp['state_root'])).decode()}")
    root = bytes.fromhex(cp["root_hash"])

    # Every event's inclusion proof checks out against the signed root.
    stored = events(api.db)
    assert len(stored) == size
    for index, (position, aggregate, version, topic, state) in enumerate(stored):
        r = official.get("/ledger/proofs/inclusion",
                         params={"position": position, "tree_size": size})
        assert r.status_code == 200, r.text
        proof = r.json()
        leaf = rfc_leaf_hash(canonical_leaf(position, aggregate, version, topic, state))
        assert proof["leaf_hash"] == leaf.hex()
        assert proof["leaf_index"] == index
        assert rfc_verify_inclusion(index, size, leaf, hashes(proof["inclusion_path"]), root)

    # Each earlier tree is a prefix of the checkpointed one.
    for first in range(1, size):
        r = official.get("/ledger/proofs/consistency", params={"first": first, "second": size})
        assert r.status_code == 200, r.text
        proof = r.json()
        assert proof["second_root"] == cp["root_hash"]
        assert rfc_verify_consistency(first, size, bytes.fromhex(proof["first_root"]), root,
                                      hashes(proof["consistency_path"]))


def test_checkpoints_are_listed_for_any_signed_in_user(
    api: Api, city: dict[str, Any], system_keys: Keys
) -> None:
    official = api.client("official_b")
    r = official.get("/ledger/checkpoints")
    assert r.status_code == 200
    assert r.json() == {"checkpoints": [], "next_after": None}
    # Two checkpoints: the city's set-up, then a comment more.
    ledger_caught_up(api)
    first = write_checkpoint(api.db.app.conninfo(), *system_keys)
    assert first is not None
    drafted(official)
    ledger_caught_up(api)
    second = write_checkpoint(api.db.app.conninfo(), *system_keys)
    assert second is not None
    r = official.get("/ledger/checkpoints", params={"limit": 1})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [c["tree_size"] for c in page["checkpoints"]] == [first.tree_size]
    assert page["checkpoints"][0]["root_hash"] == first.root_hash.hex()
    assert page["next_after"] == first.tree_size
    r = official.get("/ledger/checkpoints", params={"after": page["next_after"]})
    assert [(c["tree_size"], c["root_hash"]) for c in r.json()["checkpoints"]] == [
        (second.tree_size, second.root_hash.hex())]
    assert r.json()["next_after"] is None
    for bad in ({"limit": 0}, {"limit": 1001}, {"after": -1}):
        r = official.get("/ledger/checkpoints", params=bad)
        assert (r.status_code, r.json()["error"]) == (422, "invalid_request"), bad


def test_impossible_proofs_are_refused_readably(api: Api, city: dict[str, Any]) -> None:
    size = ledger_caught_up(api)
    official = api.client("official_b")
    r = official.get("/ledger/proofs/inclusion",
                     params={"position": 1, "tree_size": size + 5})
    assert r.status_code == 422
    assert r.json() == {"error": "invalid_input",
                        "detail": f"the ledger holds {size} leaves, not {size + 5}"}
    r = official.get("/ledger/proofs/consistency", params={"first": 5, "second": 3})
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    r = official.get("/ledger/proofs/inclusion", params={"position": 0, "tree_size": 1})
    assert (r.status_code, r.json()["error"]) == (422, "invalid_request")


def test_the_ledger_needs_a_login(api: Api) -> None:
    anonymous = api.client()
    for path in ("/ledger/checkpoints/latest", "/ledger/checkpoints",
                 "/ledger/proofs/inclusion?position=1&tree_size=1",
                 "/ledger/proofs/consistency?first=1&second=1"):
        assert anonymous.get(path).status_code == 401
