"""The read model commits events in batches: whole batches or nothing, and prompt waits."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest
from eventsourcing.persistence import DataError, Tracking
from eventsourcing.projection import ProjectionRunner

from docmgmt.domain.access import AccessLog
from docmgmt.domain.agency import Agency
from docmgmt.domain.common import Actor, Confidentiality, DocumentType, FileRef, Role, Urgency
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.domain.user import User
from docmgmt.incoming.views import ExchangeViews
from docmgmt.kernel.db import Database
from docmgmt.kernel.projections import ReadModelRecorder, Statement
from docmgmt.kernel.store import APP_NAME, DocMgmt
from docmgmt.outgoing.views import ReadModel, start_read_model
from tests.support import outgoing as outgoing_store

REPO = Path(__file__).resolve().parents[2]
ACTOR = Actor(uuid.uuid4(), "tester", "127.0.0.1")
VIEWS = ["agencies_view", "units_view", "users_view", "documents_view", "revisions_view",
         "outputs_view", "appendices_view", "audit_scopes_view"]


def _file(n: int) -> FileRef:
    digest = uuid.uuid5(uuid.NAMESPACE_OID, str(n)).hex * 2
    return FileRef(f"sha256/{digest[:2]}/{digest[2:4]}/{digest}", digest, 10 + n, 1, "a.pdf")


def _draft(agency: Agency, n: int) -> OutgoingDocument:
    return OutgoingDocument.draft(
        agency_id=agency.id, unit_id=None, summary=f"Quyết định về việc số {n}",
        doc_type=DocumentType.CONG_VAN, urgency=Urgency.NORMAL,
        confidentiality=Confidentiality.NORMAL, legal_normative=False, file=_file(n),
        actor=ACTOR)


def fill_mix(app: DocMgmt, documents: int) -> int:
    """A mix of every kind of event the read model handles; returns the head position."""
    agency = Agency.register("BATCH", "Sở Thử nghiệm", None, ACTOR)
    unit = agency.add_unit("VP", "Văn phòng", ACTOR)
    users = [User.register(username=f"user.{k}", full_name=f"Người dùng {k}", title="",
                           agency_id=agency.id, unit_id=unit, roles=[Role.OFFICIAL],
                           actor=ACTOR) for k in range(20)]
    users[0].change_roles([Role.OFFICIAL, Role.LEADER], ACTOR)
    app.save(agency, *users)
    pending: list[Any] = []
    for n in range(documents):
        doc = _draft(agency, n)
        for c in range(n % 5):
            doc.comment(f"góp ý {c}", ACTOR)
        if n % 3 == 0:
            doc.upload_revision(_file(n + 100_000), "sửa", ACTOR)
        if n % 4 != 3:
            doc.submit_for_approval("trình", ACTOR)
            if n % 2:
                doc.approve("Đồng ý", ACTOR)
            else:
                doc.return_for_revision("Bổ sung căn cứ", ACTOR)
        pending.append(doc)
        if n % 2 == 0:
            log = AccessLog(document_id=doc.id)
            log.record(1, doc.current_revision.file.sha256, "view", ACTOR)
            pending.append(log)
        if len(pending) >= 100:
            app.save(*pending)
            pending.clear()
    if pending:
        app.save(*pending)
    return app.recorder.max_notification_id() or 0


def dump(db: Database) -> dict[str, list[Any]]:
    with psycopg.connect(db.owner.conninfo()) as conn:
        return {v: conn.execute(f"SELECT * FROM docmgmt.{v} ORDER BY 1, 2").fetchall()
                for v in VIEWS}


def tracked(db: Database) -> int:
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute("SELECT notification_id FROM docmgmt.readmodel_tracking "
                           "WHERE application_name = 'docmgmt'").fetchone()
    return int(row[0]) if row else 0


def catch_up(db: Database, head: int) -> None:
    with start_read_model(db.app.eventsourcing_env("docmgmt", 2)) as runner:
        assert runner.view.wait_for(head, 60)


def forget_views(db: Database) -> None:
    """Empty every view and the position, as an operator does to rebuild."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        for v in VIEWS:
            conn.execute(f"DELETE FROM docmgmt.{v}")
        conn.execute("DELETE FROM docmgmt.readmodel_tracking WHERE application_name = 'docmgmt'")


class _FailingRecorder(ReadModelRecorder):
    """Batches of ten, no idle flush; the event at ``fail_at`` carries a failing statement."""

    batch_size = 10
    idle_flush_seconds = 30.0
    fail_at: ClassVar[int] = 0

    def apply(self, statements: Any, tracking: Tracking) -> None:
        extra: list[Statement] = []
        if tracking.notification_id == self.fail_at:
            extra = [("SELECT 1 / (%s - %s)", (1, 1))]
        super().apply([*statements, *extra], tracking)


