"""The projections of one process read the event log once, through the shared log."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from docmgmt.compat.eventsourcing import runner_parts
from docmgmt.domain.agency import Agency
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.incoming.views import start_exchange_views
from docmgmt.kernel import shared_log as shared_log_module
from docmgmt.kernel.db import Database
from docmgmt.kernel.shared_log import (
    PASSED_TOPIC,
    handled_by,
    pass_unhandled,
    shared_log,
    through_shared_log,
)
from docmgmt.kernel.store import DocMgmt
from docmgmt.outgoing.views import start_read_model
from tests.integration.test_projection_batching import ACTOR, _draft


def _comment_count(db: Database, document_id: uuid.UUID) -> int | None:
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute("SELECT comment_count FROM docmgmt.documents_view WHERE id = %s",
                           (document_id,)).fetchone()
    return None if row is None else int(row[0])


@pytest.fixture
def app(database: Database) -> Iterator[DocMgmt]:
    application = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    yield application
    application.close()


def _saved_draft(app: DocMgmt, code: str, name: str) -> tuple[Agency, OutgoingDocument]:
    """A new agency and one draft of it, saved."""
    agency = Agency.register(code, name, None, ACTOR)
    document = _draft(agency, 1)
    app.save(agency, document)
    return agency, document


def _comment(app: DocMgmt, document_id: uuid.UUID, n: int) -> int:
    document = app.get_document(document_id)
    for i in range(n):
        document.comment(f"góp ý {i}", ACTOR)
    return app.save(document)[-1].notification.id


def test_members_at_different_positions_each_get_every_event_once(
    database: Database, app: DocMgmt,
) -> None:
    agency = Agency.register("SHARE", "Sở Chia sẻ", None, ACTOR)
    first, second = _draft(agency, 1), _draft(agency, 2)
    app.save(agency, first, second)
    env = database.app.eventsourcing_env("docmgmt", 2)
    shared = through_shared_log(env)
    with shared_log(env) as log, start_read_model(shared) as read_model:
        head = _comment(app, first.id, 40)
        assert read_model.view.wait_for(head, 30)
        assert log.members == 1
        # The exchange views join from the start of the log while the read model is at the
        # head: the reader catches the newcomer up and gives the read model only new events.
        with start_exchange_views(shared) as exchange:
            assert log.members == 2
            head = _comment(app, second.id, 7)
            assert read_model.view.wait_for(head, 30)
            assert exchange.view.wait_for(head, 30)
            # A duplicate delivery would have broken the tracking's unique position and
            # stopped the runner; a lost one would leave the count short.
            assert not read_model.is_interrupted.is_set()
            assert not exchange.is_interrupted.is_set()
        assert log.members == 1
        head = _comment(app, first.id, 3)
        assert read_model.view.wait_for(head, 30)
    assert _comment_count(database, first.id) == 43
    assert _comment_count(database, second.id) == 7


def test_a_member_left_behind_never_holds_back_the_others(
    database: Database, app: DocMgmt, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A member that takes nothing (a stuck or rebuilding projection) fills its queue and
    is left behind; the read model at the head still gets every new event at once, and the
    member, once it reads again, catches up with every event exactly once, in order."""
    monkeypatch.setattr(shared_log_module, "SELECT_LIMIT", 5)
    monkeypatch.setattr(shared_log_module, "MAX_BATCHES", 2)
    _, document = _saved_draft(app, "SLOW", "Sở Chậm")
    env = database.app.eventsourcing_env("docmgmt", 2)
    with shared_log(env) as log, start_read_model(through_shared_log(env)) as read_model:
        stuck = log.subscribe(app.recorder, None, ())
        try:
            head = _comment(app, document.id, 40)
            assert read_model.view.wait_for(head, 10)
            deadline = time.monotonic() + 10
            while not stuck.behind and time.monotonic() < deadline:
                time.sleep(0.01)
            assert stuck.behind
            assert stuck.position < head
            head = _comment(app, document.id, 1)
            t0 = time.monotonic()
            assert read_model.view.wait_for(head, 10)
            assert time.monotonic() - t0 < 2
            # The stuck member reads again: everything, once, in order.
            got = [next(stuck).id for _ in range(head)]
            assert got == list(range(1, head + 1))
        finally:
            stuck.stop()
    assert _comment_count(database, document.id) == 41


