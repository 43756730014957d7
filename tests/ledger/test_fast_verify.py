"""The chunked, parallel verification pass agrees with the definition, or declines.

Roots are computed from the RFC 9162 definition (the independent verifier's recursive MTH
over leaf hashes from :func:`event_leaf_hash`), not by the code under test.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger import bulkhash, fastverify, merkle, stored_tree
from docmgmt.ledger.fastverify import FastReport, fast_verify
from docmgmt.ledger.leaf import event_leaf_hash
from docmgmt.ledger.verify import verify_log
from tests.ledger.ledger_support import SEQ, catch_up, events, fill, tamper
from tests.ledger.rfc9162_verifier import rfc_mth

pytestmark = pytest.mark.postgres


@pytest.fixture
def logged(database: Database, app: DocMgmt) -> Database:
    """28 events with a hole in the notification ids, all in the ledger."""
    fill(app, "SOA", documents=4, comments=3)
    with psycopg.connect(database.owner.conninfo()) as conn:
        conn.execute(f"SELECT nextval('{SEQ}')")
    fill(app, "SOB", documents=5, comments=1)
    catch_up(database, app)
    return database


def leaves_of(db: Database) -> list[bytes]:
    return [event_leaf_hash(p, a, v, t, bytes(s)) for p, a, v, t, s in events(db)]


def run(db: Database, checkpoints: list[tuple[int, bytes]], workers: int, chunk: int,
        ) -> FastReport | None:
    with psycopg.connect(db.app.conninfo()) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            row = conn.execute("SELECT notification_id FROM docmgmt.ledger_tracking"
                               " WHERE application_name = 'docmgmt'").fetchone()
            head = int(row[0]) if row else 0
            return fast_verify(conn, db.app.conninfo(), checkpoints, head, workers, chunk)


@pytest.mark.parametrize(("workers", "chunk"), [(0, 4), (0, 64), (2, 4), (2, 8)])
def test_clean_log_gives_the_definitions_roots(logged: Database, workers: int,
                                               chunk: int) -> None:
    leaves = leaves_of(logged)
    assert len(leaves) == 28
    # Cuts at chunk edges, inside chunks, at the very start and at the end.
    sizes = [1, 3, 4, 5, 8, 13, 16, 17, 27, 28]
    report = run(logged, [(n, rfc_mth(leaves[:n])) for n in sizes], workers, chunk)
    assert report == FastReport(28, 0, len(sizes), rfc_mth(leaves))


def test_events_not_yet_in_the_ledger_are_pending(logged: Database, app: DocMgmt) -> None:
    fill(app, "SOC", documents=2, comments=2)  # 7 events the ledger has not seen
    leaves = leaves_of(logged)
    # Chunks of 4 end at the ledger's head; of 8 and 64, one holds both kinds.
    for chunk in (4, 8, 64):
        report = run(logged, [(28, rfc_mth(leaves[:28]))], 2, chunk)
        assert report == FastReport(35, 7, 1, rfc_mth(leaves))


@pytest.mark.parametrize("chunk", [4, 64])
def test_any_difference_is_declined(logged: Database, chunk: int) -> None:
    stored = events(logged)
    leaves = leaves_of(logged)
    good = [(20, rfc_mth(leaves[:20])), (28, rfc_mth(leaves))]
    assert run(logged, good, 0, chunk) is not None
    assert run(logged, [(20, b"\x00" * 32)], 0, chunk) is None  # a wrong root
    assert run(logged, [(29, rfc_mth(leaves))], 0, chunk) is None  # more than exist
    tamper(logged, "UPDATE docmgmt.docmgmt_events SET state = overlay(state placing"
           f" '\\x21'::bytea from 5 for 1) WHERE notification_id = {stored[9][0]}")
    assert run(logged, good, 0, chunk) is None


@pytest.mark.parametrize("which", [0, 17, -1])
def test_a_deleted_event_is_declined(logged: Database, which: int) -> None:
    position = events(logged)[which][0]
    tamper(logged, f"DELETE FROM docmgmt.docmgmt_events WHERE notification_id = {position}")
    assert run(logged, [], 2, 4) is None
    problem = verify_log(logged.app.conninfo(), workers=2).problem
    assert problem is not None
    assert (problem.kind, problem.position) == ("deleted", position)


def test_verify_log_reports_the_same_with_either_pass(logged: Database) -> None:
    fast = verify_log(logged.app.conninfo(), workers=2)
    slow = verify_log(logged.app.conninfo(), fast=False)
    assert fast.ok
    assert slow.ok
    assert fast.as_dict() == slow.as_dict()
    assert fast.root == rfc_mth(leaves_of(logged))


def test_stored_tree_reads_the_ledger_in_chunks(logged: Database,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored_tree, "CHUNK", 4)
    stored = events(logged)
    leaves = leaves_of(logged)
    with psycopg.connect(logged.app.conninfo()) as conn:
        whole = stored_tree.read_tree(conn)
        first = stored_tree.read_tree(conn, 13)
        beyond = stored_tree.read_tree(conn, 100)
    assert list(whole.positions) == [row[0] for row in stored]
    assert whole.tree.root() == rfc_mth(leaves)
    assert (first.size, first.tree.root(), first.last_position) == (
        13, rfc_mth(leaves[:13]), stored[12][0])
    assert beyond.size == 28
    assert whole.index_of(stored[20][0]) == 20
    assert whole.index_of(stored[20][0] + 10_000) is None


@pytest.mark.parametrize(("workers", "chunk"), [(0, 4), (2, 4), (2, 64)])
def test_chunks_and_workers_give_the_same_pass(logged: Database, app: DocMgmt,
                                               workers: int, chunk: int) -> None:
    fill(app, "SOC", documents=1, comments=2)  # 4 events the ledger has not seen
    leaves = leaves_of(logged)
    checkpoints = [(5, rfc_mth(leaves[:5])), (28, rfc_mth(leaves[:28]))]
    assert run(logged, checkpoints, workers, chunk) == FastReport(32, 4, 2, rfc_mth(leaves))
    assert run(logged, [(28, b"\x00" * 32)], workers, chunk) is None


def test_the_pure_python_hashing_gives_the_same_pass(logged: Database,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the compiled module could not be built, the same pass runs on hashlib."""
    leaves = leaves_of(logged)
    checkpoints = [(5, rfc_mth(leaves[:5])), (28, rfc_mth(leaves))]
    compiled = run(logged, checkpoints, 0, 8)
    monkeypatch.setattr(fastverify, "leaf_hashes", bulkhash.py_leaf_hashes)
    monkeypatch.setattr(merkle, "node_level", bulkhash.py_node_level)
    assert run(logged, checkpoints, 0, 8) == compiled == FastReport(28, 0, 2, rfc_mth(leaves))
    assert run(logged, [(28, b"\x00" * 32)], 0, 8) is None