def test_a_failed_batch_leaves_neither_its_rows_nor_its_tracking(database: Database) -> None:
    env = database.app.eventsourcing_env("docmgmt", 2)
    app = DocMgmt(env=env)
    try:
        # One agency, then 40 drafts: every draft adds a row to documents_view.
        agency = Agency.register("FAIL", "Sở Thử", None, ACTOR)
        app.save(agency)
        drafts = {}
        for n in range(40):
            doc = _draft(agency, n)
            position = app.save(doc)[0].notification.id
            drafts[position] = doc.id
        head = app.recorder.max_notification_id()
        _FailingRecorder.fail_at = 25
        # The projection stops with the database's error when the batch holding event 25
        # is committed.
        runner = ProjectionRunner(application_class=DocMgmt, projection_class=ReadModel,
                                  view_class=_FailingRecorder, env=env)
        with runner, pytest.raises(DataError, match="division by zero"):
            runner.run_forever(timeout=30)
        assert runner.is_interrupted.is_set()
        assert isinstance(runner.view.failure, DataError)
        # Only whole batches before it were committed: the rows of the events that came
        # before event 25 in its own batch are absent, and tracking stops before them.
        position = tracked(database)
        assert 0 < position < 24
        with psycopg.connect(database.owner.conninfo()) as conn:
            shown = {r[0] for r in conn.execute("SELECT id FROM docmgmt.documents_view")}
        assert shown == {d for p, d in drafts.items() if p <= position}
        # The failed recorder refuses later events rather than skip the failed batch.
        with pytest.raises(DataError):
            runner.view.apply([], Tracking("docmgmt", head or 0))
        # A fresh runner resumes from tracking and completes the view.
        catch_up(database, head or 0)
        with psycopg.connect(database.owner.conninfo()) as conn:
            shown = {r[0] for r in conn.execute("SELECT id FROM docmgmt.documents_view")}
        assert shown == set(drafts.values())
        assert tracked(database) == head
    finally:
        app.close()


CRASHING_PROJECTION = """
import json, sys, time
from eventsourcing.projection import ProjectionRunner
from docmgmt.kernel.store import DocMgmt
from docmgmt.outgoing.views import ReadModel
from docmgmt.kernel.projections import ReadModelRecorder

ReadModelRecorder.batch_size = 50
with ProjectionRunner(application_class=DocMgmt, projection_class=ReadModel,
                      view_class=ReadModelRecorder, env=json.loads(sys.argv[1])) as runner:
    runner.run_forever()
"""