def test_a_full_member_at_the_head_is_not_read_for_in_a_loop(
    database: Database, app: DocMgmt, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The only member, its queue full, more events waiting: the reader waits for it to
    take its batches instead of reading the same stretch again and again."""
    monkeypatch.setattr(shared_log_module, "SELECT_LIMIT", 5)
    monkeypatch.setattr(shared_log_module, "MAX_BATCHES", 2)
    _, document = _saved_draft(app, "FULL", "Sở Đầy")
    head = _comment(app, document.id, 40)
    env = database.app.eventsourcing_env("docmgmt", 2)
    with shared_log(env) as log:
        member = log.subscribe(app.recorder, None, ())
        try:
            deadline = time.monotonic() + 10
            while not member.behind and time.monotonic() < deadline:
                time.sleep(0.01)
            assert member.behind
            before = log.reads
            time.sleep(0.5)
            assert log.reads - before <= 2
            assert [next(member).id for _ in range(head)] == list(range(1, head + 1))
        finally:
            member.stop()


def test_a_member_of_some_topics_gets_only_those_and_moves_past_the_rest(
    database: Database, app: DocMgmt,
) -> None:
    _, document = _saved_draft(app, "TOPIC", "Sở Chủ đề")
    _comment(app, document.id, 5)
    wanted = [n for n in app.recorder.select_notifications(start=0, limit=100)
              if "Commented" in n.topic]
    assert len(wanted) == 5
    env = database.app.eventsourcing_env("docmgmt", 2)
    with shared_log(env) as log:
        member = log.subscribe(app.recorder, None, [wanted[0].topic])
        try:
            got = [next(member).id for _ in range(5)]
            assert got == [n.id for n in wanted]
            # Events of other topics after the last wanted one: the member's position still
            # moves to the head, so a later read starts there, not at its last event.
            other = Agency.register("TOPIC2", "Sở Khác", None, ACTOR)
            position = app.save(other)[-1].notification.id
            deadline = time.monotonic() + 10
            while member.position < position and time.monotonic() < deadline:
                time.sleep(0.01)
            assert member.position == position
        finally:
            member.stop()
        assert log.members == 0
        with pytest.raises(StopIteration):
            next(member)


class LateDrafted(OutgoingDocument.Drafted):
    """A subclass of a handled event: dispatched to its base's handler, so handled too."""


def test_a_projection_is_handed_only_the_events_it_handles(
    database: Database, app: DocMgmt,
) -> None:
    """The exchange views handle a draft but not a comment: with ``pass_unhandled`` the
    comments reach the runner as one ``Passed`` marker per stretch, never decoded, and the
    views' tracking (which answers wait on) still moves to the last comment."""
    agency, document = _saved_draft(app, "PASS", "Sở Bỏ qua")
    env = database.app.eventsourcing_env("docmgmt", 2)
    with shared_log(env), start_exchange_views(through_shared_log(env)) as exchange:
        subscription, projection = runner_parts(exchange)
        decoded: list[str] = []  # what the application's mapper decodes
        handed: list[str] = []  # what the runner is handed

        class Counting:
            def __init__(self, mapper: Any, seen: list[str]) -> None:
                self.mapper, self.seen = mapper, seen

            def to_domain_event(self, notification: Notification) -> Any:
                self.seen.append(notification.topic)
                return self.mapper.to_domain_event(notification)

        subscription.mapper = Counting(subscription.mapper, decoded)
        pass_unhandled(exchange)
        subscription.mapper = Counting(subscription.mapper, handed)
        assert exchange.view.wait_for(app.recorder.max_notification_id(), 30)
        decoded.clear()
        handed.clear()

        head = _comment(app, document.id, 6)
        assert exchange.view.wait_for(head, 30)
        # One marker in place of the six comments; none of them decoded.
        assert handed == [PASSED_TOPIC]
        assert decoded == []

        second = _draft(agency, 2)
        _comment(app, document.id, 2)
        head = app.save(second)[-1].notification.id
        assert exchange.view.wait_for(head, 30)
        drafted = get_topic(OutgoingDocument.Drafted)
        assert decoded == [drafted]
        assert handed[1:] in ([drafted], [PASSED_TOPIC, drafted])  # one read, or two

        # What the projection handles, as its dispatch decides it.
        handles = handled_by(projection)
        assert handles(get_topic(OutgoingDocument.Drafted))
        assert handles(get_topic(LateDrafted))
        assert not handles(get_topic(OutgoingDocument.Commented))
        assert handles("no.such.module:Event")  # left to the runner, which fails on it
        assert not exchange.is_interrupted.is_set()

    # The marker's position was committed as the views' tracking, like any event's.
    exchange.view.flush()
    with psycopg.connect(database.owner.conninfo()) as conn:
        row = conn.execute("SELECT max(notification_id) FROM docmgmt.exchange_tracking"
                           ).fetchone()
    assert row is not None
    assert row[0] == head


def test_the_reader_reads_what_the_library_reads(database: Database, app: DocMgmt) -> None:
    """The reader's own query returns, for every stretch, exactly the library's
    ``select_notifications``; a read whose connection was killed is tried again."""
    _, document = _saved_draft(app, "READ", "Sở Đọc")
    head = _comment(app, document.id, 30)
    env = database.app.eventsourcing_env("docmgmt", 2)
    with shared_log(env) as log:
        for after, stop in ((0, None), (3, None), (3, 10), (head - 2, None), (head, None),
                            (5, 5)):
            mine = log._select(after, stop)
            theirs = app.recorder.select_notifications(
                start=after, limit=shared_log_module.SELECT_LIMIT, stop=stop,
                inclusive_of_start=False)
            assert mine == theirs
        assert len(log._select(0)) == head
        connection = log._conn
        assert connection is not None
        with psycopg.connect(database.owner.conninfo(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (connection.info.backend_pid,))
        assert [n.id for n in log._select(head - 1)] == [head]
        assert log._conn is not connection
