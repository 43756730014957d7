"""Notification ids become visible in commit order: no reader ever passes over a gap.

The read model, the ledger and the dispatch process follow the event store by notification
id and remember the last one they saw. If a later id could commit while an earlier one is
still in flight, a follower would move past the earlier event and never see it. The events
insert function (alembic 0001) takes the table lock for that reason; this test holds one
writer's insert open and shows a second writer's later id stays invisible until it commits.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory
from eventsourcing.utils import Environment

from docmgmt.kernel.db import Database

INSERT = ("SELECT docmgmt.es_insert_events_uuid(ARRAY[ROW(%s, 1, 'test.Topic', %s)"
          "::docmgmt.stored_event_uuid])")


@contextmanager
def follower(db: Database) -> Iterator[ApplicationRecorder]:
    """The event store's notification log as the projections read it (the library's
    application recorder on the same table)."""
    factory = InfrastructureFactory.construct(
        Environment("DocMgmt", db.app.eventsourcing_env("docmgmt", 1)))
    try:
        recorder = factory.application_recorder()
        assert isinstance(recorder, ApplicationRecorder)
        yield recorder
    finally:
        factory.close()


def visible(recorder: ApplicationRecorder) -> list[int]:
    """Notification ids a follower can read now, in order."""
    return [n.id for n in recorder.select_notifications(start=1, limit=100)]


def waiting_on_lock(db: Database, pid: int) -> bool:
    """Whether backend ``pid`` is blocked on a lock."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                           (pid,)).fetchone()
    return row is not None and row[0] == "Lock"


def test_a_later_id_is_never_visible_before_an_earlier_one_commits(database: Database) -> None:
    with follower(database) as recorder, \
            psycopg.connect(database.app.conninfo()) as first, \
            psycopg.connect(database.app.conninfo(), autocommit=True) as second:
        # The first writer inserts and holds its transaction open: its id is taken.
        row = first.execute(INSERT, (uuid.uuid4(), b"first")).fetchone()
        assert row is not None
        first_id = int(row[0])
        assert first_id not in visible(recorder)

        # A second writer inserts and commits on its own connection, in another thread.
        second_pid = second.info.backend_pid
        second_ids: list[int] = []

        def write_second() -> None:
            r = second.execute(INSERT, (uuid.uuid4(), b"second")).fetchone()
            assert r is not None
            second_ids.append(int(r[0]))

        thread = threading.Thread(target=write_second)
        thread.start()
        try:
            # Either it is blocked behind the first writer, or (without the lock) it has
            # already committed: wait until one of the two is true.
            deadline = time.monotonic() + 3
            while not second_ids and not waiting_on_lock(database, second_pid):
                assert time.monotonic() < deadline, "the second writer neither waits nor ends"
                time.sleep(0.02)
            # The follower reads now: it must not see the second writer's id while the
            # first, earlier one is still uncommitted.
            seen = visible(recorder)
            assert seen == [], f"ids {seen} are visible before id {first_id} committed"
            assert recorder.max_notification_id() in (None, 0)
            assert not second_ids, "the second writer committed before the first"
        finally:
            # The first writer commits; the second goes on.
            first.commit()
            thread.join(timeout=10)
        assert not thread.is_alive()

        # Both are visible now, the first writer's id before the second's.
        assert second_ids
        assert second_ids[0] > first_id
        assert visible(recorder) == [first_id, second_ids[0]]
        assert recorder.max_notification_id() == second_ids[0]