def test_a_crash_mid_catch_up_then_a_restart_gives_identical_tables(
    database: Database,
) -> None:
    env = database.app.eventsourcing_env("docmgmt", 2)
    app = DocMgmt(env=env)
    try:
        head = fill_mix(app, documents=600)
        assert head > 2000
        # The projection catches up in its own process, which is killed outright as soon
        # as it has committed something.
        proc = subprocess.Popen([sys.executable, "-c", CRASHING_PROJECTION, json.dumps(env)],
                                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            deadline = time.monotonic() + 60
            while tracked(database) == 0:
                assert proc.poll() is None, "the projection process ended early"
                assert time.monotonic() < deadline, "the projection process did not start"
                time.sleep(0.002)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        at_crash = tracked(database)
        assert 0 < at_crash < head, "the crash did not come mid-catch-up"
        # Restarted, it resumes from its tracking position...
        catch_up(database, head)
        resumed = dump(database)
        assert tracked(database) == head
        # ...and the tables equal those of a rebuild from the events in one go.
        forget_views(database)
        catch_up(database, head)
        assert dump(database) == resumed
        counts = dict(r[:2] for r in resumed["documents_view"])
        assert len(counts) == 600
    finally:
        app.close()


def _comment_and_wait(app: DocMgmt, document_id: uuid.UUID, view: ReadModelRecorder,
                      n: int) -> int:
    """``n`` comments 20 ms apart, each waited for (median wait under 50 ms); the last
    one's position."""
    waits = []
    position = 0
    for i in range(n):
        time.sleep(0.02)
        position = outgoing_store.comment(app, document_id, f"ý kiến {i}", ACTOR).position or 0
        t0 = time.monotonic()
        assert view.wait_for(position, 10)
        waits.append(time.monotonic() - t0)
    assert statistics.median(waits) < 0.05, waits
    return position


def test_wait_for_wakes_promptly_for_a_single_event_and_a_burst(database: Database) -> None:
    env = database.app.eventsourcing_env("docmgmt", 2)
    app = DocMgmt(env=env)
    try:
        agency = Agency.register("WAIT", "Sở Thử", None, ACTOR)
        doc = _draft(agency, 1)
        app.save(agency, doc)
        with start_read_model(env) as runner:
            assert runner.view.wait_for(app.recorder.max_notification_id(), 30)
            # One event at a time on an idle system.
            _comment_and_wait(app, doc.id, runner.view, 15)
            # A burst of events in one save: the last is committed by the idle flush.
            loaded = app.get_document(doc.id)
            for i in range(30):
                loaded.comment(f"loạt {i}", ACTOR)
            position = app.save(loaded)[-1].notification.id
            t0 = time.monotonic()
            assert runner.view.wait_for(position, 10)
            assert time.monotonic() - t0 < 0.5
        with psycopg.connect(database.owner.conninfo()) as conn:
            row = conn.execute("SELECT comment_count FROM docmgmt.documents_view WHERE id = %s",
                               (doc.id,)).fetchone()
        assert row == (45,)
    finally:
        app.close()


class _CountingRecorder(ReadModelRecorder):
    """Counts its commits (the last position of each) in the subclass's ``commits``."""

    commits: ClassVar[list[int]]

    def _commit(self, statements: Any, tracking: Tracking) -> None:
        super()._commit(statements, tracking)
        self.commits.append(tracking.notification_id)


class _DelayedRecorder(_CountingRecorder):
    """Commits each batch half a second after its first event."""

    commit_delay_seconds = 0.5
    commits: ClassVar[list[int]] = []


@contextlib.contextmanager
def _one_draft_followed_by(
    database: Database, code: str, projection: Any, view_class: type[ReadModelRecorder]
) -> Iterator[tuple[DocMgmt, Agency, OutgoingDocument, Any]]:
    """An agency with one draft, and ``projection`` running into ``view_class``, caught up."""
    env = database.app.eventsourcing_env("docmgmt", 2)
    app = DocMgmt(env=env)
    try:
        agency = Agency.register(code, f"Sở {code}", None, ACTOR)
        doc = _draft(agency, 1)
        app.save(agency, doc)
        runner = ProjectionRunner(application_class=DocMgmt, projection_class=projection,
                                  view_class=view_class, env=env)
        with runner:
            assert runner.view.wait_for(app.recorder.max_notification_id(), 30)
            yield app, agency, doc, runner
    finally:
        app.close()


def test_a_view_nobody_waits_for_gathers_lone_events_into_one_commit(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Events 20 ms apart (one per API write) commit together after the delay, not one by
    one, and every one of them is in the view (as the ledger's leaves are)."""
    # A failure test earlier in the run may have asked for one-by-one commits.
    monkeypatch.setattr(ReadModelRecorder, "one_at_a_time_until", {})
    with _one_draft_followed_by(database, "LATE", ReadModel, _DelayedRecorder) as (
            app, _, doc, runner):
        _DelayedRecorder.commits.clear()
        position = 0
        for i in range(8):
            time.sleep(0.02)
            position = outgoing_store.comment(app, doc.id, f"ý kiến {i}", ACTOR).position
        assert runner.view.wait_for(position, 10)
    assert len(_DelayedRecorder.commits) <= 2, _DelayedRecorder.commits
    assert _DelayedRecorder.commits[-1] == position
    with psycopg.connect(database.owner.conninfo()) as conn:
        row = conn.execute("SELECT comment_count FROM docmgmt.documents_view WHERE id = %s",
                           (doc.id,)).fetchone()
    assert row == (8,)


class _QuietRecorder(_CountingRecorder):
    """Holds batches of tracking rows only for half a second."""

    tracking_only_delay_seconds = 0.5
    commits: ClassVar[list[int]] = []


def test_events_that_change_no_row_release_waiters_before_their_tracking_commits(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exchange views change no row for a comment: waiters go at once, the tracking
    rows commit together later; an event that changes rows still commits at once, with
    the tracking rows held before it."""
    monkeypatch.setattr(ReadModelRecorder, "one_at_a_time_until", {})
    with _one_draft_followed_by(database, "QUIET", ExchangeViews, _QuietRecorder) as (
            app, agency, doc, runner):
        time.sleep(0.6)  # the tracking of the draft (no row here either) is committed
        _QuietRecorder.commits.clear()
        position = _comment_and_wait(app, doc.id, runner.view, 5)
        assert _QuietRecorder.commits == []
        deadline = time.monotonic() + 10
        while not _QuietRecorder.commits and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _QuietRecorder.commits == [position]
        # A comment (held), then a rename (rows): one commit at once, for both. The hold is
        # made far longer than the wait below, so only the "at once" rule can answer it.
        monkeypatch.setattr(_QuietRecorder, "tracking_only_delay_seconds", 60.0)
        outgoing_store.comment(app, doc.id, "ý kiến cuối", ACTOR)
        loaded = app.repository.get(agency.id)
        loaded.rename("Sở Đổi Tên", ACTOR)
        renamed = app.save(loaded)[-1].notification.id
        assert runner.view.wait_for(renamed, 10)
        assert _QuietRecorder.commits == [position, renamed]
    with psycopg.connect(database.owner.conninfo()) as conn:
        row = conn.execute("SELECT notification_id FROM docmgmt.exchange_tracking"
                           " WHERE application_name = %s", (APP_NAME,)).fetchone()
    assert row == (renamed,)
