"""The ledger worker and `verify`: every event hashed once; every kind of tampering named."""

from __future__ import annotations

import itertools
import uuid

import psycopg
import pytest

from alembic import command
from docmgmt.kernel import migrations
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger.leaf import event_leaf_hash
from docmgmt.ledger.state_leaf import StateEntry, state_root
from docmgmt.ledger.state_tree import AS_OF_STATE, StateTree, state_as_of, state_root_problem
from docmgmt.ledger.verify import verify_log
from docmgmt.ledger.worker import start_ledger
from tests.ledger.ledger_support import SEQ, catch_up, events, fill, tamper

pytestmark = pytest.mark.postgres

@pytest.fixture
def ledgered(database: Database, app: DocMgmt) -> Database:
    """A database with events, a gap in the notification ids, and a caught-up ledger."""
    fill(app, "SOA")
    # A rolled-back insert leaves a hole in the sequence, as a concurrent write would.
    with psycopg.connect(database.owner.conninfo()) as conn:
        conn.execute(f"SELECT nextval('{SEQ}')")
    fill(app, "SOB")
    catch_up(database, app)
    return database


def test_worker_hashes_every_event_once_and_resumes(database: Database, app: DocMgmt) -> None:
    env = database.app.eventsourcing_env("docmgmt", 2)
    with start_ledger(env) as runner:
        fill(app, "SOA")
        runner.wait(app.recorder.max_notification_id(), timeout=30)
    # Events written while the worker is down are picked up where it stopped.
    fill(app, "SOB")
    catch_up(database, app)
    stored = events(database)
    with psycopg.connect(database.owner.conninfo()) as conn:
        leaves = conn.execute("SELECT position, originator_id, originator_version, leaf_hash"
                              " FROM docmgmt.ledger_leaves ORDER BY position").fetchall()
        tracked = conn.execute("SELECT notification_id FROM docmgmt.ledger_tracking"
                               " WHERE application_name = 'docmgmt'").fetchone()
    assert len(stored) == 20
    assert leaves == [(p, a, v, event_leaf_hash(p, a, v, t, s)) for p, a, v, t, s in stored]
    assert tracked == (stored[-1][0],)