def test_a_dead_worker_connection_is_an_error_not_a_verdict(
        logged: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker whose connection fails raises psycopg's error; nothing is reported clean."""
    real = psycopg.connect
    opened: list[int] = []

    def connect(conninfo: str, **kwargs: Any) -> psycopg.Connection[Any]:
        opened.append(1)
        if len(opened) > 1:  # the workers' connections
            raise psycopg.OperationalError("connection refused (in this test)")
        return real(conninfo, **kwargs)

    monkeypatch.setattr(psycopg, "connect", connect)
    with pytest.raises(psycopg.OperationalError, match="in this test"):
        run(logged, [], 2, 4)


def test_chunks_no_worker_has_started_are_hashed_by_the_caller(
        logged: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker slow to start leaves its queued chunks to the caller's connection; the
    pass gives the same report whoever hashed what."""
    leaves = leaves_of(logged)
    checkpoints = [(13, rfc_mth(leaves[:13])), (28, rfc_mth(leaves))]
    expected = FastReport(28, 0, 2, rfc_mth(leaves))
    hashed_by: list[str] = []
    real = fastverify.hash_chunk

    def recorded(*args: Any) -> fastverify.ChunkResult | None:
        hashed_by.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(fastverify, "hash_chunk", recorded)
    real_connection = fastverify.Workers.connection

    def slow_connection(self: fastverify.Workers) -> psycopg.Connection[Any]:
        time.sleep(0.3)
        return real_connection(self)

    monkeypatch.setattr(fastverify.Workers, "connection", slow_connection)
    assert run(logged, checkpoints, 1, 4) == expected
    # 7 chunks of 4 and an empty eighth (the end); the worker could start one at most
    # before the caller took the rest.
    assert len(hashed_by) == 8
    assert hashed_by.count("MainThread") >= 7


def test_the_verifying_transactions_sort_a_chunk_in_memory(logged: Database) -> None:
    """The caller's transaction and each worker's run with the larger ``work_mem`` (at the
    default 4 MB a chunk of larger events sorted on disk), and only they do."""
    with psycopg.connect(logged.app.conninfo(), autocommit=True) as conn:
        default = conn.execute("SHOW work_mem").fetchone()
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            with fastverify.worker_pool(conn, logged.app.conninfo(), 1) as pool:
                assert pool is not None
                row = conn.execute("SELECT max(position) FROM docmgmt.ledger_leaves").fetchone()
                report = fast_verify(conn, logged.app.conninfo(), [], row[0] if row else 0,
                                     executor=pool)
                assert report is not None
                assert report.events == 28
                worker = pool.submit(lambda: pool.connection().execute(
                    "SHOW work_mem").fetchone()).result()
            assert conn.execute("SHOW work_mem").fetchone() == worker == ("128MB",)
        assert conn.execute("SHOW work_mem").fetchone() == default != ("128MB",)
