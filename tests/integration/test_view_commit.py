"""A view's batch is committed as one query (parameters bound on the client): the rows and
the tracking are exactly those of the pipelined transaction it replaces, a tracking that
does not move forward rolls the whole batch back, and a failed statement leaves nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import DataError, IntegrityError, Tracking

from docmgmt.kernel.db import Database
from docmgmt.kernel.pgtext import make_text_storable
from docmgmt.kernel.projections import ReadModelRecorder, Statement, tracking_view

pytestmark = pytest.mark.pg

# Text a view must store as PostgreSQL can hold it: quotes, a backslash, a percent sign,
# Vietnamese, a NUL and a lone surrogate (the two stand-ins of docmgmt.kernel.pgtext).
AWKWARD = "Sở Nội vụ 'Hà Nội' \\ 100% \x00 \ud800 ;-- DROP"


@pytest.fixture
def view(database: Database) -> Iterator[ReadModelRecorder]:
    recorder = tracking_view("readmodel", database.app.eventsourcing_env("docmgmt", 1))
    yield recorder
    recorder.datastore.close()


def _agency(code: str, name: str, parent: uuid.UUID | None = None) -> Statement:
    return ("INSERT INTO docmgmt.agencies_view (id, code, name, parent_id, created_at, version)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (uuid.uuid4(), code, name, parent, datetime(2026, 12, 5, 7, 30, tzinfo=UTC), 3))


def _rows(db: Database, *codes: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.owner.conninfo()) as conn:
        return conn.execute(
            "SELECT code, name, parent_id, created_at, version FROM docmgmt.agencies_view"
            " WHERE code = ANY(%s) ORDER BY code", (list(codes),)).fetchall()


def _tracked(db: Database, name: str) -> int | None:
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute("SELECT notification_id FROM docmgmt.readmodel_tracking"
                           " WHERE application_name = %s", (name,)).fetchone()
    return None if row is None else int(row[0])


def _commit(view: ReadModelRecorder, statements: list[Statement], tracking: Tracking,
            *, pipelined: bool = False) -> None:
    with view.datastore.get_connection() as conn:
        make_text_storable(conn)  # as ReadModelRecorder._commit does
        if pipelined:
            view._commit_pipelined(conn, statements, tracking)
        else:
            assert view._commit_in_one_query(conn, statements, tracking)


def test_one_query_stores_what_the_pipelined_transaction_stores(
    database: Database, view: ReadModelRecorder,
) -> None:
    parent = uuid.uuid4()
    _commit(view, [_agency("ONE-A", AWKWARD, parent), _agency("ONE-B", "Phường 1")],
            Tracking("one-query", 7))
    _commit(view, [_agency("PIP-A", AWKWARD, parent), _agency("PIP-B", "Phường 1")],
            Tracking("pipelined", 7), pipelined=True)
    one, pipelined = _rows(database, "ONE-A", "ONE-B"), _rows(database, "PIP-A", "PIP-B")
    assert len(one) == 2
    assert [row[1:] for row in one] == [row[1:] for row in pipelined]
    assert one[0][1] == "Sở Nội vụ 'Hà Nội' \\ 100% \u2400 \ufffd ;-- DROP"
    assert _tracked(database, "one-query") == _tracked(database, "pipelined") == 7


def test_a_tracking_that_does_not_move_forward_rolls_the_batch_back(
    database: Database, view: ReadModelRecorder,
) -> None:
    _commit(view, [_agency("FWD-1", "Xã 1")], Tracking("forward", 5))
    # The same position again (a second runner, or a replay): refused as the library
    # refuses it, and the batch's rows go with it.
    with pytest.raises(IntegrityError, match="forward 5"):
        _commit(view, [_agency("FWD-2", "Xã 2")], Tracking("forward", 5))
    assert [row[0] for row in _rows(database, "FWD-1", "FWD-2")] == ["FWD-1"]
    # A statement that fails: nothing of its batch stays, the tracking does not move.
    with pytest.raises(DataError, match="division by zero"):
        _commit(view, [_agency("FWD-3", "Xã 3"), ("SELECT 1 / (%s - %s)", (1, 1))],
                Tracking("forward", 6))
    assert _tracked(database, "forward") == 5
    # The (only) pooled connection was left clean: the next batch commits.
    _commit(view, [_agency("FWD-4", "Xã 4")], Tracking("forward", 6))
    assert [row[0] for row in _rows(database, "FWD-1", "FWD-2", "FWD-3", "FWD-4")] == [
        "FWD-1", "FWD-4"]
    assert _tracked(database, "forward") == 6