def test_the_application_cannot_rewrite_the_ledger(ledgered: Database) -> None:
    with psycopg.connect(ledgered.app.conninfo(), autocommit=True) as conn:
        for statement in ("UPDATE docmgmt.ledger_leaves SET leaf_hash = leaf_hash",
                          "DELETE FROM docmgmt.ledger_leaves",
                          "TRUNCATE docmgmt.ledger_leaves",
                          "DELETE FROM docmgmt.ledger_checkpoints"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    # Not even the owner, while the triggers are on.
    with (psycopg.connect(ledgered.owner.conninfo(), autocommit=True) as conn,
          pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only")):
        conn.execute("DELETE FROM docmgmt.ledger_leaves")


def test_untouched_log_verifies_clean(ledgered: Database, app: DocMgmt) -> None:
    report = verify_log(ledgered.app.conninfo())
    assert report.ok, report.summary()
    assert (report.events, report.leaves_matched, report.pending) == (20, 20, 0)
    # Events the worker has not reached yet are reported, not failed.
    fill(app, "SOC", documents=1, comments=0)
    report = verify_log(ledgered.app.conninfo())
    assert report.ok, report.summary()
    assert report.pending == 2
    assert "2 newest event(s) not yet in the ledger" in report.summary()


def test_an_altered_state_byte_is_named(ledgered: Database) -> None:
    position, aggregate, version, _, _ = events(ledgered)[7]
    tamper(ledgered, "UPDATE docmgmt.docmgmt_events SET state = overlay(state placing"
           f" '\\x21'::bytea from 5 for 1) WHERE notification_id = {position}")
    problem = verify_log(ledgered.app.conninfo()).problem
    assert problem is not None
    assert (problem.kind, problem.position, problem.originator_id,
            problem.originator_version) == ("altered", position, aggregate, version)


def test_an_altered_topic_is_named(ledgered: Database) -> None:
    position, aggregate, _, _, _ = events(ledgered)[3]
    tamper(ledgered, "UPDATE docmgmt.docmgmt_events SET topic = topic || 'x'"
           f" WHERE notification_id = {position}")
    problem = verify_log(ledgered.app.conninfo()).problem
    assert problem is not None
    assert (problem.kind, problem.position, problem.originator_id) == (
        "altered", position, aggregate)


def test_a_deleted_event_is_named(ledgered: Database) -> None:
    position, aggregate, version, _, _ = events(ledgered)[12]
    tamper(ledgered, f"DELETE FROM docmgmt.docmgmt_events WHERE notification_id = {position}")
    problem = verify_log(ledgered.app.conninfo()).problem
    assert problem is not None
    assert (problem.kind, problem.position, problem.originator_id,
            problem.originator_version) == ("deleted", position, aggregate, version)


def test_a_forged_event_in_a_gap_is_named(ledgered: Database) -> None:
    stored = events(ledgered)
    gap = next(a[0] + 1 for a, b in itertools.pairwise(stored) if b[0] != a[0] + 1)
    forged = uuid.uuid4()
    tamper(ledgered, "INSERT INTO docmgmt.docmgmt_events (originator_id, originator_version,"
           f" topic, state, notification_id) SELECT '{forged}', 1, topic, state, {gap}"
           f" FROM docmgmt.docmgmt_events WHERE notification_id = {stored[0][0]}")
    problem = verify_log(ledgered.app.conninfo()).problem
    assert problem is not None
    assert (problem.kind, problem.position, problem.originator_id,
            problem.originator_version) == ("inserted", gap, forged, 1)


def test_swapped_events_are_named(ledgered: Database) -> None:
    stored = events(ledgered)
    a, b = stored[4], stored[9]
    tamper(ledgered,
           f"UPDATE docmgmt.docmgmt_events SET notification_id = -1 WHERE notification_id = {a[0]}",
           f"UPDATE docmgmt.docmgmt_events SET notification_id = {a[0]}"
           f" WHERE notification_id = {b[0]}",
           f"UPDATE docmgmt.docmgmt_events SET notification_id = {b[0]} WHERE notification_id = -1")
    problem = verify_log(ledgered.app.conninfo()).problem
    assert problem is not None
    # The first position that differs now holds the later event.
    assert (problem.kind, problem.position, problem.originator_id,
            problem.originator_version) == ("reordered", a[0], b[1], b[2])
    assert str(a[1]) in problem.detail


def test_state_entries_follow_the_leaves_and_only_move_forward(ledgered: Database) -> None:
    """The worker keeps one entry per aggregate; migration 0018 rebuilds them from leaves."""
    latest = ("SELECT DISTINCT ON (originator_id) originator_id, originator_version, position"
              " FROM docmgmt.ledger_leaves ORDER BY originator_id, originator_version DESC")
    kept = ("SELECT originator_id, last_version, last_position FROM docmgmt.ledger_state"
            " ORDER BY originator_id")
    with psycopg.connect(ledgered.owner.conninfo()) as conn:
        assert conn.execute(kept).fetchall() == conn.execute(latest).fetchall()
    # A database whose leaves predate the state tree gets the same entries on upgrade.
    config = migrations.alembic_config(ledgered)
    command.downgrade(config, "0017")
    command.upgrade(config, "head")
    with psycopg.connect(ledgered.owner.conninfo()) as conn:
        rows = conn.execute(kept).fetchall()
        assert rows == conn.execute(latest).fetchall()
    aggregate, version, position = rows[0]
    # The application can neither delete an entry nor move it back.
    with psycopg.connect(ledgered.app.conninfo(), autocommit=True) as conn:
        for statement in ("DELETE FROM docmgmt.ledger_state", "TRUNCATE docmgmt.ledger_state",
                          "UPDATE docmgmt.ledger_state SET last_version = last_version - 1,"
                          " last_position = last_position - 1"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # Forward, as the worker moves it, is allowed.
        conn.execute("UPDATE docmgmt.ledger_state SET last_version = %s, last_position = %s"
                     " WHERE originator_id = %s", (version + 1, position + 1000, aggregate))


def test_the_state_pass_gives_the_definitions_state_at_every_checkpoint(
        ledgered: Database) -> None:
    """Each signed state is compared with the definition's (every aggregate's last event
    among the first N, by :func:`state_root`), whatever order the checkpoints come in, with
    checkpoints that split an aggregate's events, repeat a size or cover no event."""
    stored = events(ledgered)  # 20 events around a hole in the notification ids

    def truth(size: int) -> tuple[int, bytes]:
        last = {a: StateEntry(a, v, p) for p, a, v, _, _ in stored[:size]}
        return state_root(last.values())

    sizes = [0, 1, 3, 7, 7, 12, 19, 20]
    signed = [(n, truth(n)) for n in sizes]
    assert truth(11) != truth(12)
    with psycopg.connect(ledgered.app.conninfo()) as conn:
        assert state_root_problem(conn, signed) is None
        assert state_root_problem(conn, signed[::-1]) is None
        misstated = [(n, truth(11) if n == 12 else state) for n, state in signed]
        found = state_root_problem(conn, misstated)
        assert found is not None
        assert found[0] == 12
        assert found[1].endswith("an aggregate's last version was misstated")
        assert state_root_problem(conn, [*signed, (21, truth(20))]) == (
            21, "the checkpoint covers 21 events but only 20 exist")


def test_the_state_as_of_any_position_reads_alike_from_the_state_rows_and_the_leaves(
        ledgered: Database) -> None:
    """A bundle's state tree, read from one row per aggregate (the aggregates that moved on
    since, from their events), is the definition's at every position; given a signed state
    it does not have, it is read from the leaves."""
    stored = events(ledgered)  # 20 events around a hole; every ledger_state row at the end
    with psycopg.connect(ledgered.app.conninfo()) as conn:
        for size in range(len(stored) + 1):
            upto = stored[size - 1][0] if size else 0
            last = {a: StateEntry(a, v, p) for p, a, v, _, _ in stored[:size]}
            truth = state_root(last.values())
            rows = StateTree()
            rows.read(conn, AS_OF_STATE, upto=upto)
            assert (rows.size, rows.root()) == truth, size
            for signed in (truth, (truth[0] + 1, bytes(32))):
                tree = state_as_of(conn, upto, signed)
                assert (tree.size, tree.root(), tree.position) == (*truth, upto)
    # A state row moved on wrongly (a version that never happened, a position before the
    # end): the rows no longer give the signed state, so the leaves are read instead.
    positions = {e[0] for e in stored}
    aggregate, version, position = next((a, v, p) for p, a, v, _, _ in stored
                                        if p + 1 not in positions)
    with psycopg.connect(ledgered.owner.conninfo()) as conn:
        conn.execute("UPDATE docmgmt.ledger_state SET last_version = %s, last_position = %s"
                     " WHERE originator_id = %s", (version + 1, position + 1, aggregate))
    with psycopg.connect(ledgered.app.conninfo()) as conn:
        rows = StateTree()
        rows.read(conn, AS_OF_STATE, upto=stored[-1][0])
        tree = state_as_of(conn, stored[-1][0], truth)
    assert (rows.size, rows.root()) != truth
    assert (tree.size, tree.root()) == truth
